# frozen_string_literal: true

require "fiddle"

module Ocireg
  # The raw C ABI of libocireg (include/ocireg.h) through Fiddle, Ruby's standard library: one
  # singleton method per exported function, with the same name and arguments as in the header.
  # Each is declared in SIGNATURES and its Fiddle::Function is made the first time it is called
  # (so that `require "ocireg"` does not pay for all 141).
  #
  # Argument and return types:
  # * handles, buffers, out-parameters (`T **`, `size_t *` ...) and callbacks are Fiddle::Pointer
  #   arguments (nil is NULL; a Fiddle::Closure or a String is accepted too), and `T *` results
  #   are Fiddle::Pointer (#null? for NULL);
  # * `const char *` arguments are Strings or nil (NULL); a String with a NUL byte raises
  #   ArgumentError;
  # * numbers (`ocireg_status`, `size_t`, `uint64_t`, `double` ...) are Integers / Floats.
  #
  # Every function that may touch the network, the disk, a credential helper or a thread join is
  # marked `blocking` in SIGNATURES: Fiddle releases the GVL during the call, so that other Ruby threads keep
  # running (a callback reacquires it while it runs). Cheap accessors and setters keep the GVL
  # (`need_gvl: true`, which also serialises them against other Ruby threads).
  #
  # Owned `char *` and `uint8_t *` results are read through pointer out-parameters and freed
  # with ocireg_string_free() / ocireg_bytes_free(); borrowed `const char *` results are
  # Fiddle::Pointer too and copied with Native.borrowed_string. The high-level API
  # (Ocireg::Client and friends) is the intended interface; this module is public for
  # completeness.
  module Native
    # The OCIREG_ABI_VERSION this binding was written for.
    ABI_VERSION = 2

    LIB_NAME = "libocireg.#{RbConfig::CONFIG['SOEXT'] || 'so'}"

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
    # The loaded library (RTLD_LAZY, local symbols). Kept for the life of the process.
    LIBRARY = begin
      Fiddle::Handle.new(LIBRARY_PATH, Fiddle::RTLD_LAZY)
    rescue Fiddle::DLError => e
      raise LoadError, "ocireg: cannot load #{LIBRARY_PATH}: #{e.message}"
    end

    # The C types of the signatures below, as Fiddle's types (a negative type is the unsigned one).
    TYPES = {
      "void" => Fiddle::TYPE_VOID,
      "ptr" => Fiddle::TYPE_VOIDP, # any pointer: a handle, a buffer, an out-parameter, a callback
      "str" => Fiddle::TYPE_CONST_STRING, # a `const char *` argument: a String or nil
      "status" => Fiddle::TYPE_INT, # ocireg_status
      "int" => Fiddle::TYPE_INT,
      "i32" => Fiddle::TYPE_INT32_T,
      "i64" => Fiddle::TYPE_INT64_T,
      "u16" => -Fiddle::TYPE_INT16_T,
      "u32" => -Fiddle::TYPE_INT32_T,
      "u64" => -Fiddle::TYPE_INT64_T,
      "size" => Fiddle::TYPE_SIZE_T,
      "ssize" => Fiddle::TYPE_SSIZE_T,
      "double" => Fiddle::TYPE_DOUBLE
    }.freeze

    # The callback types (a `const char *` comes as a Fiddle::Pointer), for Native.closure.
    # ptrdiff_t (*ocireg_read_fn)(void *userdata, uint8_t *buf, size_t cap)
    READ_FN = "ssize(ptr, ptr, size)"
    # int (*ocireg_write_fn)(void *userdata, const uint8_t *buf, size_t len)
    WRITE_FN = "int(ptr, ptr, size)"
    # int (*ocireg_progress_fn)(void *userdata, const char *digest, uint64_t done, uint64_t total,
    #                           uint32_t event)
    PROGRESS_FN = "int(ptr, ptr, u64, u64, u32)"
    # void (*ocireg_retry_fn)(void *userdata, const char *method, const char *path,
    #                         uint32_t attempt, uint16_t status, const char *reason, uint64_t delay_ms)
    RETRY_FN = "void(ptr, ptr, ptr, u32, u16, ptr, u64)"

    # Every function of include/ocireg.h: its name => "return_type(argument types)" in the words of
    # TYPES, then " blocking" for the ones called with the GVL released. (Strings, so that
    # loading the table costs nothing: each is parsed by Native.signature on first use.)
    SIGNATURES = {
      # --- version, errors, strings, bytes, lists -------------------------------------------
      ocireg_abi_version: "u32()",
      ocireg_version: "ptr()",
      ocireg_error_status: "status(ptr)",
      ocireg_error_message: "ptr(ptr)",
      ocireg_error_http_status: "u16(ptr)",
      ocireg_error_registry_code: "ptr(ptr)",
      ocireg_error_retry_after_secs: "i64(ptr)",
      ocireg_error_registry_error_count: "size(ptr)",
      ocireg_error_registry_error_code: "ptr(ptr, size)",
      ocireg_error_registry_error_message: "ptr(ptr, size)",
      ocireg_error_registry_error_detail: "ptr(ptr, size)",
      ocireg_error_body: "ptr(ptr)",
      ocireg_error_free: "void(ptr)",
      ocireg_status_name: "ptr(u32)",
      ocireg_string_free: "void(ptr)",
      ocireg_bytes_free: "void(ptr, size)",
      ocireg_string_list_len: "size(ptr)",
      ocireg_string_list_get: "ptr(ptr, size)",
      ocireg_string_list_free: "void(ptr)",

      # --- client options ----------------------------------------------------------------------
      ocireg_options_new: "status(ptr, ptr)",
      ocireg_options_free: "void(ptr)",
      ocireg_options_set_username_password: "status(ptr, str, str, ptr)",
      ocireg_options_set_identity_token: "status(ptr, str, ptr)",
      ocireg_options_set_bearer_token: "status(ptr, str, ptr)",
      ocireg_options_set_anonymous: "status(ptr, ptr)",
      ocireg_options_set_docker_config: "status(ptr, str, ptr)",
      ocireg_options_set_user_agent: "status(ptr, str, ptr)",
      ocireg_options_set_timeout_ms: "status(ptr, u32, u64, ptr)",
      ocireg_options_set_ca_cert_pem: "status(ptr, ptr, size, ptr)",
      ocireg_options_set_client_cert_pem: "status(ptr, ptr, size, ptr, size, ptr)",
      ocireg_options_set_insecure: "status(ptr, int, ptr)",
      ocireg_options_set_proxy: "status(ptr, str, ptr)",
      ocireg_options_set_proxy_from_env: "status(ptr, int, ptr)",
      ocireg_options_set_max_retries: "status(ptr, u32, ptr)",
      ocireg_options_set_low_speed_limit: "status(ptr, u64, u64, ptr)",
      ocireg_options_set_backoff: "status(ptr, u64, double, u64, u64, double, ptr)",
      ocireg_options_set_retry_notify: "status(ptr, ptr, ptr, ptr)",
      ocireg_options_set_cancel: "status(ptr, ptr, ptr)",

      # --- client --------------------------------------------------------------------------------
      # Resolves credentials (may run a credential helper program): blocking.
      ocireg_client_new: "status(str, ptr, ptr, ptr) blocking",
      ocireg_client_free: "void(ptr) blocking",
      ocireg_client_registry: "ptr(ptr)",
      ocireg_client_base_url: "ptr(ptr)",
      ocireg_client_credential_source: "ptr(ptr)",
      ocireg_client_request_count: "u64(ptr)",
      ocireg_ping: "status(ptr, ptr) blocking",
      ocireg_tags: "status(ptr, str, ptr, ptr) blocking",
      ocireg_catalog: "status(ptr, ptr, ptr) blocking",
      ocireg_search: "status(ptr, str, ptr, ptr) blocking",
      ocireg_tags_page: "status(ptr, str, u32, str, ptr, ptr, ptr) blocking",
      ocireg_catalog_page: "status(ptr, u32, str, ptr, ptr, ptr) blocking",

      # --- cancellation, bound clients, streamed blob reads ------------------------------------
      ocireg_cancel_new: "status(ptr, ptr)",
      ocireg_cancel_trigger: "void(ptr)",
      ocireg_cancel_is_triggered: "i32(ptr)",
      ocireg_cancel_free: "void(ptr)",
      ocireg_client_bind: "status(ptr, ptr, u64, ptr, ptr)",
      ocireg_blob_reader_open: "status(ptr, str, str, ptr, ptr, ptr) blocking",
      ocireg_blob_reader_read: "status(ptr, ptr, size, ptr, ptr) blocking",
      ocireg_blob_reader_size: "u64(ptr)",
      # Closes a connection: blocking.
      ocireg_blob_reader_free: "void(ptr) blocking",

      # --- manifests -----------------------------------------------------------------------------
      ocireg_manifest_get: "status(ptr, str, str, ptr, ptr, ptr, ptr, ptr) blocking",
      ocireg_manifest_digest: "status(ptr, str, str, ptr, ptr) blocking",
      ocireg_manifest_put: "status(ptr, str, str, str, ptr, size, ptr, ptr) blocking",
      ocireg_manifest_delete: "status(ptr, str, str, ptr) blocking",

      # --- blobs ---------------------------------------------------------------------------------
      ocireg_blob_exists: "status(ptr, str, str, ptr, ptr, ptr) blocking",
      ocireg_blob_push_bytes: "status(ptr, str, ptr, size, ptr, ptr) blocking",
      ocireg_blob_push_file: "status(ptr, str, str, ptr, ptr) blocking",
      ocireg_blob_push_stream: "status(ptr, str, ptr, ptr, u64, str, ptr, ptr) blocking",
      ocireg_blob_mount: "status(ptr, str, str, str, ptr, ptr) blocking",
      ocireg_blob_delete: "status(ptr, str, str, ptr) blocking",
      ocireg_blob_pull: "status(ptr, str, str, ptr, ptr, ptr, ptr) blocking",
      ocireg_blob_pull_to_path: "status(ptr, str, str, str, ptr, ptr) blocking",
      ocireg_blob_pull_bytes: "status(ptr, str, str, ptr, ptr, ptr) blocking",

      # --- images --------------------------------------------------------------------------------
      ocireg_image_from_layout: "status(str, str, ptr, ptr) blocking",
      ocireg_image_digest: "ptr(ptr)",
      ocireg_image_media_type: "ptr(ptr)",
      ocireg_image_manifest: "ptr(ptr, ptr)",
      ocireg_image_free: "void(ptr)",
      ocireg_image_builder_new: "status(ptr, ptr)",
      ocireg_image_builder_set_config: "status(ptr, ptr, size, str, ptr)",
      ocireg_image_builder_add_layer_bytes: "status(ptr, ptr, size, str, ptr)",
      ocireg_image_builder_add_layer_file: "status(ptr, str, str, ptr) blocking",
      ocireg_image_builder_add_annotation: "status(ptr, str, str, ptr)",
      ocireg_image_builder_set_artifact_type: "status(ptr, str, ptr)",
      ocireg_image_builder_set_docker_schema2: "status(ptr, int, ptr)",
      # Hashes layer files: blocking.
      ocireg_image_builder_build: "status(ptr, ptr, ptr) blocking",
      ocireg_image_builder_free: "void(ptr)",

      # --- push ----------------------------------------------------------------------------------
      ocireg_push_options_new: "status(ptr, ptr)",
      ocireg_push_options_set_threads: "status(ptr, u32, ptr)",
      ocireg_push_options_set_chunked: "status(ptr, u64, ptr)",
      ocireg_push_options_set_mount_from: "status(ptr, str, ptr)",
      ocireg_push_options_set_skip_existing: "status(ptr, int, ptr)",
      ocireg_push_options_free: "void(ptr)",
      ocireg_push_image: "status(ptr, str, str, ptr, ptr, ptr, ptr, ptr, ptr) blocking",
      ocireg_push_layout: "status(ptr, str, str, str, ptr, ptr, ptr, ptr, ptr) blocking",
      ocireg_pushed_from_image: "status(ptr, str, str, ptr, ptr)",
      ocireg_pushed_digest: "ptr(ptr)",
      ocireg_pushed_media_type: "ptr(ptr)",
      ocireg_pushed_reference: "ptr(ptr)",
      ocireg_pushed_size: "u64(ptr)",
      ocireg_pushed_to_json: "status(ptr, ptr, ptr)",
      ocireg_pushed_free: "void(ptr)",

      # --- verify --------------------------------------------------------------------------------
      ocireg_verify: "status(ptr, str, ptr, ptr, ptr) blocking",
      ocireg_verify_report_outcome: "u32(ptr)",
      ocireg_verify_report_to_json: "status(ptr, ptr, ptr)",
      ocireg_verify_report_to_text: "status(ptr, ptr, ptr)",
      ocireg_verify_report_free: "void(ptr)",

      # --- pull ----------------------------------------------------------------------------------
      ocireg_pull_image: "status(ptr, str, str, str, str, u32, ptr, ptr, ptr, ptr) blocking",
      ocireg_pulled_digest: "ptr(ptr)",
      ocireg_pulled_media_type: "ptr(ptr)",
      ocireg_pulled_path: "ptr(ptr)",
      ocireg_pulled_size: "u64(ptr)",
      ocireg_pulled_to_json: "status(ptr, ptr, ptr)",
      ocireg_pulled_to_pushed: "status(ptr, ptr, ptr)",
      ocireg_pulled_free: "void(ptr)",

      # --- registry operations -------------------------------------------------------------------
      ocireg_copy: "status(ptr, str, str, ptr, str, str, u32, str, ptr, ptr, ptr, ptr) blocking",
      ocireg_retag: "status(ptr, str, str, str, str, ptr, ptr) blocking",
      ocireg_delete_tag: "status(ptr, str, str, i32, i32, ptr, ptr) blocking",
      ocireg_platform_descriptor: "status(ptr, str, str, str, ptr, ptr) blocking",
      ocireg_tags_with_digests: "status(ptr, str, ptr, ptr) blocking",
      ocireg_manifest_sizes: "status(ptr, size, str, ptr, ptr, ptr)",
      ocireg_pull_layers: "status(ptr, str, str, str, str, u32, ptr, ptr, ptr, ptr) blocking",

      # --- credentials ---------------------------------------------------------------------------
      ocireg_login: "status(str, str, str, str, ptr, ptr, ptr) blocking",
      ocireg_logout: "status(str, str, ptr, ptr) blocking",

      # --- test registry (built with the `test-server` feature; `gem install` builds it so) -----
      ocireg_test_registry_start: "status(u32, str, ptr, ptr) blocking",
      ocireg_test_registry_url: "ptr(ptr)",
      ocireg_test_registry_host: "ptr(ptr)",
      ocireg_test_registry_request_count: "u64(ptr)",
      ocireg_test_registry_add_blob: "status(ptr, str, ptr, size, ptr, ptr) blocking",
      ocireg_test_registry_add_manifest: "status(ptr, str, str, str, ptr, size, ptr, ptr) blocking",
      ocireg_test_registry_add_image: "status(ptr, str, str, ptr, size, ptr, ptr, size, ptr, ptr) blocking",
      ocireg_test_registry_delete_blob: "status(ptr, str, str, ptr, ptr) blocking",
      ocireg_test_registry_fail_next: "status(ptr, u32, u16, i64, ptr) blocking",
      ocireg_test_registry_set_delay_ms: "status(ptr, u64, ptr) blocking",
      ocireg_test_registry_drop_next: "status(ptr, u32, ptr) blocking",
      ocireg_test_registry_redirect_blobs: "status(ptr, int, ptr) blocking",
      ocireg_test_registry_set_hostile: "status(ptr, str, ptr) blocking",
      ocireg_test_registry_requests_json: "status(ptr, ptr, ptr) blocking",
      ocireg_test_registry_clear_requests: "status(ptr, ptr) blocking",
      ocireg_test_registry_stop: "status(ptr, ptr) blocking",
      ocireg_test_registry_free: "void(ptr) blocking",
      ocireg_test_panic: "status(str, ptr)"
    }.freeze

    # The test-server functions. A library built without them still loads (Native then has no
    # method for them); Ocireg::Testing raises UnsupportedError.
    TEST_FUNCTIONS = SIGNATURES.keys.grep(/\Aocireg_test_/).freeze
    # The test-server functions the loaded library lacks (empty for a default build).
    MISSING_TEST_FUNCTIONS = TEST_FUNCTIONS.reject do |name|
      LIBRARY.sym(name.to_s)
    rescue Fiddle::DLError
      false
    end.freeze

    # A signature of SIGNATURES (or a callback type) as [return type, argument types, blocking],
    # in Fiddle's types.
    def self.parse_signature(text)
      match = /\A(\w+)\(([\w, ]*)\)( blocking)?\z/.match(text) or raise ArgumentError, "bad signature #{text.inspect}"
      [TYPES.fetch(match[1]), match[2].split(", ").map { |type| TYPES.fetch(type) }, !match[3].nil?]
    end

    # The signature of the header function `name` (a Symbol): [return type, argument types,
    # whether the GVL is released], in Fiddle's types.
    def self.signature(name)
      parse_signature(SIGNATURES.fetch(name))
    end

    @functions = {}

    # The Fiddle::Function of the header function `name` (a Symbol), made on first use.
    # Fiddle::DLError when the library lacks it.
    def self.function(name)
      @functions[name] ||= begin
        ret, args, blocking = signature(name)
        Fiddle::Function.new(LIBRARY.sym(name.to_s), args, ret, name: name.to_s, need_gvl: !blocking)
      end
    end

    # The address of the header function `name` (for a Fiddle::Pointer's free function).
    def self.address(name)
      LIBRARY.sym(name.to_s)
    end

    # One method per function, which calls its Fiddle::Function (made on the first call). They
    # share one body, which finds the function by the method's name.
    call = proc { |*args| function(__method__).call(*args) }
    (SIGNATURES.keys - MISSING_TEST_FUNCTIONS).each { |name| define_singleton_method(name, &call) }

    # --- helpers shared by the high-level classes ----------------------------------------------

    # A C callback of `type` (READ_FN, WRITE_FN, PROGRESS_FN, RETRY_FN) that runs `block`: a
    # Fiddle::Closure, wrapped in a Fiddle::Pinned because GC.compact must not move it (this
    # Fiddle's closure code finds its Ruby object by its address). Pass #ref to the library, and
    # keep the Pinned referenced for as long as the library may call it.
    def self.closure(type, &block)
      ret, args = parse_signature(type)
      Fiddle::Pinned.new(Fiddle::Closure::BlockCaller.new(ret, args, &block))
    end

    # A fresh, zeroed out-parameter of `size` bytes (a `T **` by default), freed by the GC.
    def self.out(size = Fiddle::SIZEOF_VOIDP)
      Fiddle::Pointer.malloc(size, Fiddle::RUBY_FREE)
    end

    # The `size_t` an out-parameter holds.
    def self.read_size(ptr)
      ptr[0, Fiddle::SIZEOF_SIZE_T].unpack1("J")
    end

    # The `uint64_t` an out-parameter holds.
    def self.read_u64(ptr)
      ptr[0, 8].unpack1("Q")
    end

    # The `int` an out-parameter holds.
    def self.read_int(ptr)
      ptr[0, Fiddle::SIZEOF_INT].unpack1("i!")
    end

    # A borrowed `const char *` as a UTF-8 Ruby String (nil for NULL). The library keeps the
    # memory; nothing is freed.
    def self.borrowed_string(ptr)
      return nil if ptr.nil? || ptr.null?

      ptr.to_s.force_encoding(Encoding::UTF_8)
    end

    # Reads the owned `char *` stored in the out-parameter `out` (see Native.out), frees it with
    # ocireg_string_free(), and returns it as a UTF-8 String (nil for NULL).
    def self.take_string(out)
      ptr = out.ptr
      return nil if ptr.null?

      begin
        ptr.to_s.force_encoding(Encoding::UTF_8)
      ensure
        ocireg_string_free(ptr)
      end
    end

    # Reads the owned `uint8_t *` / `size_t` pair from two out-parameters, frees it with
    # ocireg_bytes_free(), and returns a binary String.
    def self.take_bytes(out_ptr, out_len)
      ptr = out_ptr.ptr
      len = read_size(out_len)
      return "".b if ptr.null?

      begin
        ptr[0, len]
      ensure
        ocireg_bytes_free(ptr, len)
      end
    end

    # Copies an owned `ocireg_string_list *` (read from the out-parameter `out`) into an Array
    # of UTF-8 Strings, then frees the list.
    def self.take_string_list(out)
      list = out.ptr
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

    # A `const uint8_t *` / `size_t` pair for a Ruby String: a private copy in C memory (so the
    # GC can never move the bytes while the GVL is released), or NULL / 0 for an empty or nil
    # String.
    def self.buffer(data)
      return [nil, 0] if data.nil?

      bytes = String(data)
      return [nil, 0] if bytes.empty?

      mem = Fiddle::Pointer.malloc(bytes.bytesize, Fiddle::RUBY_FREE)
      mem[0, bytes.bytesize] = bytes
      [mem, bytes.bytesize]
    end

    # A C string argument: nil stays nil (NULL), Pathname-likes become their path, Symbols their
    # name, everything else must convert with to_str. (A NUL byte inside raises ArgumentError
    # when the call is made; invalid UTF-8 is passed on, and the library answers
    # OCIREG_INVALID_ARGUMENT.)
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
