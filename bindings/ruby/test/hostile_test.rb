# frozen_string_literal: true

require_relative "test_helper"
require "net/http"
require "uri"

# The test registry's hostile mode through the C ABI (Registry#set_hostile), checked with raw
# HTTP (Net::HTTP, which follows no redirect), never with Ocireg::Client.
class HostileTest < Minitest::Test
  include OciregTestHelpers

  def setup
    @registry = start_registry
    @registry.add_image("team/app", "v1", config: "{}", layers: ["one"])
  end

  def raw_get(url, headers = {})
    uri = URI(url)
    Net::HTTP.start(uri.host, uri.port, nil, read_timeout: 60) do |http|
      http.request(Net::HTTP::Get.new(uri, headers))
    end
  end

  def test_bad_specs_raise_and_change_nothing
    error = assert_raises(Ocireg::InvalidArgumentError) { @registry.set_hostile("slow-drip:soon") }
    assert_includes error.message, '"slow-drip:soon"'
    assert_raises(Ocireg::InvalidArgumentError) { @registry.set_hostile("no-such-attack") }
    assert_raises(Ocireg::InvalidArgumentError) { @registry.set_hostile(nil) }
    response = raw_get("#{@registry.url}/v2/team/app/tags/list")
    assert_equal "200", response.code
    assert_equal ["v1"], JSON.parse(response.body)["tags"]
  end

  def test_cross_port_redirect_goes_to_the_other_port
    path = "/v2/team/app/manifests/v1"
    assert_equal "200", raw_get("#{@registry.url}#{path}").code

    @registry.set_hostile("cross-port-redirect")
    response = raw_get("#{@registry.url}#{path}")
    assert_equal "307", response.code
    location = URI(response["Location"])
    assert_equal "127.0.0.1", location.host
    refute_equal URI(@registry.url).port, location.port
    assert_equal path, location.path

    @registry.clear_requests
    response = raw_get(location.to_s, "Authorization" => "Bearer not-a-secret")
    assert_equal "200", response.code
    assert_equal "application/vnd.oci.image.manifest.v1+json", response["Content-Type"]
    assert_equal [{ "method" => "GET", "path" => path, "query" => "", "status" => 200,
                    "authorized" => true, "objectStore" => true }], @registry.requests

    @registry.set_hostile("none")
    assert_equal "200", raw_get("#{@registry.url}#{path}").code
  end

  def test_malformed_error_entry
    @registry.set_hostile("malformed-error-entry:string")
    response = raw_get("#{@registry.url}/v2/team/app/manifests/nope")
    assert_equal "404", response.code
    errors = JSON.parse(response.body)["errors"]
    assert_equal ["MANIFEST_UNKNOWN", "not an error object", "UNKNOWN"],
                 errors.map { |e| e.is_a?(Hash) ? e["code"] : e }
  end

  # --- The client against the hostile registry: credentials never leave the origin, no hang. ---

  def other_origin(registry)
    registry.requests.select { |r| r["objectStore"] }
  end

  def test_client_refuses_a_cross_origin_link_and_leaks_nothing
    %i[basic bearer].each do |auth|
      registry = start_registry(auth: auth, users: { "alice" => "secret" })
      registry.add_image("team/app", "v1", config: "{}", layers: ["one"])
      registry.set_hostile("cross-origin-link")
      client = client_for(registry, username: "alice", password: "secret")
      error = assert_raises(Ocireg::ProtocolError) { client.tags("team/app") }
      assert_includes error.message, "another origin"
      assert_empty other_origin(registry), "the other origin was never asked (#{auth})"
    end
  end

  def test_client_sends_no_credentials_across_a_redirect_to_another_port
    registry = start_registry(auth: :basic, users: { "alice" => "secret" })
    registry.add_image("team/app", "v1", config: "{}", layers: ["one"])
    registry.set_hostile("cross-port-redirect")
    client = client_for(registry, username: "alice", password: "secret")
    assert_equal ["v1"], client.tags("team/app")
    there = other_origin(registry)
    refute_empty there, "the redirect was followed"
    assert(there.none? { |r| r["authorized"] })
  end

  def test_client_gives_up_on_a_slow_drip
    @registry.set_hostile("slow-drip:200")
    client = client_for(@registry, anonymous: true, low_speed_limit: [1000, 1])
    error = assert_raises(Ocireg::TimeoutError) { client.tags("team/app") }
    assert_includes error.message, "low-speed limit"
  end
end
