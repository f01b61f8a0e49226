# frozen_string_literal: true

require "ffi"

module Ocireg
  # The raw C ABI of libocireg (include/ocireg.h), one `attach_function` per exported function.
  #
  # Every function that may touch the network, the disk, a credential helper or a thread join is
  # attached with `blocking: true`, so that ruby-ffi releases the GVL during the call and other
  # Ruby threads keep running. Cheap accessors and setters keep the GVL (which also serialises
  # them against other Ruby threads).
  #
  # Owned `char *` and `uint8_t *` results are read through `:pointer` out-parameters and freed
  # with ocireg_string_free() / ocireg_bytes_free(); borrowed `const char *` results are declared
  # `:pointer` too and copied with Native.borrowed_string. The high-level API (Ocireg::Client and
  # friends) is the intended interface; this module is public for completeness.
  module Native
    extend FFI::Library

    # The OCIREG_ABI_VERSION this binding was written for.
    ABI_VERSION = 2

    LIB_NAME = "libocireg.#{FFI::Platform::LIBSUFFIX}"

    # Where the shared library is looked for, in order: $OCIREG_LIB; the library `gem install`
    # compiled and put next to this file (lib/ocireg/libocireg.so), or into the gem's extension
    # directory (found through $LOAD_PATH); then, for work in a source checkout, the
    # repository's target/debug and target/release (bindings/ruby/lib/ocireg -> repository
    # root), built with `cargo rustc --lib --crate-type cdylib --features capi,test-server`.
    def self.candidate_paths
      here = File.expand_path(__dir__)
      root = File.expand_path("../../../..", here)
      paths = []
      env = ENV["OCIREG_LIB"]
      paths << env if env && !env.empty?
      paths << File.join(here, LIB_NAME)
      $LOAD_PATH.each { |dir| paths << File.join(File.expand_path(dir.to_s), "ocireg", LIB_NAME) }
      paths << File.join(root, "target", "debug", LIB_NAME)
      paths << File.join(root, "target", "release", LIB_NAME)
      paths.uniq
    end

    def self.locate_library
      env = ENV["OCIREG_LIB"]
      if env && !env.empty?
        # An explicit choice is never silently replaced by another library.
        return env if File.file?(env)

        raise LoadError, "ocireg: OCIREG_LIB=#{env} does not exist"
      end
      candidates = candidate_paths
      found = candidates.find { |p| File.file?(p) }
      return found if found

      raise LoadError, "ocireg: #{LIB_NAME} not found: install the gem (gem build ocireg.gemspec && " \
                       "gem install ocireg-#{VERSION}.gem compiles it), or set OCIREG_LIB to a library " \
                       "built with `cargo rustc --lib --crate-type cdylib --features capi,test-server`. " \
                       "Looked in: #{candidates.join(', ')}"
    end

    LIBRARY_PATH = locate_library
    ffi_lib LIBRARY_PATH

    typedef :int, :ocireg_status
    typedef :pointer, :handle

    # ptrdiff_t (*ocireg_read_fn)(void *userdata, uint8_t *buf, size_t cap)
    callback :ocireg_read_fn, %i[pointer pointer size_t], :ssize_t
    # int (*ocireg_write_fn)(void *userdata, const uint8_t *buf, size_t len)
    callback :ocireg_write_fn, %i[pointer pointer size_t], :int
    # int (*ocireg_progress_fn)(void *userdata, const char *digest, uint64_t done, uint64_t total,
    #                           uint32_t event)
    callback :ocireg_progress_fn, %i[pointer string uint64 uint64 uint32], :int
    # void (*ocireg_retry_fn)(void *userdata, const char *method, const char *path,
    #                         uint32_t attempt, uint16_t status, const char *reason, uint64_t delay_ms)
    callback :ocireg_retry_fn, %i[pointer string string uint32 uint16 string uint64], :void

    # attach_function with the GVL released during the call.
    def self.attach_blocking(name, args, ret)
      attach_function(name, args, ret, blocking: true)
    end
    private_class_method :attach_blocking

    # --- version, errors, strings, bytes, lists ---------------------------------------------
    attach_function :ocireg_abi_version, [], :uint32
    attach_function :ocireg_version, [], :pointer
    attach_function :ocireg_error_status, [:handle], :ocireg_status
    attach_function :ocireg_error_message, [:handle], :pointer
    attach_function :ocireg_error_http_status, [:handle], :uint16
    attach_function :ocireg_error_registry_code, [:handle], :pointer
    attach_function :ocireg_error_retry_after_secs, [:handle], :int64
    attach_function :ocireg_error_registry_error_count, [:handle], :size_t
    attach_function :ocireg_error_registry_error_code, %i[handle size_t], :pointer
    attach_function :ocireg_error_registry_error_message, %i[handle size_t], :pointer
    attach_function :ocireg_error_registry_error_detail, %i[handle size_t], :pointer
    attach_function :ocireg_error_body, [:handle], :pointer
    attach_function :ocireg_error_free, [:handle], :void
    attach_function :ocireg_status_name, [:uint32], :pointer
    attach_function :ocireg_string_free, [:pointer], :void
    attach_function :ocireg_bytes_free, %i[pointer size_t], :void
    attach_function :ocireg_string_list_len, [:handle], :size_t
    attach_function :ocireg_string_list_get, %i[handle size_t], :pointer
    attach_function :ocireg_string_list_free, [:handle], :void

    # --- client options ------------------------------------------------------------------------
    attach_function :ocireg_options_new, %i[pointer pointer], :ocireg_status
    attach_function :ocireg_options_free, [:handle], :void
    attach_function :ocireg_options_set_username_password, %i[handle string string pointer], :ocireg_status
    attach_function :ocireg_options_set_identity_token, %i[handle string pointer], :ocireg_status
    attach_function :ocireg_options_set_bearer_token, %i[handle string pointer], :ocireg_status
    attach_function :ocireg_options_set_anonymous, %i[handle pointer], :ocireg_status
    attach_function :ocireg_options_set_docker_config, %i[handle string pointer], :ocireg_status
    attach_function :ocireg_options_set_user_agent, %i[handle string pointer], :ocireg_status
    attach_function :ocireg_options_set_timeout_ms, %i[handle uint32 uint64 pointer], :ocireg_status
    attach_function :ocireg_options_set_ca_cert_pem, %i[handle pointer size_t pointer], :ocireg_status
    attach_function :ocireg_options_set_client_cert_pem,
                    %i[handle pointer size_t pointer size_t pointer], :ocireg_status
    attach_function :ocireg_options_set_insecure, %i[handle int pointer], :ocireg_status
    attach_function :ocireg_options_set_proxy, %i[handle string pointer], :ocireg_status
    attach_function :ocireg_options_set_proxy_from_env, %i[handle int pointer], :ocireg_status
    attach_function :ocireg_options_set_max_retries, %i[handle uint32 pointer], :ocireg_status
    attach_function :ocireg_options_set_low_speed_limit, %i[handle uint64 uint64 pointer], :ocireg_status
    attach_function :ocireg_options_set_backoff, %i[handle uint64 double uint64 uint64 double pointer],
                    :ocireg_status
    attach_function :ocireg_options_set_retry_notify, %i[handle ocireg_retry_fn pointer pointer], :ocireg_status
    attach_function :ocireg_options_set_cancel, %i[handle pointer pointer], :ocireg_status

    # --- client --------------------------------------------------------------------------------
    # Resolves credentials (may run a credential helper program): blocking.
    attach_blocking :ocireg_client_new, %i[string handle pointer pointer], :ocireg_status
    attach_blocking :ocireg_client_free, [:handle], :void
    attach_function :ocireg_client_registry, [:handle], :pointer
    attach_function :ocireg_client_base_url, [:handle], :pointer
    attach_function :ocireg_client_credential_source, [:handle], :pointer
    attach_function :ocireg_client_request_count, [:handle], :uint64
    attach_blocking :ocireg_ping, %i[handle pointer], :ocireg_status
    attach_blocking :ocireg_tags, %i[handle string pointer pointer], :ocireg_status
    attach_blocking :ocireg_catalog, %i[handle pointer pointer], :ocireg_status
    attach_blocking :ocireg_search, %i[handle string pointer pointer], :ocireg_status
    attach_blocking :ocireg_tags_page, %i[handle string uint32 string pointer pointer pointer], :ocireg_status
    attach_blocking :ocireg_catalog_page, %i[handle uint32 string pointer pointer pointer], :ocireg_status

    # --- cancellation, bound clients, streamed blob reads --------------------------------------
    attach_function :ocireg_cancel_new, %i[pointer pointer], :ocireg_status
    attach_function :ocireg_cancel_trigger, [:handle], :void
    attach_function :ocireg_cancel_is_triggered, [:handle], :int32
    attach_function :ocireg_cancel_free, [:handle], :void
    attach_function :ocireg_client_bind, %i[handle handle uint64 pointer pointer], :ocireg_status
    attach_blocking :ocireg_blob_reader_open, %i[handle string string handle pointer pointer], :ocireg_status
    attach_blocking :ocireg_blob_reader_read, %i[handle pointer size_t pointer pointer], :ocireg_status
    attach_function :ocireg_blob_reader_size, [:handle], :uint64
    # Closes a connection: blocking.
    attach_blocking :ocireg_blob_reader_free, [:handle], :void

    # --- manifests -----------------------------------------------------------------------------
    attach_blocking :ocireg_manifest_get,
                    %i[handle string string pointer pointer pointer pointer pointer], :ocireg_status
    attach_blocking :ocireg_manifest_digest, %i[handle string string pointer pointer], :ocireg_status
    attach_blocking :ocireg_manifest_put,
                    %i[handle string string string pointer size_t pointer pointer], :ocireg_status
    attach_blocking :ocireg_manifest_delete, %i[handle string string pointer], :ocireg_status

    # --- blobs ---------------------------------------------------------------------------------
    attach_blocking :ocireg_blob_exists, %i[handle string string pointer pointer pointer], :ocireg_status
    attach_blocking :ocireg_blob_push_bytes, %i[handle string pointer size_t pointer pointer], :ocireg_status
    attach_blocking :ocireg_blob_push_file, %i[handle string string pointer pointer], :ocireg_status
    attach_blocking :ocireg_blob_push_stream,
                    %i[handle string ocireg_read_fn pointer uint64 string pointer pointer], :ocireg_status
    attach_blocking :ocireg_blob_mount, %i[handle string string string pointer pointer], :ocireg_status
    attach_blocking :ocireg_blob_delete, %i[handle string string pointer], :ocireg_status
    attach_blocking :ocireg_blob_pull,
                    %i[handle string string ocireg_write_fn pointer pointer pointer], :ocireg_status
    attach_blocking :ocireg_blob_pull_to_path, %i[handle string string string pointer pointer], :ocireg_status
    attach_blocking :ocireg_blob_pull_bytes, %i[handle string string pointer pointer pointer], :ocireg_status

    # --- images --------------------------------------------------------------------------------
    attach_blocking :ocireg_image_from_layout, %i[string string pointer pointer], :ocireg_status
    attach_function :ocireg_image_digest, [:handle], :pointer
    attach_function :ocireg_image_media_type, [:handle], :pointer
    attach_function :ocireg_image_manifest, %i[handle pointer], :pointer
    attach_function :ocireg_image_free, [:handle], :void
    attach_function :ocireg_image_builder_new, %i[pointer pointer], :ocireg_status
    attach_function :ocireg_image_builder_set_config, %i[handle pointer size_t string pointer], :ocireg_status
    attach_function :ocireg_image_builder_add_layer_bytes,
                    %i[handle pointer size_t string pointer], :ocireg_status
    attach_blocking :ocireg_image_builder_add_layer_file, %i[handle string string pointer], :ocireg_status
    attach_function :ocireg_image_builder_add_annotation, %i[handle string string pointer], :ocireg_status
    attach_function :ocireg_image_builder_set_artifact_type, %i[handle string pointer], :ocireg_status
    attach_function :ocireg_image_builder_set_docker_schema2, %i[handle int pointer], :ocireg_status
    # Hashes layer files: blocking.
    attach_blocking :ocireg_image_builder_build, %i[handle pointer pointer], :ocireg_status
    attach_function :ocireg_image_builder_free, [:handle], :void

    # --- push ----------------------------------------------------------------------------------
    attach_function :ocireg_push_options_new, %i[pointer pointer], :ocireg_status
    attach_function :ocireg_push_options_set_threads, %i[handle uint32 pointer], :ocireg_status
    attach_function :ocireg_push_options_set_chunked, %i[handle uint64 pointer], :ocireg_status
    attach_function :ocireg_push_options_set_mount_from, %i[handle string pointer], :ocireg_status
    attach_function :ocireg_push_options_set_skip_existing, %i[handle int pointer], :ocireg_status
    attach_function :ocireg_push_options_free, [:handle], :void
    attach_blocking :ocireg_push_image,
                    %i[handle string string handle handle ocireg_progress_fn pointer pointer pointer],
                    :ocireg_status
    attach_blocking :ocireg_push_layout,
                    %i[handle string string string handle ocireg_progress_fn pointer pointer pointer],
                    :ocireg_status
    attach_function :ocireg_pushed_from_image, %i[handle string string pointer pointer], :ocireg_status
    attach_function :ocireg_pushed_digest, [:handle], :pointer
    attach_function :ocireg_pushed_media_type, [:handle], :pointer
    attach_function :ocireg_pushed_reference, [:handle], :pointer
    attach_function :ocireg_pushed_size, [:handle], :uint64
    attach_function :ocireg_pushed_to_json, %i[handle pointer pointer], :ocireg_status
    attach_function :ocireg_pushed_free, [:handle], :void

    # --- verify --------------------------------------------------------------------------------
    attach_blocking :ocireg_verify, %i[handle string handle pointer pointer], :ocireg_status
    attach_function :ocireg_verify_report_outcome, [:handle], :uint32
    attach_function :ocireg_verify_report_to_json, %i[handle pointer pointer], :ocireg_status
    attach_function :ocireg_verify_report_to_text, %i[handle pointer pointer], :ocireg_status
    attach_function :ocireg_verify_report_free, [:handle], :void

    # --- pull ----------------------------------------------------------------------------------
    attach_blocking :ocireg_pull_image,
                    %i[handle string string string string uint32 ocireg_progress_fn pointer pointer pointer],
                    :ocireg_status
    attach_function :ocireg_pulled_digest, [:handle], :pointer
    attach_function :ocireg_pulled_media_type, [:handle], :pointer
    attach_function :ocireg_pulled_path, [:handle], :pointer
    attach_function :ocireg_pulled_size, [:handle], :uint64
    attach_function :ocireg_pulled_to_json, %i[handle pointer pointer], :ocireg_status
    attach_function :ocireg_pulled_to_pushed, %i[handle pointer pointer], :ocireg_status
    attach_function :ocireg_pulled_free, [:handle], :void

    # --- registry operations -------------------------------------------------------------------
    attach_blocking :ocireg_copy,
                    %i[handle string string handle string string uint32 string ocireg_progress_fn pointer pointer
                       pointer], :ocireg_status
    attach_blocking :ocireg_retag, %i[handle string string string string pointer pointer], :ocireg_status
    attach_blocking :ocireg_delete_tag, %i[handle string string int32 int32 pointer pointer], :ocireg_status
    attach_blocking :ocireg_platform_descriptor, %i[handle string string string pointer pointer], :ocireg_status
    attach_blocking :ocireg_tags_with_digests, %i[handle string pointer pointer], :ocireg_status
    attach_function :ocireg_manifest_sizes, %i[pointer size_t string pointer pointer pointer], :ocireg_status
    attach_blocking :ocireg_pull_layers,
                    %i[handle string string string string uint32 ocireg_progress_fn pointer pointer pointer],
                    :ocireg_status

    # --- credentials ---------------------------------------------------------------------------
    attach_blocking :ocireg_login, %i[string string string string handle pointer pointer], :ocireg_status
    attach_blocking :ocireg_logout, %i[string string pointer pointer], :ocireg_status

    # --- test registry (built with the `test-server` feature; `gem install` builds it so) -------
    # A library built without it still loads; Ocireg::Testing then raises UnsupportedError.
    TEST_FUNCTIONS = [
      [:ocireg_test_registry_start, %i[uint32 string pointer pointer], :ocireg_status, true],
      [:ocireg_test_registry_url, [:handle], :pointer, false],
      [:ocireg_test_registry_host, [:handle], :pointer, false],
      [:ocireg_test_registry_request_count, [:handle], :uint64, false],
      [:ocireg_test_registry_add_blob, %i[handle string pointer size_t pointer pointer], :ocireg_status, true],
      [:ocireg_test_registry_add_manifest, %i[handle string string string pointer size_t pointer pointer],
       :ocireg_status, true],
      [:ocireg_test_registry_add_image, %i[handle string string pointer size_t pointer pointer size_t pointer pointer],
       :ocireg_status, true],
      [:ocireg_test_registry_delete_blob, %i[handle string string pointer pointer], :ocireg_status, true],
      [:ocireg_test_registry_fail_next, %i[handle uint32 uint16 int64 pointer], :ocireg_status, true],
      [:ocireg_test_registry_set_delay_ms, %i[handle uint64 pointer], :ocireg_status, true],
      [:ocireg_test_registry_drop_next, %i[handle uint32 pointer], :ocireg_status, true],
      [:ocireg_test_registry_redirect_blobs, %i[handle int pointer], :ocireg_status, true],
      [:ocireg_test_registry_set_hostile, %i[handle string pointer], :ocireg_status, true],
      [:ocireg_test_registry_requests_json, %i[handle pointer pointer], :ocireg_status, true],
      [:ocireg_test_registry_clear_requests, %i[handle pointer], :ocireg_status, true],
      [:ocireg_test_registry_stop, %i[handle pointer], :ocireg_status, true],
      [:ocireg_test_registry_free, [:handle], :void, true],
      [:ocireg_test_panic, %i[string pointer], :ocireg_status, false]
    ].freeze

    missing_test_functions = []
    TEST_FUNCTIONS.each do |name, args, ret, blocking|
      attach_function(name, args, ret, blocking: blocking)
    rescue FFI::NotFoundError
      missing_test_functions << name
    end
    # The test-server functions the loaded library lacks (empty for a default build).
    MISSING_TEST_FUNCTIONS = missing_test_functions.freeze

    # --- helpers shared by the high-level classes ----------------------------------------------

    # A borrowed `const char *` as a UTF-8 Ruby String (nil for NULL). The library keeps the
    # memory; nothing is freed.
    def self.borrowed_string(ptr)
      return nil if ptr.nil? || ptr.null?

      ptr.read_string.force_encoding(Encoding::UTF_8)
    end

    # Reads the owned `char *` stored in the out-parameter `out` (a MemoryPointer to a pointer),
    # frees it with ocireg_string_free(), and returns it as a UTF-8 String (nil for NULL).
    def self.take_string(out)
      ptr = out.read_pointer
      return nil if ptr.null?

      begin
        ptr.read_string.force_encoding(Encoding::UTF_8)
      ensure
        ocireg_string_free(ptr)
      end
    end

    # Reads the owned `uint8_t *` / `size_t` pair from two out-parameters, frees it with
    # ocireg_bytes_free(), and returns a binary String.
    def self.take_bytes(out_ptr, out_len)
      ptr = out_ptr.read_pointer
      len = out_len.read(:size_t)
      return "".b if ptr.null?

      begin
        ptr.read_bytes(len)
      ensure
        ocireg_bytes_free(ptr, len)
      end
    end

    # Copies an owned `ocireg_string_list *` (read from the out-parameter `out`) into an Array
    # of UTF-8 Strings, then frees the list.
    def self.take_string_list(out)
      list = out.read_pointer
      begin
        Array.new(ocireg_string_list_len(list)) do |i|
          borrowed_string(ocireg_string_list_get(list, i))
        end
      ensure
        ocireg_string_list_free(list)
      end
    end

    # JSON.parse(text). The json library is loaded on first use, not by `require "ocireg"`:
    # loading it (with the ostruct it pulls in) took about 4.5 ms, a sixth of the load time.
    def self.parse_json(text)
      require "json"
      JSON.parse(text)
    end

    # A `const uint8_t *` / `size_t` pair for a Ruby String: a private copy (so the GC can
    # never move the bytes while the GVL is released), or NULL / 0 for an empty or nil String.
    def self.buffer(data)
      return [nil, 0] if data.nil?

      bytes = String(data).b
      return [nil, 0] if bytes.empty?

      mem = FFI::MemoryPointer.new(:uint8, bytes.bytesize)
      mem.put_bytes(0, bytes)
      [mem, bytes.bytesize]
    end

    # A C string argument: nil stays nil (NULL), Pathname-likes become their path, Symbols their
    # name, everything else must convert with to_str. (A NUL byte inside raises ArgumentError;
    # invalid UTF-8 is passed on, and the library answers OCIREG_INVALID_ARGUMENT.)
    def self.cstr(value)
      return nil if value.nil?

      str = if value.is_a?(String) then value
            elsif value.respond_to?(:to_path) then value.to_path
            elsif value.is_a?(Symbol) then value.to_s
            else value.to_str
            end
      # Text in another encoding (UTF-16, Latin-1 ...) is converted to UTF-8; binary and UTF-8
      # strings go as they are.
      unless [Encoding::UTF_8, Encoding::US_ASCII, Encoding::BINARY].include?(str.encoding)
        str = str.encode(Encoding::UTF_8)
      end
      # A private copy unless frozen: another Ruby thread must not be able to mutate (and so
      # reallocate) the bytes while a blocking call reads them without the GVL.
      str.frozen? ? str : str.dup.freeze
    end

    actual_abi = ocireg_abi_version
    if actual_abi != ABI_VERSION
      raise LoadError, "ocireg: #{LIBRARY_PATH} has ABI version #{actual_abi}, but this binding " \
                       "was written for ABI version #{ABI_VERSION}"
    end
  end
end
