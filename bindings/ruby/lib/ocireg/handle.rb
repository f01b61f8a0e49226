# frozen_string_literal: true

module Ocireg
  # Internal: owns one library handle (client, image, push result ...) and frees it exactly
  # once, with its own `_free` function: on #close, or when the Ruby object is garbage-collected
  # (the Fiddle::Pointer's free function, which #close clears before calling it).
  #
  # Calls go through #use, which counts the calls in flight; #close waits for them to finish
  # before freeing, so a handle is never freed under a running call on another thread. After
  # #close, #use yields NULL and the library answers OCIREG_INVALID_ARGUMENT (or NULL / 0 from
  # accessors) - the binding adds no checks of its own.
  class Handle
    # `raw` is the Fiddle::Pointer the library returned; `free_fn` the name of its Native free
    # function (e.g. :ocireg_client_free).
    def initialize(raw, free_fn)
      raise ArgumentError, "ocireg: NULL handle" if raw.nil? || raw.null?

      @ptr = Fiddle::Pointer.new(raw.to_i, 0, Native.address(free_fn))
      @free_fn = free_fn
      @lock = Mutex.new
      @idle = ConditionVariable.new
      @busy = Hash.new(0) # thread => calls in flight
      @closed = false
    end

    def closed?
      @closed
    end

    # Yields the raw pointer (nil, i.e. NULL, once closed) while counting the call as in flight.
    def use
      ptr = @lock.synchronize do
        next nil if @closed

        @busy[Thread.current] += 1
        @ptr
      end
      return yield(nil) if ptr.nil?

      begin
        yield ptr
      ensure
        @lock.synchronize do
          @busy[Thread.current] -= 1
          @busy.delete(Thread.current) if @busy[Thread.current].zero?
          @idle.broadcast if @busy.empty?
        end
      end
    end

    # Frees the handle once every call in flight has returned. Idempotent; returns true when
    # this call freed it.
    def close
      ptr = @lock.synchronize do
        next nil if @closed

        if @busy.key?(Thread.current)
          raise InvalidArgumentError.new("cannot close a handle from inside a call on it (e.g. in its " \
                                         "progress block)", status: InvalidArgumentError::STATUS)
        end
        @closed = true
        @idle.wait(@lock) until @busy.empty?
        @ptr
      end
      return false unless ptr

      # Through Native (which releases the GVL for the blocking ones), and never again by the GC.
      ptr.free = nil
      Native.__send__(@free_fn, ptr)
      true
    end
  end
  private_constant :Handle

  # Internal: the common part of the classes that own one library handle.
  module OwnsHandle
    def self.included(base)
      base.extend(ClassMethods)
      base.private_class_method :new
    end

    module ClassMethods
      private

      # Wraps a freshly returned handle (the library's pointer) into a new Ruby object.
      def wrap(raw)
        obj = allocate
        obj.instance_variable_set(:@handle, Handle.new(raw, self::FREE_FN))
        obj
      end
    end

    # Frees the library object now (else the garbage collector does). Idempotent.
    def free
      @handle.close
      nil
    end
    alias close free

    def freed?
      @handle.closed?
    end

    private

    attr_reader :handle

    def borrowed(fn)
      @handle.use { |h| Native.borrowed_string(Native.__send__(fn, h)) }
    end

    def owned_string(fn)
      out = Call.out_ptr
      @handle.use { |h| Call.check { |err| Native.__send__(fn, h, out, err) } }
      Native.take_string(out)
    end
  end
  private_constant :OwnsHandle

  # Internal: #close and #closed? of the public objects that own one Handle in @handle and
  # are closed, not freed (Client, Cancel, BlobReader).
  module ClosesHandle
    # Frees the library object now (else the garbage collector does), once the calls running
    # on it in other threads have returned. Idempotent.
    def close
      @handle.close
      nil
    end

    def closed?
      @handle.closed?
    end
  end
  private_constant :ClosesHandle

  # Internal: turns a Ruby block into a C callback that never lets a Ruby exception (or a
  # break / throw / return out of the block) cross into C. The first such exit is stored in
  # #error, the callback returns `abort_value` (so the library cancels the operation), and the
  # caller re-raises #error once the C call has returned.
  #
  # Asynchronous interrupts (Thread#raise, Thread#kill, Ctrl-C) are masked for the whole C call
  # by Call.check_guarded, because one delivered while the callback runs would unwind through
  # the library's frames. A callback that finds one pending cancels the operation instead; the
  # interrupt is delivered as soon as the C call has returned.
  #
  # #fn is the Fiddle::Closure to pass to the library; the guard (and so the closure) must stay
  # referenced for as long as the library may call it, i.e. until the C call has returned.
  class CallbackGuard
    attr_reader :error

    # `type` is the callback's type, e.g. Native::READ_FN.
    def initialize(abort_value, type, &body)
      @error = nil
      @interrupted = false
      guard = self
      @closure = Native.closure(type) do |*args|
        guard.__send__(:invoke, abort_value, body, args)
      end
    end

    # The callback, for the C call.
    def fn
      @closure.ref
    end

    # Whether a callback cancelled the operation because an interrupt was pending.
    def interrupted?
      @interrupted
    end

    private

    # rubocop:disable Lint/RescueException, Lint/EnsureReturn
    def invoke(abort_value, body, args)
      return abort_value if @error || @interrupted

      if Thread.pending_interrupt?
        @interrupted = true
        return abort_value
      end

      finished = false
      begin
        result = body.call(*args)
        finished = true
        result
      rescue Exception => e
        @error = e
        finished = true
        abort_value
      ensure
        unless finished
          # break, throw or return out of the block: stop it here, cancel the operation.
          @error = CancelledError.new("ocireg: callback block was left with break/throw/return; " \
                                      "operation cancelled", status: CancelledError::STATUS)
          return abort_value
        end
      end
    end
    # rubocop:enable Lint/RescueException, Lint/EnsureReturn
  end
  private_constant :CallbackGuard

  module Call
    module_function

    # Like #check, for a call that runs callbacks through `guard` (may be nil). Asynchronous
    # interrupts are deferred until the C call has returned and its results are taken care of.
    # An exception stored by the guard wins (after freeing the C error object, or the output
    # `free_fn` would own if the call still succeeded).
    def check_guarded(guard, out: nil, free_fn: nil)
      failure = Thread.handle_interrupt(Object => :never) do
        err = Native.out
        status = yield err
        if guard&.error || guard&.interrupted?
          if status.zero?
            Native.__send__(free_fn, out.ptr) if out && free_fn
          else
            Native.ocireg_error_free(err.ptr)
          end
          next guard.error if guard.error

          # The pending interrupt is raised instead, on leaving this block (or the API method).
          next CancelledError.new("ocireg: operation cancelled by an interrupt", status: CancelledError::STATUS)
        end
        next nil if status.zero?

        Error.from_native(status, err.ptr)
      end
      # A pending interrupt (the reason a callback cancelled) has been raised on leaving the
      # block above; otherwise report the failure.
      raise failure if failure

      0
    end
  end
end
