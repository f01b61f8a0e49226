# frozen_string_literal: true

require_relative "test_helper"

class ErrorsTest < Minitest::Test
  include OciregTestHelpers

  def setup
    @registry = start_registry
    @client = client_for(@registry)
    @registry.add_image("team/app", "v1", config: "{}", layers: ["x"])
  end

  def test_hierarchy
    expected = {
      1 => Ocireg::InvalidArgumentError, 2 => Ocireg::InvalidReferenceError,
      3 => Ocireg::AuthenticationError, 4 => Ocireg::AuthorizationError, 5 => Ocireg::NotFoundError,
      6 => Ocireg::TlsError, 7 => Ocireg::NetworkError, 8 => Ocireg::TimeoutError,
      9 => Ocireg::RateLimitedError, 10 => Ocireg::RegistryError, 11 => Ocireg::DigestMismatchError,
      12 => Ocireg::UnsupportedError, 13 => Ocireg::CredentialsError, 14 => Ocireg::IoError,
      15 => Ocireg::CancelledError, 16 => Ocireg::VerifyFailedError, 17 => Ocireg::ProtocolError,
      99 => Ocireg::PanicError
    }
    assert_equal expected, Ocireg::ERRORS_BY_STATUS
    expected.each do |status, klass|
      assert_operator klass, :<, Ocireg::Error
      assert_operator Ocireg::Error, :<, StandardError
      assert_equal status, klass.new("m").status
      assert_equal Ocireg.status_name(status), klass.new("m").status_name
      refute_equal "OCIREG_UNKNOWN_STATUS", Ocireg.status_name(status)
    end
  end

  def test_unknown_repository_has_registry_code
    error = assert_raises(Ocireg::NotFoundError) { @client.tags("no/such-repo") }
    assert_equal 5, error.status
    assert_equal 404, error.http_status
    assert_equal "NAME_UNKNOWN", error.registry_code
    assert_nil error.retry_after
    assert_match(%r{no/such-repo}, error.message)

    error = assert_raises(Ocireg::NotFoundError) { @client.manifest("team/app", "nope") }
    assert_equal "MANIFEST_UNKNOWN", error.registry_code
  end

  def test_bad_references
    assert_raises(Ocireg::InvalidReferenceError) { @client.tags("Bad Repo") }
    assert_raises(Ocireg::InvalidReferenceError) { @client.manifest("team/app", "bad tag!") }
    assert_raises(Ocireg::InvalidReferenceError) { @client.pull_blob("team/app", "sha256:xyz") }
    assert_raises(Ocireg::InvalidReferenceError) { @client.push_blob("UPPER/case", "x") }
  end

  def test_null_and_invalid_arguments
    assert_raises(Ocireg::InvalidArgumentError) { @client.tags(nil) }
    assert_raises(Ocireg::InvalidArgumentError) { @client.manifest(nil, "v1") }
    assert_raises(Ocireg::InvalidArgumentError) { @client.tags("caf\xE9".b) }
    assert_raises(Ocireg::InvalidArgumentError) { Ocireg::Client.new(nil) }
    assert_raises(Ocireg::InvalidArgumentError) { Ocireg::Client.new(@registry.url, username: "alice") }
    assert_raises(Ocireg::InvalidArgumentError) { @registry.fail_next(1, status: 200) }
    assert_raises(ArgumentError) { @client.tags("nul\0byte") }
    assert_raises(ArgumentError) { Ocireg::Client.new(@registry.url, timeouts: { forever: 1 }) }
    assert_raises(ArgumentError) { Ocireg::Testing::Registry.new(auth: :kerberos) }

    # Straight through the C ABI: NULL handles and out-parameters.
    err = Fiddle::Pointer.malloc(Fiddle::SIZEOF_VOIDP, Fiddle::RUBY_FREE)
    assert_equal 1, Ocireg::Native.ocireg_ping(nil, err)
    assert_equal 1, Ocireg::Native.ocireg_error_status(err.ptr)
    Ocireg::Native.ocireg_error_free(err.ptr)
    assert_equal 1, Ocireg::Native.ocireg_tags(nil, "x", nil, nil)
    assert_nil Ocireg::Native.borrowed_string(Ocireg::Native.ocireg_client_registry(nil))
    assert_equal 0, Ocireg::Native.ocireg_client_request_count(nil)
    assert_equal 1, Ocireg::Native.ocireg_error_status(nil)
    Ocireg::Native.ocireg_string_free(nil)
    Ocireg::Native.ocireg_bytes_free(nil, 0)
    Ocireg::Native.ocireg_client_free(nil)
  end

  def test_closed_client
    client = Ocireg::Client.new(@registry.url, anonymous: true)
    client.close
    client.close
    assert client.closed?
    assert_raises(Ocireg::InvalidArgumentError) { client.ping }
    assert_raises(Ocireg::InvalidArgumentError) { client.tags("team/app") }
    assert_nil client.registry
    assert_equal 0, client.request_count
  end

  def test_close_inside_own_callback_is_refused
    digest = @client.push_blob("team/app", "abc")
    assert_raises(Ocireg::InvalidArgumentError) do
      @client.pull_blob("team/app", digest) { @client.close }
    end
    refute @client.closed?
  end

  def test_rate_limited_with_retry_after
    @registry.fail_next(5, status: 429, retry_after: 7)
    error = assert_raises(Ocireg::RateLimitedError) { @client.tags("team/app") }
    assert_equal 9, error.status
    assert_equal 429, error.http_status
    assert_equal 7, error.retry_after
    # The library keeps no registry code for a rate limit (yet); when it does, it is this one.
    assert_includes [nil, "TOOMANYREQUESTS"], error.registry_code
    @registry.fail_next(0)
    assert_equal ["v1"], @client.tags("team/app")
  end

  def test_registry_error
    @registry.fail_next(1, status: 400)
    error = assert_raises(Ocireg::RegistryError) { @client.tags("team/app") }
    assert_equal 400, error.http_status
    refute_nil error.registry_code
  end

  def test_retries_recover
    retrying = client_for(@registry, anonymous: true, max_retries: 3)
    @registry.fail_next(2, status: 503, retry_after: 0)
    assert_equal ["v1"], retrying.tags("team/app")
  end

  def test_network_error_after_stop
    url = @registry.url
    @registry.stop
    @registry.stop
    assert @registry.stopped?
    assert_equal url, @registry.url
    assert_equal 0, @registry.request_count
    assert_raises(Ocireg::NetworkError) { @client.ping }
    assert_raises(Ocireg::InvalidArgumentError) { @registry.add_blob("team/app", "x") }
  end

  def test_tls_error
    assert_raises(Ocireg::TlsError) do
      Ocireg::Client.new("https://127.0.0.1:1", ca_cert: "not a certificate", max_retries: 0)
    end
  end

  def test_timeout
    impatient = client_for(@registry, anonymous: true, timeouts: { response: 0.2 })
    @registry.delay = 1
    error = assert_raises(Ocireg::TimeoutError) { impatient.ping }
    assert_equal 8, error.status
    @registry.delay = 0
    assert impatient.ping
  end

  def test_broken_download
    digest = @client.push_blob("team/app", "x" * 10_000)
    @registry.drop_next(1)
    assert_raises(Ocireg::Error) { @client.pull_blob("team/app", digest, to: File.join(tmpdir, "broken")) }
    refute File.exist?(File.join(tmpdir, "broken")), "nothing is left behind"
    assert_equal "x" * 10_000, @client.pull_blob("team/app", digest)
  end

  def test_panic_becomes_panic_error
    error = assert_raises(Ocireg::PanicError) do
      capture_subprocess_io { Ocireg::Testing.panic("from ruby") }
    end
    assert_equal 99, error.status
    assert_match(/panic: from ruby/, error.message)
    assert @client.ping, "the process goes on"
  end

  def test_timeouts_accepted
    client = client_for(@registry, anonymous: true, timeout: 30,
                                   timeouts: { connect: 5, response: 10, read: 10, write: 10 })
    assert client.ping
    client2 = client_for(@registry, anonymous: true, user_agent: "ruby-test/1", proxy_from_env: false)
    assert client2.ping
  end
end
