# frozen_string_literal: true

require "fiddle"

module Ocireg
  # The raw C ABI of libocireg (include/ocireg.h) through Fiddle, Ruby's standard library: one
  # singleton method per exported function, with the same name and arguments as in the header.
  # Each is declared in SIGNATURES and its Fiddle::Function is made the first time it is called
  # (so that `require "ocireg"` does not pay for 110 of them).
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
  # marked :blocking: Fiddle releases the GVL during the call, so that other Ruby threads keep
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

    # C types of the signatures (Fiddle's; a negative type is the unsigned one).
    P = Fiddle::TYPE_VOIDP # any pointer: a handle, a buffer, an out-parameter, a callback
    S = Fiddle::TYPE_CONST_STRING # a `const char *` argument: a String or nil
    ST = Fiddle::TYPE_INT # ocireg_status
    INT = Fiddle::TYPE_INT
    I32 = Fiddle::TYPE_INT32_T
    I64 = Fiddle::TYPE_INT64_T
    U16 = -Fiddle::TYPE_INT16_T
    U32 = -Fiddle::TYPE_INT32_T
    U64 = -Fiddle::TYPE_INT64_T
    SIZE = Fiddle::TYPE_SIZE_T
    SSIZE = Fiddle::TYPE_SSIZE_T
    DBL = Fiddle::TYPE_DOUBLE
    VOID = Fiddle::TYPE_VOID
    private_constant :P, :S, :ST, :INT, :I32, :I64, :U16, :U32, :U64, :SIZE, :SSIZE, :DBL, :VOID

    # The callback types, [return type, argument types] (strings come as Fiddle::Pointer).
    # ptrdiff_t (*ocireg_read_fn)(void *userdata, uint8_t *buf, size_t cap)
    READ_FN = [SSIZE, [P, P, SIZE].freeze].freeze
    # int (*ocireg_write_fn)(void *userdata, const uint8_t *buf, size_t len)
    WRITE_FN = [INT, [P, P, SIZE].freeze].freeze
    # int (*ocireg_progress_fn)(void *userdata, const char *digest, uint64_t done, uint64_t total,
    #                           uint32_t event)
    PROGRESS_FN = [INT, [P, P, U64, U64, U32].freeze].freeze
    # void (*ocireg_retry_fn)(void *userdata, const char *method, const char *path,
    #                         uint32_t attempt, uint16_t status, const char *reason, uint64_t delay_ms)
    RETRY_FN = [VOID, [P, P, P, U32, U16, P, U64].freeze].freeze

    # Every function of include/ocireg.h: name => [return type, argument types], plus :blocking
    # for the ones called with the GVL released.
    SIGNATURES = {
      # --- version, errors, strings, bytes, lists -------------------------------------------
      ocireg_abi_version: [U32, []],
      ocireg_version: [P, []],
      ocireg_error_status: [ST, [P]],
      ocireg_error_message: [P, [P]],
      ocireg_error_http_status: [U16, [P]],
      ocireg_error_registry_code: [P, [P]],
      ocireg_error_retry_after_secs: [I64, [P]],
      ocireg_error_registry_error_count: [SIZE, [P]],
      ocireg_error_registry_error_code: [P, [P, SIZE]],
      ocireg_error_registry_error_message: [P, [P, SIZE]],
      ocireg_error_registry_error_detail: [P, [P, SIZE]],
      ocireg_error_body: [P, [P]],
      ocireg_error_free: [VOID, [P]],
      ocireg_status_name: [P, [U32]],
      ocireg_string_free: [VOID, [P]],
      ocireg_bytes_free: [VOID, [P, SIZE]],
      ocireg_string_list_len: [SIZE, [P]],
      ocireg_string_list_get: [P, [P, SIZE]],
      ocireg_string_list_free: [VOID, [P]],

      # --- client options ----------------------------------------------------------------------
      ocireg_options_new: [ST, [P, P]],
      ocireg_options_free: [VOID, [P]],
      ocireg_options_set_username_password: [ST, [P, S, S, P]],
      ocireg_options_set_identity_token: [ST, [P, S, P]],
      ocireg_options_set_bearer_token: [ST, [P, S, P]],
      ocireg_options_set_anonymous: [ST, [P, P]],
      ocireg_options_set_docker_config: [ST, [P, S, P]],
      ocireg_options_set_user_agent: [ST, [P, S, P]],
      ocireg_options_set_timeout_ms: [ST, [P, U32, U64, P]],
      ocireg_options_set_ca_cert_pem: [ST, [P, P, SIZE, P]],
      ocireg_options_set_client_cert_pem: [ST, [P, P, SIZE, P, SIZE, P]],
      ocireg_options_set_insecure: [ST, [P, INT, P]],
      ocireg_options_set_proxy: [ST, [P, S, P]],
      ocireg_options_set_proxy_from_env: [ST, [P, INT, P]],
      ocireg_options_set_max_retries: [ST, [P, U32, P]],
      ocireg_options_set_low_speed_limit: [ST, [P, U64, U64, P]],
      ocireg_options_set_backoff: [ST, [P, U64, DBL, U64, U64, DBL, P]],
      ocireg_options_set_retry_notify: [ST, [P, P, P, P]],
      ocireg_options_set_cancel: [ST, [P, P, P]],

      # --- client --------------------------------------------------------------------------------
      # Resolves credentials (may run a credential helper program): blocking.
      ocireg_client_new: [ST, [S, P, P, P], :blocking],
      ocireg_client_free: [VOID, [P], :blocking],
      ocireg_client_registry: [P, [P]],
      ocireg_client_base_url: [P, [P]],
      ocireg_client_credential_source: [P, [P]],
      ocireg_client_request_count: [U64, [P]],
      ocireg_ping: [ST, [P, P], :blocking],
      ocireg_tags: [ST, [P, S, P, P], :blocking],
      ocireg_catalog: [ST, [P, P, P], :blocking],
      ocireg_search: [ST, [P, S, P, P], :blocking],
      ocireg_tags_page: [ST, [P, S, U32, S, P, P, P], :blocking],
      ocireg_catalog_page: [ST, [P, U32, S, P, P, P], :blocking],

      # --- cancellation, bound clients, streamed blob reads ------------------------------------
      ocireg_cancel_new: [ST, [P, P]],
      ocireg_cancel_trigger: [VOID, [P]],
      ocireg_cancel_is_triggered: [I32, [P]],
      ocireg_cancel_free: [VOID, [P]],
      ocireg_client_bind: [ST, [P, P, U64, P, P]],
      ocireg_blob_reader_open: [ST, [P, S, S, P, P, P], :blocking],
      ocireg_blob_reader_read: [ST, [P, P, SIZE, P, P], :blocking],
      ocireg_blob_reader_size: [U64, [P]],
      # Closes a connection: blocking.
      ocireg_blob_reader_free: [VOID, [P], :blocking],

      # --- manifests -----------------------------------------------------------------------------
      ocireg_manifest_get: [ST, [P, S, S, P, P, P, P, P], :blocking],
      ocireg_manifest_digest: [ST, [P, S, S, P, P], :blocking],
      ocireg_manifest_put: [ST, [P, S, S, S, P, SIZE, P, P], :blocking],
      ocireg_manifest_delete: [ST, [P, S, S, P], :blocking],

      # --- blobs ---------------------------------------------------------------------------------
      ocireg_blob_exists: [ST, [P, S, S, P, P, P], :blocking],
      ocireg_blob_push_bytes: [ST, [P, S, P, SIZE, P, P], :blocking],
      ocireg_blob_push_file: [ST, [P, S, S, P, P], :blocking],
      ocireg_blob_push_stream: [ST, [P, S, P, P, U64, S, P, P], :blocking],
      ocireg_blob_mount: [ST, [P, S, S, S, P, P], :blocking],
      ocireg_blob_delete: [ST, [P, S, S, P], :blocking],
      ocireg_blob_pull: [ST, [P, S, S, P, P, P, P], :blocking],
      ocireg_blob_pull_to_path: [ST, [P, S, S, S, P, P], :blocking],
      ocireg_blob_pull_bytes: [ST, [P, S, S, P, P, P], :blocking],

      # --- images --------------------------------------------------------------------------------
      ocireg_image_from_layout: [ST, [S, S, P, P], :blocking],
      ocireg_image_digest: [P, [P]],
      ocireg_image_media_type: [P, [P]],
      ocireg_image_manifest: [P, [P, P]],
      ocireg_image_free: [VOID, [P]],
      ocireg_image_builder_new: [ST, [P, P]],
      ocireg_image_builder_set_config: [ST, [P, P, SIZE, S, P]],
      ocireg_image_builder_add_layer_bytes: [ST, [P, P, SIZE, S, P]],
      ocireg_image_builder_add_layer_file: [ST, [P, S, S, P], :blocking],
      ocireg_image_builder_add_annotation: [ST, [P, S, S, P]],
      ocireg_image_builder_set_artifact_type: [ST, [P, S, P]],
      ocireg_image_builder_set_docker_schema2: [ST, [P, INT, P]],
      # Hashes layer files: blocking.
      ocireg_image_builder_build: [ST, [P, P, P], :blocking],
      ocireg_image_builder_free: [VOID, [P]],

      # --- push ----------------------------------------------------------------------------------
      ocireg_push_options_new: [ST, [P, P]],
      ocireg_push_options_set_threads: [ST, [P, U32, P]],
      ocireg_push_options_set_chunked: [ST, [P, U64, P]],
      ocireg_push_options_set_mount_from: [ST, [P, S, P]],
      ocireg_push_options_set_skip_existing: [ST, [P, INT, P]],
      ocireg_push_options_free: [VOID, [P]],
      ocireg_push_image: [ST, [P, S, S, P, P, P, P, P, P], :blocking],
      ocireg_push_layout: [ST, [P, S, S, S, P, P, P, P, P], :blocking],
      ocireg_pushed_from_image: [ST, [P, S, S, P, P]],
      ocireg_pushed_digest: [P, [P]],
      ocireg_pushed_media_type: [P, [P]],
      ocireg_pushed_reference: [P, [P]],
      ocireg_pushed_size: [U64, [P]],
      ocireg_pushed_to_json: [ST, [P, P, P]],
      ocireg_pushed_free: [VOID, [P]],

      # --- verify --------------------------------------------------------------------------------
      ocireg_verify: [ST, [P, S, P, P, P], :blocking],
      ocireg_verify_report_outcome: [U32, [P]],
      ocireg_verify_report_to_json: [ST, [P, P, P]],
      ocireg_verify_report_to_text: [ST, [P, P, P]],
      ocireg_verify_report_free: [VOID, [P]],

      # --- pull ----------------------------------------------------------------------------------
      ocireg_pull_image: [ST, [P, S, S, S, S, U32, P, P, P, P], :blocking],
      ocireg_pulled_digest: [P, [P]],
      ocireg_pulled_media_type: [P, [P]],
      ocireg_pulled_path: [P, [P]],
      ocireg_pulled_size: [U64, [P]],
      ocireg_pulled_to_json: [ST, [P, P, P]],
      ocireg_pulled_to_pushed: [ST, [P, P, P]],
      ocireg_pulled_free: [VOID, [P]],

      # --- registry operations -------------------------------------------------------------------
      ocireg_copy: [ST, [P, S, S, P, S, S, U32, S, P, P, P, P], :blocking],
      ocireg_retag: [ST, [P, S, S, S, S, P, P], :blocking],
      ocireg_delete_tag: [ST, [P, S, S, I32, I32, P, P], :blocking],
      ocireg_platform_descriptor: [ST, [P, S, S, S, P, P], :blocking],
      ocireg_tags_with_digests: [ST, [P, S, P, P], :blocking],
      ocireg_manifest_sizes: [ST, [P, SIZE, S, P, P, P]],
      ocireg_pull_layers: [ST, [P, S, S, S, S, U32, P, P, P, P], :blocking],

      # --- credentials ---------------------------------------------------------------------------
      ocireg_login: [ST, [S, S, S, S, P, P, P], :blocking],
      ocireg_logout: [ST, [S, S, P, P], :blocking],

      # --- test registry (built with the `test-server` feature; `gem install` builds it so) -----
      ocireg_test_registry_start: [ST, [U32, S, P, P], :blocking],
      ocireg_test_registry_url: [P, [P]],
      ocireg_test_registry_host: [P, [P]],
      ocireg_test_registry_request_count: [U64, [P]],
      ocireg_test_registry_add_blob: [ST, [P, S, P, SIZE, P, P], :blocking],
      ocireg_test_registry_add_manifest: [ST, [P, S, S, S, P, SIZE, P, P], :blocking],
      ocireg_test_registry_add_image: [ST, [P, S, S, P, SIZE, P, P, SIZE, P, P], :blocking],
      ocireg_test_registry_delete_blob: [ST, [P, S, S, P, P], :blocking],
      ocireg_test_registry_fail_next: [ST, [P, U32, U16, I64, P], :blocking],
      ocireg_test_registry_set_delay_ms: [ST, [P, U64, P], :blocking],
      ocireg_test_registry_drop_next: [ST, [P, U32, P], :blocking],
      ocireg_test_registry_redirect_blobs: [ST, [P, INT, P], :blocking],
      ocireg_test_registry_set_hostile: [ST, [P, S, P], :blocking],
      ocireg_test_registry_requests_json: [ST, [P, P, P], :blocking],
      ocireg_test_registry_clear_requests: [ST, [P, P], :blocking],
      ocireg_test_registry_stop: [ST, [P, P], :blocking],
      ocireg_test_registry_free: [VOID, [P], :blocking],
      ocireg_test_panic: [ST, [S, P]]
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

    @functions = {}

    # The Fiddle::Function of the header function `name` (a Symbol), made on first use.
    # Fiddle::DLError when the library lacks it.
    def self.function(name)
      @functions[name] ||= begin
        ret, args, blocking = SIGNATURES.fetch(name)
        Fiddle::Function.new(LIBRARY.sym(name.to_s), args, ret, name: name.to_s, need_gvl: blocking != :blocking)
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
      Fiddle::Pinned.new(Fiddle::Closure::BlockCaller.new(*type, &block))
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
