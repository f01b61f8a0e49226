# frozen_string_literal: true

require_relative "test_helper"

# The registry operations of issue 12: copy, retag, delete by tag, platform digests, tags with
# digests, image sizes, layers into a directory.
class OperationsTest < Minitest::Test
  include OciregTestHelpers

  AMD64 = '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
  ARM64 = '{"architecture":"arm64","os":"linux","variant":"v8","rootfs":{"type":"layers","diff_ids":[]}}'
  INDEX_TYPE = "application/vnd.oci.image.index.v1+json"

  # An index of two images (linux/amd64, linux/arm64/v8) tagged "multi" in `repository`, and
  # the two image digests.
  def add_index(registry, client, repository)
    amd = registry.add_image(repository, "amd", config: AMD64, layers: ["amd layer"])
    arm = registry.add_image(repository, "arm", config: ARM64, layers: ["arm layer one", "arm layer two"])
    manifests = [[amd, { "os" => "linux", "architecture" => "amd64" }],
                 [arm, { "os" => "linux", "architecture" => "arm64", "variant" => "v8" }]].map do |digest, platform|
      m = client.manifest(repository, digest)
      { "mediaType" => m.media_type, "digest" => digest, "size" => m.bytes.bytesize, "platform" => platform }
    end
    index = JSON.generate("schemaVersion" => 2, "mediaType" => INDEX_TYPE, "manifests" => manifests)
    [registry.add_manifest(repository, index, media_type: INDEX_TYPE, tag: "multi"), amd, arm]
  end

  def test_copy_within_the_registry_mounts_and_keeps_the_digest
    registry = start_registry
    client = client_for(registry)
    digest = registry.add_image("ops/src", "v1", config: AMD64, layers: ["one", "two"])
    pushed = client.copy("ops/src", "v1", "ops/dst")
    assert_equal digest, pushed.digest
    assert_equal ["v1"], client.tags("ops/dst")
    assert client.verify("ops/dst", pushed).verified?
    mounts = registry.requests.count { |r| r["method"] == "POST" && r["query"].to_s.include?("from=ops%2Fsrc") }
    assert_operator mounts, :>=, 1, "a copy within a registry mounts its blobs"
    # To a digest: untagged.
    assert_equal digest, client.copy("ops/src", "v1", "ops/untagged", digest).digest
    assert_empty client.tags("ops/untagged")
    assert_raises(Ocireg::NotFoundError) { client.copy("ops/src", "nope", "ops/dst") }
  end

  def test_copy_between_registries_streams_every_blob_and_the_index
    source = start_registry
    dest = start_registry(auth: :bearer, users: { "alice" => "secret" })
    from = client_for(source)
    to = client_for(dest, username: "alice", password: "secret")
    index, amd, arm = add_index(source, from, "ops/multi")
    events = []
    pushed = from.copy("ops/multi", "multi", "mirror/multi", "latest", to: to, threads: 2) { |p| events << p.event }
    assert_equal index, pushed.digest
    assert_equal index, to.manifest_digest("mirror/multi", "latest")
    [amd, arm].each { |d| assert_equal d, to.manifest("mirror/multi", d).digest }
    assert to.verify("mirror/multi", pushed).verified?
    refute_empty events
    # One platform of the index only.
    one = from.copy("ops/multi", "multi", "mirror/arm", "v8", to: to, platform: "linux/arm64/v8")
    assert_equal arm, one.digest
    assert_raises(TypeError) { from.copy("ops/multi", "multi", "x", to: "not a client") }
  end

  def test_retag_in_the_same_and_another_repository
    registry = start_registry
    client = client_for(registry)
    digest = registry.add_image("ops/src", "v1", config: AMD64, layers: ["one"])
    tagged = client.retag("ops/src", "v1", "stable")
    assert_equal digest, tagged.digest
    assert_equal %w[stable v1], client.tags("ops/src").sort
    other = client.retag("ops/src", "v1", "prod", to_repository: "ops/other")
    assert_equal digest, other.digest
    assert_equal ["prod"], client.tags("ops/other")
    assert_raises(Ocireg::NotFoundError) { client.retag("ops/src", "missing", "x") }
  end

  def test_delete_tag_says_what_went
    registry = start_registry
    client = client_for(registry)
    digest = registry.add_image("ops/src", "v1", config: AMD64, layers: ["one"])
    client.retag("ops/src", "v1", "v1-again")
    deleted = client.delete_tag("ops/src", "v1-again", list_other_tags: true)
    assert_equal "v1-again", deleted.tag
    assert_equal digest, deleted.digest
    refute deleted.manifest_deleted?, "the test registry deletes a tag alone (OCI 1.1)"
    assert_equal ["v1-again"], deleted.removed_tags
    assert_equal ["v1"], deleted.other_tags
    assert_equal ["v1"], client.tags("ops/src")
    assert_nil client.delete_tag("ops/src", "v1").other_tags
    assert_raises(Ocireg::NotFoundError) { client.delete_tag("ops/src", "no-such-tag") }
  end

  def test_platform_descriptor_and_digest
    registry = start_registry
    client = client_for(registry)
    index, amd, arm = add_index(registry, client, "ops/multi")
    desc = client.platform_descriptor("ops/multi", "multi", "linux/arm64/v8")
    assert_equal arm, desc.digest
    assert_equal "v8", desc.platform["variant"]
    assert_operator desc.size, :>, 0
    assert_equal amd, client.platform_digest("ops/multi", index, "linux/amd64")
    # A plain manifest answers its own digest when its config matches.
    assert_equal amd, client.platform_digest("ops/multi", "amd", "linux/amd64")
    err = assert_raises(Ocireg::NotFoundError) { client.platform_digest("ops/multi", "multi", "linux/s390x") }
    assert_match(%r{linux/amd64}, err.message)
    assert_raises(Ocireg::InvalidArgumentError) { client.platform_digest("ops/multi", "multi", "linux") }
  end

  def test_tags_with_digests
    registry = start_registry
    client = client_for(registry)
    one = registry.add_image("ops/tags", "a", config: AMD64, layers: ["1"])
    two = registry.add_image("ops/tags", "b", config: AMD64, layers: ["2"])
    client.retag("ops/tags", "a", "c")
    assert_equal({ "a" => one, "b" => two, "c" => one }, client.tags_with_digests("ops/tags"))
    assert_raises(Ocireg::NotFoundError) { client.tags_with_digests("ops/none") }
  end

  def test_manifest_and_image_sizes
    registry = start_registry
    client = client_for(registry)
    registry.add_image("ops/size", "v1", config: AMD64, layers: ["12345", "1234567890"])
    sizes = client.manifest("ops/size", "v1").sizes
    assert_equal 15, sizes.layers
    assert_equal 15 + AMD64.bytesize, sizes.image
    assert_equal sizes, Ocireg.manifest_sizes(client.manifest("ops/size", "v1").bytes)
    assert_equal sizes.image, client.image_size("ops/size", "v1")
    _index, = add_index(registry, client, "ops/size-multi")
    assert_raises(Ocireg::InvalidArgumentError) { client.manifest("ops/size-multi", "multi").sizes }
    assert_equal "arm layer onearm layer two".bytesize + ARM64.bytesize,
                 client.image_size("ops/size-multi", "multi", platform: "linux/arm64/v8")
    assert_raises(Ocireg::InvalidArgumentError) { Ocireg.manifest_sizes("not json") }
  end

  def test_pull_layers_into_a_directory
    registry = start_registry
    client = client_for(registry)
    _index, _amd, arm = add_index(registry, client, "ops/pull")
    dir = File.join(tmpdir, "layers")
    events = []
    pulled = client.pull_layers("ops/pull", "multi", dir, platform: "linux/arm64/v8", threads: 1) do |p|
      events << p.event
    end
    assert_equal arm, pulled.digest
    assert_equal 2, pulled.layers.size
    pulled.layers.each do |layer|
      assert layer.downloaded?
      assert_equal File.join(dir, layer.digest.sub(":", "-")), layer.path
      assert_equal layer.digest, sha256(File.binread(layer.path))
    end
    assert_equal ["arm layer one", "arm layer two"], pulled.layers.map { |l| File.binread(l.path) }
    assert_includes events, :downloaded
    again = client.pull_layers("ops/pull", "arm", dir)
    refute again.layers.any?(&:downloaded?), "files already there with the right digest are kept"
    assert_raises(Ocireg::CancelledError) { client.pull_layers("ops/pull", "amd", File.join(tmpdir, "x")) { :cancel } }
  end
end
