# frozen_string_literal: true

module Ocireg
  # Test helpers.
  module Testing
    # Whether the loaded library has the test registry (the `test-server` feature).
    def self.available?
      Native::MISSING_TEST_FUNCTIONS.empty?
    end

    # Raises Ocireg::UnsupportedError when the library was built without `test-server`.
    def self.require_test_server!
      return if available?

      missing = Native::MISSING_TEST_FUNCTIONS
      what = if missing.size == Native::TEST_FUNCTIONS.size
               "it has no ocireg_test_* function"
             else
               "missing #{missing.join(', ')}"
             end
      raise UnsupportedError.new("ocireg: #{Native::LIBRARY_PATH} was built without the test-server feature " \
                                 "(#{what}); the test registry needs a library built with " \
                                 "`--features capi,test-server`",
                                 status: UnsupportedError::STATUS)
    end

    # Makes the library panic on purpose (ocireg_test_panic): raises Ocireg::PanicError with
    # "panic: <message>", and the process goes on. For checking the panic boundary.
    def self.panic(message = nil)
      require_test_server!
      Call.check { |err| Native.ocireg_test_panic(Native.cstr(message), err) }
      nil
    end

    # An in-memory OCI registry on http://127.0.0.1:PORT, run by the library itself (no
    # network, no TLS). For tests:
    #
    #   registry = Ocireg::Testing::Registry.new(auth: :basic, users: { "alice" => "secret" })
    #   client = Ocireg::Client.new(registry.url, username: "alice", password: "secret")
    #   ...
    #   registry.stop
    class Registry
      AUTH_MODES = { none: 0, basic: 1, bearer: 2 }.freeze

      # `auth:` :none, :basic (HTTP Basic for `users`) or :bearer (tokens from the registry's
      # own /token endpoint for `users`); `users:` a Hash of user name => password (or the
      # library's "alice:secret,bob:pw" string).
      def initialize(auth: :none, users: {})
        Testing.require_test_server!
        mode = AUTH_MODES.fetch(auth.to_sym) do
          raise ArgumentError, "ocireg: unknown auth mode #{auth.inspect} (known: #{AUTH_MODES.keys.join(', ')})"
        end
        spec = case users
               when nil then nil
               when String then users
               else users.empty? ? nil : users.map { |user, password| "#{user}:#{password}" }.join(",")
               end
        out = Call.out_ptr
        Call.check { |err| Native.ocireg_test_registry_start(mode, spec, out, err) }
        @handle = Handle.new(out.ptr, :ocireg_test_registry_free)
        # Kept after #stop, which frees the registry.
        @url = @handle.use { |r| Native.borrowed_string(Native.ocireg_test_registry_url(r)) }
        @host = @handle.use { |r| Native.borrowed_string(Native.ocireg_test_registry_host(r)) }
      end

      # Starts a registry, yields it, and stops it afterwards; returns the block's value.
      def self.open(**kwargs)
        registry = new(**kwargs)
        begin
          yield registry
        ensure
          registry.stop
        end
      end

      # "http://127.0.0.1:PORT", for Ocireg::Client.new.
      attr_reader :url

      # "127.0.0.1:PORT", the registry part of image references.
      attr_reader :host

      # Requests answered so far (token endpoint included); 0 once stopped.
      def request_count
        @handle.use { |r| Native.ocireg_test_registry_request_count(r) }
      end

      # Stores a blob directly (no HTTP); returns its digest.
      def add_blob(repository, data)
        buf, len = Native.buffer(data)
        out = Call.out_ptr
        @handle.use do |r|
          Call.check { |err| Native.ocireg_test_registry_add_blob(r, Native.cstr(repository), buf, len, out, err) }
        end
        Native.take_string(out)
      end

      # Stores a manifest directly (checked like a push), tagged `tag` unless nil; returns its
      # digest.
      def add_manifest(repository, data, media_type:, tag: nil)
        buf, len = Native.buffer(data)
        out = Call.out_ptr
        @handle.use do |r|
          Call.check do |err|
            Native.ocireg_test_registry_add_manifest(r, Native.cstr(repository), Native.cstr(tag),
                                                     Native.cstr(media_type), buf, len, out, err)
          end
        end
        Native.take_string(out)
      end

      # Stores an image directly: the config blob, the layer blobs (Strings) and an OCI image
      # manifest, tagged `tag`. Returns the manifest digest.
      def add_image(repository, tag, config: "{}", layers: [])
        config_buf, config_len = Native.buffer(config)
        buffers = layers.map { |layer| Native.buffer(layer) }
        layer_ptrs = nil
        layer_lens = nil
        unless buffers.empty?
          # Two C arrays: the layers' pointers (`buffers` keeps their memory alive) and lengths.
          layer_ptrs = buffers.map { |buf, _| buf.to_i }.pack("J*")
          layer_lens = buffers.map { |_, len| len }.pack("J*")
        end
        out = Call.out_ptr
        @handle.use do |r|
          Call.check do |err|
            Native.ocireg_test_registry_add_image(r, Native.cstr(repository), Native.cstr(tag), config_buf, config_len,
                                                  layer_ptrs, layer_lens, buffers.size, out, err)
          end
        end
        Native.take_string(out)
      end

      # Removes a blob from a repository (e.g. to make a later verification fail). Returns true
      # when it was there.
      def delete_blob(repository, digest)
        found = Native.out(Fiddle::SIZEOF_INT)
        @handle.use do |r|
          Call.check do |err|
            Native.ocireg_test_registry_delete_blob(r, Native.cstr(repository), Native.cstr(digest), found, err)
          end
        end
        !Native.read_int(found).zero?
      end

      # Makes the next `count` requests (token endpoint excepted) fail with HTTP `status`
      # (400..599) and a spec error body, with Retry-After: `retry_after` seconds when given.
      # `count` 0 cancels pending failures.
      def fail_next(count, status: 503, retry_after: nil)
        @handle.use do |r|
          Call.check do |err|
            Native.ocireg_test_registry_fail_next(r, Integer(count), Integer(status),
                                                  retry_after.nil? ? -1 : Integer(retry_after), err)
          end
        end
        nil
      end

      # Delays every answer (token endpoint included) by `seconds` (0 turns it off): for timeout
      # tests.
      def delay=(seconds)
        ms = (seconds * 1000).round
        raise ArgumentError, "ocireg: the delay must not be negative" if ms.negative?

        @handle.use { |r| Call.check { |err| Native.ocireg_test_registry_set_delay_ms(r, ms, err) } }
      end

      # The next `count` blob downloads send the full Content-Length, half the body, then close
      # the connection.
      def drop_next(count)
        @handle.use { |r| Call.check { |err| Native.ocireg_test_registry_drop_next(r, Integer(count), err) } }
        nil
      end

      # true: blob downloads answer 307 to a second, unauthenticated listener (like a CDN).
      def redirect_blobs(on = true)
        @handle.use { |r| Call.check { |err| Native.ocireg_test_registry_redirect_blobs(r, on ? 1 : 0, err) } }
        nil
      end

      # Plays one attack of a hostile registry from the next request on ("none" turns it off),
      # e.g. "cross-origin-link", "slow-drip:2000" or "cut-midway:bad-range" (every scenario:
      # ocireg_test_registry_set_hostile in bindings/c/API.md); a bad spec raises
      # Ocireg::InvalidArgumentError.
      def set_hostile(spec)
        @handle.use { |r| Call.check { |err| Native.ocireg_test_registry_set_hostile(r, Native.cstr(spec), err) } }
        nil
      end

      # Every request answered so far, oldest first: Hashes with "method", "path", "query",
      # "status", "authorized" and "objectStore".
      def requests
        Native.parse_json(requests_json)
      end

      # #requests as the library's JSON text.
      def requests_json
        out = Call.out_ptr
        @handle.use { |r| Call.check { |err| Native.ocireg_test_registry_requests_json(r, out, err) } }
        Native.take_string(out)
      end

      # Forgets the recorded requests (#request_count starts again from 0).
      def clear_requests
        @handle.use { |r| Call.check { |err| Native.ocireg_test_registry_clear_requests(r, err) } }
        nil
      end

      # Stops serving (clients then get NetworkError) and frees the registry. #url and #host
      # stay readable. Idempotent.
      def stop
        @handle.use { |r| Call.check { |err| Native.ocireg_test_registry_stop(r, err) } } unless @handle.closed?
        @handle.close
        nil
      end
      alias close stop

      def stopped?
        @handle.closed?
      end

      def inspect
        "#<#{self.class.name} #{@url}#{stopped? ? ' stopped' : ''}>"
      end
    end
  end

  [Testing::Registry, Testing.singleton_class].each { |target| InterruptMask.apply(target) }
end
