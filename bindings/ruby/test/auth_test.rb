# frozen_string_literal: true

require_relative "test_helper"

class AuthTest < Minitest::Test
  include OciregTestHelpers

  USERS = { "alice" => "secret", "bob" => "pw" }.freeze

  %i[basic bearer].each do |mode|
    define_method("test_#{mode}_credentials") do
      registry = start_registry(auth: mode, users: USERS)
      registry.add_image("team/app", "v1", config: "{}", layers: ["x"])
      client = client_for(registry, username: "alice", password: "secret")
      assert client.ping
      assert_equal "explicit", client.credential_source
      assert_equal ["v1"], client.tags("team/app")
      assert_equal ["team/app"], client.catalog
    end

    define_method("test_#{mode}_wrong_password") do
      registry = start_registry(auth: mode, users: USERS)
      client = client_for(registry, username: "alice", password: "wrong")
      error = assert_raises(Ocireg::AuthenticationError) { client.ping }
      assert_kind_of Ocireg::Error, error
      assert_equal 3, error.status
      assert_equal "OCIREG_AUTHENTICATION", error.status_name
      assert_equal 401, error.http_status
      refute_includes error.message, "wrong", "the password must never be in a message"
      # docker_registry2's name for it
      assert_raises(Ocireg::RegistryAuthenticationException) { client.tags("team/app") }
    end

    define_method("test_#{mode}_anonymous_refused") do
      registry = start_registry(auth: mode, users: USERS)
      registry.add_image("team/app", "v1", config: "{}", layers: ["x"])
      client = client_for(registry, anonymous: true)
      # Basic refuses anonymous requests (401); a Bearer token service hands out anonymous
      # tokens that grant nothing (403).
      assert_raises(Ocireg::AuthenticationError, Ocireg::AuthorizationError) { client.tags("team/app") }
      requests = registry.requests
      refute_empty requests
      assert(requests.none? { |r| r["authorized"] }) if mode == :basic
    end
  end

  def test_login_logout
    registry = start_registry(auth: :bearer, users: USERS)
    config = File.join(tmpdir, "docker", "config.json")

    stored = Ocireg.login(registry.url, "bob", "pw", docker_config: config)
    assert_match(/config file/, stored)
    assert File.file?(config)
    assert JSON.parse(File.read(config)).fetch("auths").keys.any? { |k| k.include?(registry.host) }

    client = client_for(registry, docker_config: config)
    assert_match(/config file/, client.credential_source)
    assert client.ping

    assert_equal true, Ocireg.logout(registry.url, docker_config: config)
    assert_equal false, Ocireg.logout(registry.url, docker_config: config)
    refute JSON.parse(File.read(config)).fetch("auths", {}).keys.any? { |k| k.include?(registry.host) }
  end

  def test_login_wrong_password_stores_nothing
    registry = start_registry(auth: :basic, users: USERS)
    config = File.join(tmpdir, "config.json")
    assert_raises(Ocireg::AuthenticationError) do
      Ocireg.login(registry.url, "alice", "nope", docker_config: config)
    end
    refute File.exist?(config)
    assert_equal false, Ocireg.logout(registry.url, docker_config: config)
    refute File.exist?(config), "logout must not create a config file"
  end

  def test_login_cancelled_from_another_thread_stores_nothing
    registry = start_registry(auth: :basic, users: USERS)
    config = File.join(tmpdir, "config.json")
    registry.delay = 60 # the credential check never gets its answer
    cancel = Ocireg::Cancel.new
    Thread.new { sleep 0.3; cancel.cancel }
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    assert_raises(Ocireg::CancelledError) do
      Ocireg.login(registry.url, "alice", "secret", docker_config: config, cancel: cancel)
    end
    assert_operator Process.clock_gettime(Process::CLOCK_MONOTONIC) - started, :<, 1.5
    refute File.exist?(config)
    assert_raises(TypeError) { Ocireg.login(registry.url, "alice", "secret", cancel: "no") }
  ensure
    registry.delay = 0 if registry
  end

  def test_login_unreachable
    registry = start_registry
    url = registry.url
    registry.stop
    assert_raises(Ocireg::NetworkError) do
      Ocireg.login(url, "alice", "secret", docker_config: File.join(tmpdir, "c.json"), max_retries: 0)
    end
  end
end
