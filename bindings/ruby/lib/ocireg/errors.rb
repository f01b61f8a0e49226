# frozen_string_literal: true

module Ocireg
  # One entry of a registry's `{"errors": [...]}` answer: `code` (e.g. "MANIFEST_UNKNOWN", ""
  # when the entry had none), `message` ("" when none) and `detail`, the entry's detail as JSON
  # text (nil when it had none). #detail_value parses it.
  ErrorEntry = Struct.new(:code, :message, :detail) do
    # The detail parsed from JSON (a Hash, Array, String ...; nil when there was none).
    def detail_value
      detail.nil? ? nil : Native.parse_json(detail)
    rescue JSON::ParserError
      detail
    end
  end

  # Base class of every error ocireg raises (like docker_registry2's DockerRegistry::Exception).
  #
  # Each `ocireg_status` of the C library has its own subclass; the details of the C error
  # object are kept:
  #
  # * #status        - the numeric `ocireg_status` (e.g. 5)
  # * #status_name   - its name (e.g. "OCIREG_NOT_FOUND")
  # * #http_status   - the HTTP status behind the error (401, 404, 429 ...), or nil
  # * #registry_code - the first OCI error code the registry sent ("NAME_UNKNOWN" ...), or nil
  # * #errors        - every entry of the registry's `errors[]` (Ocireg::ErrorEntry), [] if none
  # * #body          - the registry's error answer as it came (at most 64 KiB), or nil
  # * #retry_after   - for RateLimitedError and a 503: seconds the registry asked to wait, or nil
  class Error < StandardError
    attr_reader :status, :http_status, :registry_code, :retry_after, :errors, :body

    def initialize(message = nil, status: nil, http_status: nil, registry_code: nil, retry_after: nil,
                   errors: [], body: nil)
      super(message)
      @status = status || self.class::STATUS
      @http_status = http_status
      @registry_code = registry_code
      @retry_after = retry_after
      @errors = errors.freeze
      @body = body
    end

    STATUS = nil

    # The status name, e.g. "OCIREG_AUTHENTICATION" (nil when there is no status).
    def status_name
      @status && Native.borrowed_string(Native.ocireg_status_name(@status))
    end
  end

  # 1: a required argument was missing, not UTF-8, or malformed.
  class InvalidArgumentError < Error; STATUS = 1; end
  # 2: an image reference, repository name, tag or digest is malformed.
  class InvalidReferenceError < Error; STATUS = 2; end
  # 3: the registry rejected the credentials or demands some that were not given (401).
  class AuthenticationError < Error; STATUS = 3; end
  # 4: the credentials do not grant this operation (403, DENIED, insufficient scope).
  class AuthorizationError < Error; STATUS = 4; end
  # 5: the repository, tag, manifest or blob does not exist (404).
  class NotFoundError < Error; STATUS = 5; end
  # 6: TLS failed (untrusted certificate, wrong host name, handshake, bad PEM).
  class TlsError < Error; STATUS = 6; end
  # 7: the registry could not be reached, or the connection broke.
  class NetworkError < Error; STATUS = 7; end
  # 8: a configured timeout expired.
  class TimeoutError < Error; STATUS = 8; end
  # 9: HTTP 429 that persisted through the retry policy; see #retry_after.
  class RateLimitedError < Error; STATUS = 9; end
  # 10: any other error answer from the registry; see #http_status and #registry_code.
  class RegistryError < Error; STATUS = 10; end
  # 11: content did not hash to the digest it should have.
  class DigestMismatchError < Error; STATUS = 11; end
  # 12: the registry does not implement the API this operation needs (e.g. no catalog).
  class UnsupportedError < Error; STATUS = 12; end
  # 13: a credential store, helper program or docker config file failed.
  class CredentialsError < Error; STATUS = 13; end
  # 14: a local file operation failed.
  class IoError < Error; STATUS = 14; end
  # 15: the operation was cancelled (a progress/read/write callback asked to stop).
  class CancelledError < Error; STATUS = 15; end

  # 16: a push verification ran and says the push is not correct. #report holds the
  # Ocireg::VerifyReport (nil if none came back).
  class VerifyFailedError < Error
    STATUS = 16
    attr_accessor :report
  end

  # 17: the registry answered something a registry must not (a cross-origin Link or redirect,
  # a wrong Range answer, an oversized body): not the caller's fault.
  class ProtocolError < Error; STATUS = 17; end

  # 99: a Rust panic was caught at the boundary (a bug in ocireg).
  class PanicError < Error; STATUS = 99; end

  # Aliases for code written against docker_registry2's exception names.
  RegistryAuthenticationException = AuthenticationError
  RegistryAuthorizationException = AuthorizationError
  RegistrySSLException = TlsError
  RegistryUnknownException = NotFoundError

  # status number => exception class
  ERRORS_BY_STATUS = [
    InvalidArgumentError, InvalidReferenceError, AuthenticationError, AuthorizationError,
    NotFoundError, TlsError, NetworkError, TimeoutError, RateLimitedError, RegistryError,
    DigestMismatchError, UnsupportedError, CredentialsError, IoError, CancelledError,
    VerifyFailedError, ProtocolError, PanicError
  ].to_h { |klass| [klass::STATUS, klass] }.freeze

  class Error
    # Builds the exception for `status` from an `ocireg_error *` (which may be NULL) and frees
    # the error object.
    def self.from_native(status, err_ptr)
      if err_ptr.nil? || err_ptr.null?
        name = Native.borrowed_string(Native.ocireg_status_name(status))
        klass = ERRORS_BY_STATUS.fetch(status, Error)
        return klass.new("#{name} (no error details)", status: status)
      end

      begin
        status = Native.ocireg_error_status(err_ptr)
        message = Native.borrowed_string(Native.ocireg_error_message(err_ptr))
        http = Native.ocireg_error_http_status(err_ptr)
        code = Native.borrowed_string(Native.ocireg_error_registry_code(err_ptr))
        retry_after = Native.ocireg_error_retry_after_secs(err_ptr)
        entries = Array.new(Native.ocireg_error_registry_error_count(err_ptr)) do |i|
          ErrorEntry.new(Native.borrowed_string(Native.ocireg_error_registry_error_code(err_ptr, i)),
                         Native.borrowed_string(Native.ocireg_error_registry_error_message(err_ptr, i)),
                         Native.borrowed_string(Native.ocireg_error_registry_error_detail(err_ptr, i)))
        end
        body = Native.borrowed_string(Native.ocireg_error_body(err_ptr))
      ensure
        Native.ocireg_error_free(err_ptr)
      end
      ERRORS_BY_STATUS.fetch(status, Error).new(
        message, status: status, http_status: http.zero? ? nil : http, registry_code: code,
                 retry_after: retry_after.negative? ? nil : retry_after, errors: entries, body: body
      )
    end
  end

  # Internal: runs a C call that takes an `ocireg_error **` last, and raises the matching
  # Ocireg::Error when it fails. The block receives the error out-parameter.
  module Call
    module_function

    # Yields the `ocireg_error **` out-parameter; returns the status on OCIREG_OK, raises
    # otherwise (the error object is always freed).
    def check
      err = Native.out
      status = yield err
      return status if status.zero?

      raise Error.from_native(status, err.ptr)
    end

    # A fresh `T **` out-parameter.
    def out_ptr
      Native.out
    end
  end
  private_constant :Call
end
