# frozen_string_literal: true

# Ruby binding of ocireg, a synchronous OCI / Docker registry client (libocireg's C ABI, through
# Fiddle). See README.md.
#
#   require "ocireg"
#   client = Ocireg::Client.new("http://127.0.0.1:5000", username: "alice", password: "secret")
#   client.tags("team/app")
module Ocireg
end

require_relative "ocireg/version"
require_relative "ocireg/native"
require_relative "ocireg/errors"
require_relative "ocireg/handle"
require_relative "ocireg/interrupts"
require_relative "ocireg/options"
require_relative "ocireg/client"
require_relative "ocireg/operations"

module Ocireg
  # Loaded when first used, so that `require "ocireg"` does not compile them for a program that
  # never does: images and push / pull results (lib/ocireg/image.rb); cancellation, retry events
  # and streamed blob reads (control.rb); the in-memory test registry (testing.rb).
  image = File.expand_path("ocireg/image", __dir__)
  %i[Image ImageBuilder Pushed Pulled VerifyReport].each { |name| autoload name, image }
  control = File.expand_path("ocireg/control", __dir__)
  %i[Cancel RetryEvent RetryNotify BlobReader].each { |name| autoload name, control }
  autoload :Testing, File.expand_path("ocireg/testing", __dir__)
end

module Ocireg
  # OCIREG_PROGRESS_*, OCIREG_OUTCOME_*, OCIREG_TIMEOUT_*, OCIREG_TEST_AUTH_* live on as
  # Symbols: see Ocireg::Progress, Ocireg::VerifyReport#outcome, the timeouts: option and
  # Ocireg::Testing::Registry.

  class << self
    # The version of the loaded libocireg, e.g. "0.1.0".
    def library_version
      Native.borrowed_string(Native.ocireg_version)
    end

    # The C ABI version of the loaded library (checked at load time).
    def abi_version
      Native.ocireg_abi_version
    end

    # The name of a status code, e.g. status_name(5) => "OCIREG_NOT_FOUND".
    def status_name(status)
      Native.borrowed_string(Native.ocireg_status_name(Integer(status)))
    end

    # Checks `username` / `password` against `registry` (a host, "host:port" or a URL), then
    # stores them in the docker config (`docker_config:`, else the default one) or its
    # credential helper. Returns where they went, e.g. "config file /home/me/.docker/config.json".
    # Other keyword arguments (insecure:, ca_cert:, timeouts: ...) are the client options used
    # for the check. Raises AuthenticationError (nothing stored) when the registry refuses them.
    # `cancel:` (an Ocireg::Cancel) stops the check from another thread with CancelledError;
    # nothing is stored then.
    def login(registry, username, password, docker_config: nil, cancel: nil, **options)
      raise TypeError, "cancel: must be an Ocireg::Cancel, not #{cancel.class}" unless cancel.nil? || cancel.is_a?(Cancel)

      out = Call.out_ptr
      Options.with(**options) do |opts|
        Cancel.use(cancel) { |c| Call.check { |err| Native.ocireg_options_set_cancel(opts, c, err) } } if cancel
        Call.check do |err|
          Native.ocireg_login(Native.cstr(registry), Native.cstr(username), Native.cstr(password),
                              Native.cstr(docker_config), opts, out, err)
        end
      end
      Native.take_string(out)
    end

    # Removes the stored credentials of `registry`. Returns true when something was removed,
    # false when nothing was stored.
    def logout(registry, docker_config: nil)
      removed = Native.out(Fiddle::SIZEOF_INT)
      Call.check do |err|
        Native.ocireg_logout(Native.cstr(registry), Native.cstr(docker_config), removed, err)
      end
      !Native.read_int(removed).zero?
    end
  end
end

module Ocireg
  # Asynchronous interrupts wait while a method of the API runs (interrupts.rb); image.rb,
  # control.rb and testing.rb do the same for their classes when they are loaded.
  [Client, OwnsHandle, OwnsHandle::ClassMethods, ClosesHandle, singleton_class].each do |target|
    InterruptMask.apply(target)
  end
end
