# frozen_string_literal: true

module Ocireg
  # A manifest as fetched: its exact bytes, media type and digest.
  Manifest = Struct.new(:bytes, :media_type, :digest) do
    # The manifest parsed as JSON (a Hash).
    def json
      Native.parse_json(bytes)
    end
  end

  # One progress event of a push or pull, yielded to the progress block.
  #
  # `event` is one of :uploading, :existed, :mounted, :uploaded (push) and :downloading,
  # :reused, :downloaded (pull). The block may take the struct (`{ |p| p.done }`) or its four
  # fields (`{ |digest, done, total, event| ... }`). Returning :cancel from the block cancels
  # the operation (Ocireg::CancelledError); so does raising, and then that exception is raised
  # again once the operation has stopped.
  Progress = Struct.new(:digest, :done, :total, :event) do
    # Lets a block with several parameters receive the fields.
    def to_ary
      to_a
    end
  end

  # One page of tags or repositories: `items`, and `next_last`, the `last:` to ask for the next
  # page with (nil when this was the last page).
  Page = Struct.new(:items, :next_last) do
    def more?
      !next_last.nil?
    end
  end

  PROGRESS_EVENTS = %i[uploading existed mounted uploaded downloading reused downloaded].freeze

  class CallbackGuard
    # A progress block as an `ocireg_progress_fn` guard (nil for no block).
    def self.progress(block)
      return nil if block.nil?

      new(1, Native::PROGRESS_FN) do |_userdata, digest, done, total, event|
        digest = Native.borrowed_string(digest)
        answer = block.call(Progress.new(digest, done, total, PROGRESS_EVENTS.fetch(event, event)))
        answer == :cancel ? 1 : 0
      end
    end
  end

  # A registry client: one registry, one connection pool, one token cache. Thread-safe: one
  # client may serve many Ruby threads at once (every network call releases the GVL).
  #
  #   client = Ocireg::Client.new("http://127.0.0.1:5000", username: "alice", password: "secret")
  #   client.ping
  #   client.tags("team/app")            # => ["1.0", "latest"]
  #   client.close
  #
  # Every network method also takes `cancel:` (an Ocireg::Cancel: triggering it from any thread
  # makes the call raise Ocireg::CancelledError promptly, even while the registry is silent
  # mid-body) and `timeout:` (seconds: a deadline for the whole call, retries and backoff
  # included; Ocireg::TimeoutError when it passes). Both go through a client bound for that call
  # (ocireg_client_bind); see also #bind.
  class Client
    # #close frees the client (after any call running on another thread has returned); later
    # calls raise Ocireg::InvalidArgumentError. #closed? says whether it was.
    include ClosesHandle

    # Builds a client for `registry`: "host", "host:port", "http://host:port",
    # "https://host/base/path" or "https://user:password@host" (the userinfo becomes Basic
    # credentials); "docker.io" is Docker Hub. No request is sent. See Options for the keyword
    # arguments (username:, password:, insecure:, ca_cert:, docker_config:, timeouts:,
    # backoff:, retry_notify: ...).
    def initialize(registry, **options)
      out = Call.out_ptr
      Options.with(**options) do |opts, keep|
        Call.check { |err| Native.ocireg_client_new(Native.cstr(registry), opts, out, err) }
        # The retry callback must live as long as the client (and every client bound from it).
        @keep = keep
      end
      @handle = Handle.new(out.ptr, :ocireg_client_free)
    end

    # A new client for the same registry, credentials and tokens, whose every call is bound to
    # `cancel` (an Ocireg::Cancel) and/or a deadline `timeout` seconds from now, covering every
    # request, retry, backoff and body of the calls made through it. Close it when done (the
    # block form closes it and returns the block's value). This client is untouched.
    #
    #   cancel = Ocireg::Cancel.new
    #   Thread.new { sleep 1; cancel.cancel }
    #   client.bind(cancel: cancel) { |c| c.pull_image("team/app", "v1", "out") }
    def bind(cancel: nil, timeout: nil)
      bound = bound_client(cancel, timeout)
      return bound unless block_given?

      begin
        yield bound
      ensure
        bound.close
      end
    end

    # Like docker_registry2's DockerRegistry.connect: credentials may be in the URL
    # ("https://user:pass@host").
    def self.connect(registry, **options)
      new(registry, **options)
    end

    # Yields a new client and closes it afterwards; returns the block's value.
    def self.open(registry, **options)
      client = new(registry, **options)
      begin
        yield client
      ensure
        client.close
      end
    end

    # The registry as "host[:port]", e.g. "127.0.0.1:5000" or "docker.io".
    def registry
      @handle.use { |c| Native.borrowed_string(Native.ocireg_client_registry(c)) }
    end

    # The base URL requests go to, e.g. "https://registry-1.docker.io".
    def base_url
      @handle.use { |c| Native.borrowed_string(Native.ocireg_client_base_url(c)) }
    end

    # Where the credentials came from: "explicit", "anonymous", "config file PATH" or
    # "credential helper NAME". Never a secret.
    def credential_source
      @handle.use { |c| Native.borrowed_string(Native.ocireg_client_credential_source(c)) }
    end

    # HTTP requests sent so far (token requests and retries included).
    def request_count
      @handle.use { |c| Native.ocireg_client_request_count(c) }
    end

    def inspect
      "#<#{self.class.name} #{closed? ? 'closed' : base_url}>"
    end

    # Checks that the registry speaks API v2 and accepts the credentials. Returns true, or
    # raises (AuthenticationError, NetworkError, TlsError ...).
    def ping(cancel: nil, timeout: nil)
      conn(cancel, timeout) { |c| Call.check { |err| Native.ocireg_ping(c, err) } }
      true
    end

    # Every tag of `repository` (all pages). An unknown repository raises NotFoundError.
    def tags(repository, cancel: nil, timeout: nil)
      list_call(cancel, timeout) { |c, out, err| Native.ocireg_tags(c, Native.cstr(repository), out, err) }
    end

    # Every repository of the catalog (all pages). UnsupportedError without a catalog.
    def catalog(cancel: nil, timeout: nil)
      list_call(cancel, timeout) { |c, out, err| Native.ocireg_catalog(c, out, err) }
    end

    # The repositories whose name contains `pattern` (plain, case-sensitive substring; "" lists
    # everything).
    def search(pattern = "", cancel: nil, timeout: nil)
      list_call(cancel, timeout) { |c, out, err| Native.ocireg_search(c, Native.cstr(pattern), out, err) }
    end

    # One page of the tags of `repository`: at most `n` tags (0: the registry's default), after
    # the tag `last` (nil: from the start). Returns an Ocireg::Page.
    def tags_page(repository, n: 0, last: nil, cancel: nil, timeout: nil)
      page_call(cancel, timeout) do |c, out, next_out, err|
        Native.ocireg_tags_page(c, Native.cstr(repository), Integer(n), Native.cstr(last), out, next_out, err)
      end
    end

    # One page of the catalog: at most `n` repositories (0: the registry's default), after
    # `last` (nil: from the start). Returns an Ocireg::Page.
    def catalog_page(n: 0, last: nil, cancel: nil, timeout: nil)
      page_call(cancel, timeout) do |c, out, next_out, err|
        Native.ocireg_catalog_page(c, Integer(n), Native.cstr(last), out, next_out, err)
      end
    end

    # Fetches and verifies a manifest by tag, digest or "tag@digest". Returns an
    # Ocireg::Manifest (bytes, media_type, digest).
    def manifest(repository, reference, cancel: nil, timeout: nil)
      bytes = Call.out_ptr
      len = Native.out(Fiddle::SIZEOF_SIZE_T)
      media_type = Call.out_ptr
      digest = Call.out_ptr
      conn(cancel, timeout) do |c|
        Call.check do |err|
          Native.ocireg_manifest_get(c, Native.cstr(repository), Native.cstr(reference), bytes, len,
                                     media_type, digest, err)
        end
      end
      data = Native.take_bytes(bytes, len)
      Manifest.new(data, Native.take_string(media_type), Native.take_string(digest))
    end

    # The digest a tag (or digest) resolves to ("sha256:..."), by HEAD.
    def manifest_digest(repository, reference, cancel: nil, timeout: nil)
      out = Call.out_ptr
      conn(cancel, timeout) do |c|
        Call.check do |err|
          Native.ocireg_manifest_digest(c, Native.cstr(repository), Native.cstr(reference), out, err)
        end
      end
      Native.take_string(out)
    end

    # Uploads a manifest as is under `reference` (a tag, or its digest) and returns its digest.
    # `manifest` is the bytes (String) or an Ocireg::Manifest; `media_type` defaults to the
    # Manifest's, else to the document's own `mediaType`.
    def put_manifest(repository, reference, manifest, media_type: nil, cancel: nil, timeout: nil)
      if manifest.is_a?(Manifest)
        media_type ||= manifest.media_type
        manifest = manifest.bytes
      end
      buf, len = Native.buffer(manifest)
      out = Call.out_ptr
      conn(cancel, timeout) do |c|
        Call.check do |err|
          Native.ocireg_manifest_put(c, Native.cstr(repository), Native.cstr(reference), Native.cstr(media_type),
                                     buf, len, out, err)
        end
      end
      Native.take_string(out)
    end

    # Deletes a manifest by digest (every tag pointing at it goes too).
    def delete_manifest(repository, digest, cancel: nil, timeout: nil)
      conn(cancel, timeout) do |c|
        Call.check { |err| Native.ocireg_manifest_delete(c, Native.cstr(repository), Native.cstr(digest), err) }
      end
      nil
    end

    # Whether the blob is in the repository (HEAD). Absent is false, not an error.
    def blob_exists?(repository, digest, cancel: nil, timeout: nil)
      !blob_size(repository, digest, cancel: cancel, timeout: timeout).nil?
    end

    # The blob's size in bytes, or nil when the repository does not have it (0 when the
    # registry did not say).
    def blob_size(repository, digest, cancel: nil, timeout: nil)
      exists = Native.out(Fiddle::SIZEOF_INT)
      size = Native.out(8)
      conn(cancel, timeout) do |c|
        Call.check do |err|
          Native.ocireg_blob_exists(c, Native.cstr(repository), Native.cstr(digest), exists, size, err)
        end
      end
      Native.read_int(exists).zero? ? nil : Native.read_u64(size)
    end

    # Uploads a blob unless the repository has it, and returns its digest. `data` is:
    # * a String: the bytes;
    # * a Pathname (or anything with #to_path, e.g. a File): that file, streamed;
    # * an IO-like object with #read: streamed; `size:` is its exact length (defaults to
    #   data.size when it has one). `digest:` (optional) lets the upload be skipped when the
    #   blob is already there.
    def push_blob(repository, data, size: nil, digest: nil, cancel: nil, timeout: nil)
      return push_blob_file(repository, data, cancel: cancel, timeout: timeout) if data.respond_to?(:to_path)
      if data.respond_to?(:read)
        return push_blob_stream(repository, data, size: size, digest: digest, cancel: cancel, timeout: timeout)
      end

      buf, len = Native.buffer(data)
      out = Call.out_ptr
      conn(cancel, timeout) do |c|
        Call.check { |err| Native.ocireg_blob_push_bytes(c, Native.cstr(repository), buf, len, out, err) }
      end
      Native.take_string(out)
    end

    # Uploads the file at `path` as a blob (hashed, then streamed) and returns its digest.
    def push_blob_file(repository, path, cancel: nil, timeout: nil)
      out = Call.out_ptr
      conn(cancel, timeout) do |c|
        Call.check { |err| Native.ocireg_blob_push_file(c, Native.cstr(repository), Native.cstr(path), out, err) }
      end
      Native.take_string(out)
    end

    # Uploads exactly `size` bytes read from `io` (anything with #read(n), returning nil or ""
    # at the end), or from the block (called with the most bytes it may return; returns a
    # String, or nil at the end). Returns the digest.
    def push_blob_stream(repository, io = nil, size: nil, digest: nil, cancel: nil, timeout: nil, &block)
      raise ArgumentError, "ocireg: push_blob_stream needs an IO or a block" if io.nil? && block.nil?

      size = io.size if size.nil? && io.respond_to?(:size)
      raise ArgumentError, "ocireg: push_blob_stream needs size: (the exact length)" if size.nil?

      reader = block || ->(cap) { io.read(cap) }
      guard = CallbackGuard.new(-1, Native::READ_FN) do |_userdata, buf, cap|
        chunk = reader.call(cap)
        next 0 if chunk.nil? || chunk.empty?

        raise TypeError, "ocireg: the reader returned a #{chunk.class}, not a String" unless chunk.is_a?(String)
        if chunk.bytesize > cap
          raise ArgumentError, "ocireg: the reader returned #{chunk.bytesize} bytes, more than the #{cap} asked for"
        end

        buf[0, chunk.bytesize] = chunk
        chunk.bytesize
      end
      out = Call.out_ptr
      conn(cancel, timeout) do |c|
        Call.check_guarded(guard, out: out, free_fn: :ocireg_string_free) do |err|
          Native.ocireg_blob_push_stream(c, Native.cstr(repository), guard.fn, nil, Integer(size),
                                         Native.cstr(digest), out, err)
        end
      end
      Native.take_string(out)
    end

    # Mounts a blob from the repository `from` of the same registry. Returns true when the
    # registry mounted it, false when it could not (not an error).
    def mount_blob(repository, from, digest, cancel: nil, timeout: nil)
      mounted = Native.out(Fiddle::SIZEOF_INT)
      conn(cancel, timeout) do |c|
        Call.check do |err|
          Native.ocireg_blob_mount(c, Native.cstr(repository), Native.cstr(from), Native.cstr(digest), mounted, err)
        end
      end
      !Native.read_int(mounted).zero?
    end

    # Deletes a blob from a repository.
    def delete_blob(repository, digest, cancel: nil, timeout: nil)
      conn(cancel, timeout) do |c|
        Call.check { |err| Native.ocireg_blob_delete(c, Native.cstr(repository), Native.cstr(digest), err) }
      end
      nil
    end

    # Downloads and verifies a blob:
    # * `pull_blob(repo, digest)` returns its bytes (a binary String; for small blobs);
    # * `pull_blob(repo, digest, to: "path")` writes it to a file (renamed into place only once
    #   verified) and returns its size;
    # * `pull_blob(repo, digest, to: io)` writes it to anything with #write, and
    #   `pull_blob(repo, digest) { |chunk| ... }` yields it chunk by chunk; both return the size
    #   and verify at the end (the chunks were already handed out). Returning :cancel from the
    #   block, or raising, cancels.
    def pull_blob(repository, digest, to: nil, cancel: nil, timeout: nil, &block)
      if block.nil? && to.nil?
        bytes = Call.out_ptr
        len = Native.out(Fiddle::SIZEOF_SIZE_T)
        conn(cancel, timeout) do |c|
          Call.check do |err|
            Native.ocireg_blob_pull_bytes(c, Native.cstr(repository), Native.cstr(digest), bytes, len, err)
          end
        end
        return Native.take_bytes(bytes, len)
      end

      size = Native.out(8)
      # A path: a String, a Pathname (which has #write too), or anything with #to_path and no #write.
      # (No Pathname can exist unless the program loaded pathname: this file does not load it.)
      to_file = to.is_a?(String) || (defined?(::Pathname) && to.is_a?(::Pathname)) ||
                (!to.respond_to?(:write) && to.respond_to?(:to_path))
      if block.nil? && to_file
        conn(cancel, timeout) do |c|
          Call.check do |err|
            Native.ocireg_blob_pull_to_path(c, Native.cstr(repository), Native.cstr(digest), Native.cstr(to), size,
                                            err)
          end
        end
        return Native.read_u64(size)
      end

      sink = block || ->(chunk) { to.write(chunk) }
      guard = CallbackGuard.new(1, Native::WRITE_FN) do |_userdata, buf, len|
        chunk = len.zero? ? "".b : buf[0, len]
        sink.call(chunk) == :cancel ? 1 : 0
      end
      conn(cancel, timeout) do |c|
        Call.check_guarded(guard) do |err|
          Native.ocireg_blob_pull(c, Native.cstr(repository), Native.cstr(digest), guard.fn, nil, size, err)
        end
      end
      Native.read_u64(size)
    end

    # Opens the blob `digest` of `repository` for reading as a stream: an Ocireg::BlobReader
    # (the GET is sent now, so a missing blob raises NotFoundError here). With a block, yields
    # the reader, closes it afterwards and returns the block's value. `cancel:` / `timeout:`
    # cover the open and every read.
    def blob_reader(repository, digest, cancel: nil, timeout: nil)
      reader = open_blob_reader(repository, digest, cancel, timeout)
      return reader unless block_given?

      begin
        yield reader
      ensure
        reader.close
      end
    end

    # Pushes an image and tags it; returns an Ocireg::Pushed (pass it to #verify).
    #
    # `image` is an Ocireg::Image, an Ocireg::ImageBuilder (built first), or the path of an OCI
    # image layout directory (its manifest tagged `reference`, else its only one). `reference`
    # is a tag, or the image's digest to push untagged. Push options: threads: (1..64),
    # chunk_size: (bytes per PATCH; 0 = monolithic), mount_from: (a repository to mount missing
    # blobs from), skip_existing: (false = always upload). The optional block receives
    # Ocireg::Progress events.
    def push_image(repository, reference, image, threads: nil, chunk_size: nil, mount_from: nil,
                   skip_existing: nil, cancel: nil, timeout: nil, &progress)
      push_opts = { threads: threads, chunk_size: chunk_size, mount_from: mount_from,
                    skip_existing: skip_existing }.compact
      call = [cancel, timeout]
      case image
      when Image
        push_built_image(repository, reference, image, push_opts, progress, call)
      when ImageBuilder
        built = image.build
        begin
          push_built_image(repository, reference, built, push_opts, progress, call)
        ensure
          built.free
        end
      else
        push_layout(repository, reference, image, **push_opts, cancel: cancel, timeout: timeout, &progress)
      end
    end

    # Pushes the image of the OCI image layout `layout_dir` under `tag` (the layout's manifest
    # tagged `tag` if it has one, else its only one), with the push options of #push_image.
    # Returns an Ocireg::Pushed.
    def push_layout(repository, tag, layout_dir, threads: nil, chunk_size: nil, mount_from: nil,
                    skip_existing: nil, cancel: nil, timeout: nil, &progress)
      out = PushOptions.with(threads: threads, chunk_size: chunk_size, mount_from: mount_from,
                             skip_existing: skip_existing) do |opts|
        progress_call(progress, :ocireg_pushed_free, cancel, timeout) do |c, fn, o, err|
          Native.ocireg_push_layout(c, Native.cstr(repository), Native.cstr(tag), Native.cstr(layout_dir),
                                    opts, fn, nil, o, err)
        end
      end
      Pushed.__send__(:wrap, out.ptr)
    end

    # Checks that what was pushed (an Ocireg::Pushed, or an Ocireg::Pulled) is in `repository`:
    # every blob, the manifest by its tag (by digest without one). Returns the Ocireg::VerifyReport when every
    # check passed; otherwise raises Ocireg::VerifyFailedError carrying the report (#report),
    # or, with `raise_on_failure: false`, returns the report whatever the outcome.
    def verify(repository, pushed, raise_on_failure: true, cancel: nil, timeout: nil)
      return verify_pulled(repository, pushed, raise_on_failure, cancel, timeout) if pushed.is_a?(Pulled)

      unless pushed.is_a?(Pushed)
        raise TypeError, "ocireg: verify needs an Ocireg::Pushed or Ocireg::Pulled, not #{pushed.class}"
      end

      out = Call.out_ptr
      err = Call.out_ptr
      status = conn(cancel, timeout) do |c|
        pushed.__send__(:handle).use do |p|
          Native.ocireg_verify(c, Native.cstr(repository), p, out, err)
        end
      end
      raw = out.ptr
      report = VerifyReport.__send__(:wrap, raw) if [0, VerifyFailedError::STATUS].include?(status) && !raw.null?
      return report if status.zero?

      error = Error.from_native(status, err.ptr)
      raise error unless error.is_a?(VerifyFailedError)
      return report unless raise_on_failure

      error.report = report
      raise error
    end

    # Pulls an image (or an index with its children, or one platform's image of an index) into
    # the OCI image layout directory `dir`. `platform:` is "os/arch[/variant]"; `threads:` the
    # parallel downloads (default 8). The optional block receives Ocireg::Progress events.
    # Returns an Ocireg::Pulled.
    def pull_image(repository, reference, dir, platform: nil, threads: nil, cancel: nil, timeout: nil,
                   &progress)
      out = progress_call(progress, :ocireg_pulled_free, cancel, timeout) do |c, fn, o, err|
        Native.ocireg_pull_image(c, Native.cstr(repository), Native.cstr(reference), Native.cstr(dir),
                                 Native.cstr(platform), Integer(threads || 0), fn, nil, o, err)
      end
      Pulled.__send__(:wrap, out.ptr)
    end

    private

    # Yields the client's pointer for one call: this client itself, or, with `cancel` and/or
    # `timeout`, a client bound to them for this call only (freed afterwards).
    def conn(cancel = nil, timeout = nil, &block)
      return @handle.use(&block) if cancel.nil? && timeout.nil?

      bound = bind_raw(cancel, timeout)
      begin
        yield bound
      ensure
        Native.ocireg_client_free(bound)
      end
    end

    def open_blob_reader(repository, digest, cancel, timeout)
      out = Call.out_ptr
      conn(cancel, timeout) do |c|
        # The cancel handle is already in the bound client (which the reader clones): none here.
        Call.check do |err|
          Native.ocireg_blob_reader_open(c, Native.cstr(repository), Native.cstr(digest), nil, out, err)
        end
      end
      BlobReader.__send__(:wrap, out.ptr).__send__(:setup, repository, digest)
    end

    # A Client object owning a bound client.
    def bound_client(cancel, timeout)
      bound = self.class.allocate
      bound.instance_variable_set(:@keep, @keep)
      bound.instance_variable_set(:@handle, Handle.new(bind_raw(cancel, timeout), :ocireg_client_free))
      bound
    end

    # An owned, bound `ocireg_client *` (ocireg_client_bind).
    def bind_raw(cancel, timeout)
      unless cancel.nil? || cancel.is_a?(Cancel)
        raise TypeError, "ocireg: cancel: must be an Ocireg::Cancel, not #{cancel.class}"
      end

      ms = 0
      unless timeout.nil?
        seconds = Float(timeout)
        raise ArgumentError, "ocireg: timeout: must be positive (seconds)" unless seconds.positive?

        ms = [(seconds * 1000).ceil, 1].max
      end
      out = Call.out_ptr
      Cancel.use(cancel) do |cp|
        @handle.use { |c| Call.check { |err| Native.ocireg_client_bind(c, cp, ms, out, err) } }
      end
      out.ptr
    end

    # Runs one C call that reports progress, with the block `progress` (or nil) as its
    # callback: yields the client's pointer (bound to `cancel`/`timeout` as in #conn), the
    # callback (nil without a block), the out-pointer, the error pointer and, with `to:`
    # (another Client), that client's pointer, bound alike (nil without). An exception of the
    # block is raised again after the output is freed with `free_fn` (the name of a Native
    # function). Returns the out-pointer.
    def progress_call(progress, free_fn, cancel, timeout, to: nil)
      guard = CallbackGuard.progress(progress)
      out = Call.out_ptr
      conn(cancel, timeout) do |c|
        call = lambda do |d|
          Call.check_guarded(guard, out: out, free_fn: free_fn) do |err|
            yield c, guard&.fn, out, err, d
          end
        end
        to.nil? ? call.call(nil) : to.__send__(:conn, cancel, timeout, &call)
      end
      out
    end

    def list_call(cancel, timeout)
      out = Call.out_ptr
      conn(cancel, timeout) { |c| Call.check { |err| yield c, out, err } }
      Native.take_string_list(out)
    end

    def page_call(cancel, timeout)
      out = Call.out_ptr
      next_out = Call.out_ptr
      conn(cancel, timeout) { |c| Call.check { |err| yield c, out, next_out, err } }
      items = Native.take_string_list(out)
      Page.new(items, Native.take_string(next_out))
    end

    def push_built_image(repository, reference, image, push_opts, progress, (cancel, timeout))
      out = PushOptions.with(**push_opts) do |opts|
        image.__send__(:handle).use do |img|
          progress_call(progress, :ocireg_pushed_free, cancel, timeout) do |c, fn, o, err|
            Native.ocireg_push_image(c, Native.cstr(repository), Native.cstr(reference), img, opts, fn, nil, o, err)
          end
        end
      end
      Pushed.__send__(:wrap, out.ptr)
    end

    def verify_pulled(repository, pulled, raise_on_failure, cancel, timeout)
      pushed = pulled.to_pushed
      begin
        verify(repository, pushed, raise_on_failure: raise_on_failure, cancel: cancel, timeout: timeout)
      ensure
        pushed.free
      end
    end
  end

  # Internal: builds an `ocireg_push_options *` (NULL when no option is given), yields it, and
  # frees it.
  module PushOptions
    module_function

    def with(threads: nil, chunk_size: nil, mount_from: nil, skip_existing: nil)
      if threads.nil? && chunk_size.nil? && mount_from.nil? && skip_existing.nil?
        return yield(nil)
      end

      out = Call.out_ptr
      Call.check { |err| Native.ocireg_push_options_new(out, err) }
      opts = out.ptr
      begin
        Call.check { |err| Native.ocireg_push_options_set_threads(opts, Integer(threads), err) } unless threads.nil?
        unless chunk_size.nil?
          Call.check { |err| Native.ocireg_push_options_set_chunked(opts, Integer(chunk_size), err) }
        end
        unless mount_from.nil?
          Call.check { |err| Native.ocireg_push_options_set_mount_from(opts, Native.cstr(mount_from), err) }
        end
        unless skip_existing.nil?
          Call.check { |err| Native.ocireg_push_options_set_skip_existing(opts, skip_existing ? 1 : 0, err) }
        end
        yield opts
      ensure
        Native.ocireg_push_options_free(opts)
      end
    end
  end
  private_constant :PushOptions
end
