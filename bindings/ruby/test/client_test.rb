# frozen_string_literal: true

require_relative "test_helper"

class ClientTest < Minitest::Test
  include OciregTestHelpers

  def setup
    @registry = start_registry
    @client = client_for(@registry)
  end

  def test_versions
    assert_equal 2, Ocireg.abi_version
    assert_equal Ocireg::Native::ABI_VERSION, Ocireg.abi_version
    assert_match(/\A\d+\.\d+\.\d+/, Ocireg.library_version)
    assert_equal "0.1.0", Ocireg::VERSION
    assert_equal "OCIREG_NOT_FOUND", Ocireg.status_name(5)
    assert_equal "OCIREG_UNKNOWN_STATUS", Ocireg.status_name(12_345)
  end

  def test_ping_and_accessors
    assert_equal true, @client.ping
    assert_equal @registry.url, @client.base_url
    assert_equal @registry.host, @client.registry
    assert_kind_of String, @client.credential_source
    assert_operator @client.request_count, :>=, 1
    assert_operator @registry.request_count, :>=, 1
    assert_match(/127\.0\.0\.1/, @client.inspect)
  end

  def test_connect_with_userinfo
    registry = start_registry(auth: :basic, users: { "alice" => "secret" })
    client = Ocireg::Client.connect("http://alice:secret@#{registry.host}")
    begin
      assert client.ping
      assert_equal "http://#{registry.host}", client.base_url
    ensure
      client.close
    end
  end

  def test_open_block_closes
    client = Ocireg::Client.open(@registry.url, anonymous: true) do |c|
      assert c.ping
      c
    end
    assert client.closed?
  end

  def test_tags_catalog_search
    @registry.add_image("team/app", "v1", config: "{}", layers: ["a"])
    @registry.add_image("team/app", "v2", config: "{}", layers: ["b"])
    @registry.add_image("other/tool", "latest", config: "{}", layers: [])
    assert_equal %w[v1 v2], @client.tags("team/app").sort
    assert_equal %w[other/tool team/app], @client.catalog.sort
    assert_equal ["team/app"], @client.search("team")
    assert_equal %w[other/tool team/app], @client.search.sort
    assert_equal [], @client.search("nothing-like-this")
    @client.tags("team/app").each { |tag| assert_equal Encoding::UTF_8, tag.encoding }
  end

  def test_pages
    %w[a b c d e].each { |t| @registry.add_image("team/paged", t, config: "{}", layers: []) }
    %w[r1/x r2/x r3/x].each { |repo| @registry.add_image(repo, "v1", config: "{}", layers: []) }
    first = @client.tags_page("team/paged", n: 2)
    assert_equal %w[a b], first.items
    assert first.more?
    assert_equal "b", first.next_last
    rest = []
    page = first
    while page.more?
      page = @client.tags_page("team/paged", n: 2, last: page.next_last)
      rest.concat(page.items)
    end
    assert_equal %w[c d e], rest
    assert_equal %w[a b c d e], @client.tags_page("team/paged").items

    catalog = @client.catalog_page(n: 2)
    assert_equal 2, catalog.items.size
    assert_equal @client.catalog.sort, (catalog.items + @client.catalog_page(last: catalog.next_last).items).sort
  end

  def test_request_log
    @registry.clear_requests
    assert_equal 0, @registry.request_count
    @client.ping
    requests = @registry.requests
    assert_equal 1, requests.size
    assert_equal "GET", requests.first["method"]
    assert_equal "/v2/", requests.first["path"]
    assert_kind_of String, @registry.requests_json
  end

  def test_redirected_blobs
    digest = @client.push_blob("team/cdn", "served elsewhere")
    @registry.redirect_blobs
    assert_equal "served elsewhere", @client.pull_blob("team/cdn", digest)
    assert(@registry.requests.any? { |r| r["objectStore"] })
    @registry.redirect_blobs(false)
  end

  def test_manifest_get_digest_put_delete
    digest = @registry.add_image("team/app", "v1", config: "{}", layers: %w[one two])
    manifest = @client.manifest("team/app", "v1")
    assert_kind_of Ocireg::Manifest, manifest
    assert_equal digest, manifest.digest
    assert_equal sha256(manifest.bytes), manifest.digest
    assert_equal Encoding::BINARY, manifest.bytes.encoding
    assert_equal "application/vnd.oci.image.manifest.v1+json", manifest.media_type
    assert_equal 2, manifest.json["layers"].size
    assert_equal digest, @client.manifest_digest("team/app", "v1")
    assert_equal digest, @client.manifest("team/app", digest).digest
    assert_equal digest, @client.manifest("team/app", "v1@#{digest}").digest

    # Push the same manifest under another tag, from the struct and from bytes.
    assert_equal digest, @client.put_manifest("team/app", "copy", manifest)
    assert_equal digest, @client.put_manifest("team/app", "copy2", manifest.bytes,
                                              media_type: manifest.media_type)
    assert_equal digest, @client.put_manifest("team/app", "copy3", manifest.bytes)
    assert_equal %w[copy copy2 copy3 v1], @client.tags("team/app").sort

    assert_nil @client.delete_manifest("team/app", digest)
    error = assert_raises(Ocireg::NotFoundError) { @client.manifest("team/app", "v1") }
    assert_equal 404, error.http_status
  end
end
