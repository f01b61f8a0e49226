# frozen_string_literal: true

module Ocireg
  # Internal: defers asynchronous interrupts (Thread#raise, Thread#kill, Ctrl-C, Timeout) while a
  # method of the API runs, so that one never lands between a C call and the freeing of what it
  # returned (which would leak it), nor inside a C callback (where it would unwind through the
  # library's frames). The interrupt is raised as soon as the method returns or raises; callbacks
  # of long operations poll for it and cancel the operation (see CallbackGuard).
  module InterruptMask
    # Methods that yield to a user's block outside any C call stay interruptible.
    SKIP = %i[open bind blob_reader each_chunk].freeze

    # The body of every wrapper: the wrapped method (`super` finds it by the wrapper's name), with
    # asynchronous interrupts deferred.
    MASKED = proc do |*args, **kwargs, &block|
      Thread.handle_interrupt(Object => :never) { super(*args, **kwargs, &block) }
    end

    # Wraps every method defined directly in `target` (a class, module or singleton class).
    def self.apply(target)
      visibility = {}
      target.public_instance_methods(false).each { |name| visibility[name] = :public }
      target.protected_instance_methods(false).each { |name| visibility[name] = :protected }
      target.private_instance_methods(false).each { |name| visibility[name] = :private }
      SKIP.each { |name| visibility.delete(name) }
      return if visibility.empty?

      wrapper = Module.new do
        visibility.each do |name, kind|
          define_method(name, MASKED)
          __send__(kind, name)
        end
      end
      target.prepend(wrapper)
    end
  end
  private_constant :InterruptMask
end
