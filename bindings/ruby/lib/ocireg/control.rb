# frozen_string_literal: true

module Ocireg
  # A cancellation handle. Pass it as `cancel:` to any network call (or to Client#bind);
  # #cancel, from any thread, makes those calls raise Ocireg::CancelledError promptly (within
  # a second), even while the registry is silent in the middle of a body, with nothing
  # half-written. Once cancelled it stays cancelled: calls made with it later fail at once.
  #
  #   cancel = Ocireg::Cancel.new
  #   worker = Thread.new { client.pull_image("team/app", "v1", "out", cancel: cancel) }
  #   cancel.cancel                      # from this thread
  #   worker.join                        # => raises Ocireg::CancelledError in the worker
  class Cancel
    # #close frees the handle now (else the garbage collector does); calls already bound to it
    # keep their state.
    include ClosesHandle

    def initialize
      out = Call.out_ptr
      Call.check { |err| Native.ocireg_cancel_new(out, err) }
      @handle = Handle.new(out.ptr, :ocireg_cancel_free)
    end

    # Cancels every call made with this handle, now and later. Callable from any thread, any
    # number of times. Returns self.
    def cancel
      @handle.use { |h| Native.ocireg_cancel_trigger(h) }
      self
    end
    alias trigger cancel

    # Whether #cancel was called.
    def cancelled?
      @handle.use { |h| Native.ocireg_cancel_is_triggered(h) == 1 }
    end
    alias triggered? cancelled?

    def inspect
      "#<#{self.class.name} #{closed? ? 'closed' : (cancelled? ? 'cancelled' : 'armed')}>"
    end

    # Internal: yields the raw pointer of `cancel` (NULL for nil) while it is in use.
    def self.use(cancel, &block)
      return yield(nil) if cancel.nil?

      cancel.__send__(:handle).use(&block)
    end

    private

    attr_reader :handle
  end

  # One retry, as told to the `retry_notify:` callable of Client.new (the Go seed's
  # RetryNotify): the request's `method` and `path` (no query), `attempt` (1 for the first
  # retry), `status` (the HTTP status that caused it; nil for a connection error or a timeout),
  # `reason` (the error text) and `delay` (seconds ocireg waits before retrying, a Float).
  RetryEvent = Struct.new(:method, :path, :attempt, :status, :reason, :delay) do
    # The delay in whole milliseconds, as the library counts it.
    def delay_ms
      (delay * 1000).round
    end
  end

  # Internal: wraps a retry_notify callable into an `ocireg_retry_fn`.
  module RetryNotify
    module_function

    # An `ocireg_retry_fn` calling `callable` with an Ocireg::RetryEvent, as Native.closure makes
    # it (a Fiddle::Pinned: pass its #ref). Nothing it raises (nor a break / throw out of it)
    # reaches the library: an exception is reported with Kernel#warn.
    def function(callable)
      unless callable.respond_to?(:call)
        raise TypeError, "ocireg: retry_notify: must respond to #call, not #{callable.class}"
      end

      Native.closure(Native::RETRY_FN) do |_userdata, method, path, attempt, status, reason, delay_ms|
        event = RetryEvent.new(Native.borrowed_string(method), Native.borrowed_string(path), attempt,
                               status.zero? ? nil : status, Native.borrowed_string(reason), delay_ms / 1000.0)
        invoke(callable, event)
      end
    end

    # rubocop:disable Lint/RescueException, Lint/EnsureReturn
    def invoke(callable, event)
      finished = false
      begin
        callable.call(event)
        finished = true
      rescue Exception => e
        finished = true
        warn "ocireg: the retry_notify callback raised #{e.class}: #{e.message} (ignored; the retry goes on)"
      ensure
        unless finished
          warn "ocireg: the retry_notify callback was left with break/throw/return (ignored)"
          return nil
        end
      end
      nil
    end
    # rubocop:enable Lint/RescueException, Lint/EnsureReturn
  end
  private_constant :RetryNotify

  # A blob read as a stream (Client#blob_reader): an IO-like object. The bytes are verified as
  # they come: the read that reaches the end raises Ocireg::DigestMismatchError when they do not
  # hash to the digest (a body longer than announced is Ocireg::ProtocolError); a broken
  # connection is resumed with `Range`. Memory stays bounded by the read sizes.
  #
  #   client.blob_reader("team/app", digest) do |blob|
  #     blob.each_chunk { |chunk| file.write(chunk) }
  #   end
  #
  # Usable from one thread at a time (calls are serialised with a Mutex).
  class BlobReader
    include OwnsHandle
    # #close frees the reader and closes its connection.
    include ClosesHandle
    FREE_FN = :ocireg_blob_reader_free

    # The default chunk size of #each_chunk and of read(nil).
    CHUNK_SIZE = 64 * 1024

    attr_reader :repository, :digest

    # Internal: set up by Client#blob_reader.
    def setup(repository, digest)
      @repository = repository
      @digest = digest
      @pos = 0
      @eof = false
      @lock = Mutex.new
      @buffer = nil
      self
    end
    private :setup

    # The blob's size in bytes.
    def size
      @handle.use { |r| Native.ocireg_blob_reader_size(r) }
    end
    alias length size

    # Bytes read so far.
    def pos
      @pos
    end
    alias tell pos

    # Whether the end was reached (and the digest verified).
    def eof?
      @eof
    end
    alias eof eof?

    # Reads like IO#read: with no `length`, everything left (a binary String, "" at the end);
    # with a `length`, up to `length` bytes (fewer only at the end), nil at the end. `outbuf`,
    # when given, receives the bytes and is returned.
    def read(length = nil, outbuf = nil)
      unless length.nil?
        length = Integer(length)
        raise ArgumentError, "negative length #{length} given" if length.negative?
      end
      # The bytes go straight into `outbuf` (its memory is reused from call to call).
      data = outbuf.nil? ? "".b : outbuf.clear.force_encoding(Encoding::BINARY)
      if length.nil?
        while (chunk = read_once(CHUNK_SIZE))
          data << chunk
        end
        return data
      end
      while data.bytesize < length && (chunk = read_once(length - data.bytesize))
        data << chunk
      end
      data.empty? && length.positive? ? nil : data
    end

    # Reads what one underlying read returns, at most `maxlen` bytes; EOFError at the end.
    def readpartial(maxlen, outbuf = nil)
      chunk = read_once(Integer(maxlen))
      raise EOFError, "end of blob #{@digest}" if chunk.nil? && maxlen.positive?

      chunk ||= "".b
      return chunk if outbuf.nil?

      outbuf.replace(chunk)
    end

    # Yields the rest of the blob in chunks of at most `chunk_size` bytes (the last read, which
    # verifies the digest, raises on a mismatch). Returns self; an Enumerator without a block.
    def each_chunk(chunk_size = CHUNK_SIZE)
      return enum_for(:each_chunk, chunk_size) unless block_given?

      chunk_size = Integer(chunk_size)
      raise ArgumentError, "chunk_size must be positive" unless chunk_size.positive?

      while (chunk = read_once(chunk_size))
        yield chunk
      end
      self
    end

    def inspect
      "#<#{self.class.name} #{@repository}@#{@digest} #{closed? ? 'closed' : "#{@pos}/#{size}"}>"
    end

    private

    # One ocireg_blob_reader_read of at most `max` bytes: a binary String, or nil at the end.
    def read_once(max)
      return "".b if max.zero?

      @lock.synchronize do
        return nil if @eof

        # At most CHUNK_SIZE per native read: small enough for malloc to reuse the memory
        # (bigger Strings are mmapped, and freed pages linger), big enough to be cheap.
        want = [max, CHUNK_SIZE].min
        @buffer = Native.out(want) if @buffer.nil? || @buffer.size < want
        n = Native.out(Fiddle::SIZEOF_SIZE_T)
        @handle.use do |r|
          Call.check { |err| Native.ocireg_blob_reader_read(r, @buffer, want, n, err) }
        end
        count = Native.read_size(n)
        if count.zero?
          @eof = true
          return nil
        end
        @pos += count
        @buffer[0, count]
      end
    end
  end

  # Asynchronous interrupts wait while a method of these classes runs (interrupts.rb).
  [Cancel, BlobReader].each { |target| InterruptMask.apply(target) }
end
