# frozen_string_literal: true

require_relative "test_helper"

class ImageTest < Minitest::Test
  include OciregTestHelpers

  def setup
    @registry = start_registry(auth: :bearer, users: { "alice" => "secret" })
    @client = client_for(@registry, username: "alice", password: "secret")
  end

  def test_build_push_verify
    image = build_image
    assert_match(/\Asha256:[0-9a-f]{64}\z/, image.digest)
    assert_equal "application/vnd.oci.image.manifest.v1+json", image.media_type
    assert_equal image.digest, sha256(image.manifest)
    assert_equal 2, JSON.parse(image.manifest)["layers"].size

    events = []
    pushed = @client.push_image("team/app", "v1", image) do |digest, done, total, event|
      events << [digest, done, total, event]
    end
    assert_kind_of Ocireg::Pushed, pushed
    assert_equal image.digest, pushed.digest
    assert_equal image.media_type, pushed.media_type
    assert_equal "team/app:v1@#{image.digest}", pushed.reference.sub(/\A.*?team/, "team")
    assert_equal image.manifest.bytesize, pushed.size
    assert_equal 3, pushed.stats["blobsUploaded"]
    assert_equal "team/app", pushed.to_h["repository"]
    refute_empty events
    assert(events.all? { |_, done, total, _| done <= total })
    assert_includes events.map(&:last), :uploaded
    assert(events.map(&:first).all? { |d| d.start_with?("sha256:") })

    assert_equal ["v1"], @client.tags("team/app")
    assert_equal image.manifest, @client.manifest("team/app", "v1").bytes

    report = @client.verify("team/app", pushed)
    assert_kind_of Ocireg::VerifyReport, report
    assert_equal :verified, report.outcome
    assert report.verified?
    assert_equal "verified", report.to_h["outcome"]
    refute_empty report.checks
    assert_kind_of String, report.to_s

    # Pushing again: everything is already there.
    again = @client.push_image("team/app", "v1", image) { |p| assert_kind_of Ocireg::Progress, p }
    assert_equal 0, again.stats["blobsUploaded"]
    [pushed, again, report, image].each(&:free)
    assert pushed.freed?
  end

  def test_builder_variants_and_push_options
    layer_path = File.join(tmpdir, "layer.tar")
    File.binwrite(layer_path, "file layer contents" * 100)
    builder = Ocireg::ImageBuilder.new
                                  .config(CONFIG)
                                  .add_layer_file(layer_path, media_type: "application/vnd.oci.image.layer.v1.tar")
                                  .artifact_type("application/vnd.example.thing")
    oci = builder.build
    assert_equal "application/vnd.example.thing", JSON.parse(oci.manifest)["artifactType"]

    docker = Ocireg::ImageBuilder.new.config(CONFIG).add_layer("docker layer").docker_schema2.build
    assert_equal "application/vnd.docker.distribution.manifest.v2+json", docker.media_type

    pushed = @client.push_image("team/opts", "chunked", oci, threads: 2, chunk_size: 512, skip_existing: false)
    assert @client.verify("team/opts", pushed).verified?
    pushed2 = @client.push_image("team/docker", "v1", docker)
    assert_equal docker.media_type, @client.manifest("team/docker", "v1").media_type
    assert @client.verify("team/docker", pushed2).verified?

    # Mount from another repository instead of uploading.
    mounted = @client.push_image("team/mounted", "v1", oci, mount_from: "team/opts")
    assert_operator mounted.stats["blobsMounted"], :>=, 1

    # A builder is built on the fly.
    from_builder = @client.push_image("team/builder", "v1", builder)
    assert_equal oci.digest, from_builder.digest

    # Untagged push by digest.
    by_digest = @client.push_image("team/untagged", oci.digest, oci)
    assert_equal oci.digest, by_digest.digest
  end

  def test_layout_round_trip_and_pull
    image = build_image("layout")
    pushed = @client.push_image("team/src", "v1", image)
    dir = File.join(tmpdir, "layout")

    events = []
    pulled = @client.pull_image("team/src", "v1", dir) { |p| events << p.event }
    assert_kind_of Ocireg::Pulled, pulled
    assert_equal pushed.digest, pulled.digest
    assert_equal image.media_type, pulled.media_type
    assert_equal image.manifest.bytesize, pulled.size
    assert_equal File.expand_path(dir), File.expand_path(pulled.path)
    assert File.file?(File.join(dir, "index.json"))
    assert File.file?(File.join(dir, "oci-layout"))
    assert_equal 3, pulled.stats["blobsDownloaded"]
    assert_includes events, :downloaded
    assert @client.verify("team/src", pulled).verified?

    # Pulling again reuses the blobs.
    again = @client.pull_image("team/src", pushed.digest, dir, threads: 2)
    assert_equal 0, again.stats["blobsDownloaded"]

    # Push the layout directory to another repository.
    copy = @client.push_image("team/copy", "v1", dir) { |p| p }
    assert_equal pushed.digest, copy.digest
    assert @client.verify("team/copy", copy).verified?
    assert_equal ["v1"], @client.tags("team/copy")

    # Through Image.from_layout, with push options.
    # Pulled by tag and again by digest: still one entry, so "the only manifest" works.
    assert_equal pushed.digest, Ocireg::Image.from_layout(dir).digest
    from_layout = Ocireg::Image.from_layout(dir, tag: "v1")
    assert_equal pushed.digest, from_layout.digest
    copy2 = @client.push_image("team/copy2", "v2", from_layout, threads: 1)
    assert @client.verify("team/copy2", copy2).verified?
    # The layout directory with push options.
    copy3 = @client.push_image("team/copy3", "v1", dir, threads: 1, mount_from: "team/src")
    assert_equal pushed.digest, copy3.digest
    assert_equal 3, copy3.stats["blobsMounted"]

    # The expectation of an image, without pushing.
    expected = from_layout.expected_push("team/copy2", "v2")
    assert_equal pushed.digest, expected.digest
    assert @client.verify("team/copy2", expected).verified?
  end

  def test_verify_failure
    image = build_image("verify")
    pushed = @client.push_image("team/v", "v1", image)
    layer = JSON.parse(image.manifest)["layers"].first["digest"]
    assert_equal true, @registry.delete_blob("team/v", layer)

    error = assert_raises(Ocireg::VerifyFailedError) { @client.verify("team/v", pushed) }
    assert_equal 16, error.status
    assert_kind_of Ocireg::VerifyReport, error.report
    assert_equal :failed, error.report.outcome
    failed = error.report.checks.select { |c| c["status"] == "failed" }
    assert_equal [layer], failed.map { |c| c["digest"] }
    assert_match(/fail/i, error.report.to_s)

    report = @client.verify("team/v", pushed, raise_on_failure: false)
    refute report.verified?
    assert_equal :failed, report.outcome
  end

  def test_progress_cancel_and_exception
    image = build_image("cancel")
    assert_raises(Ocireg::CancelledError) do
      @client.push_image("team/cancel", "v1", image) { :cancel }
    end
    assert_raises(Ocireg::NotFoundError) { @client.manifest("team/cancel", "v1") }

    error = assert_raises(RuntimeError) do
      @client.push_image("team/cancel", "v1", image) { raise "stop right there" }
    end
    assert_equal "stop right there", error.message

    assert_raises(Ocireg::CancelledError) do
      @client.push_image("team/cancel", "v1", image) { break }
    end

    pushed = @client.push_image("team/cancel", "v1", image)
    dir = File.join(tmpdir, "cancelled")
    assert_raises(IOError) do
      @client.pull_image("team/cancel", "v1", dir) { raise IOError, "disk on fire" }
    end
    assert @client.verify("team/cancel", pushed).verified?
  end

  def test_builder_errors
    assert_raises(Ocireg::InvalidArgumentError) { Ocireg::ImageBuilder.new.add_layer("x").build }
    assert_raises(Ocireg::IoError) do
      Ocireg::ImageBuilder.new.config(CONFIG).add_layer_file(File.join(tmpdir, "missing.tar")).build
    end
    assert_raises(Ocireg::Error) { Ocireg::Image.from_layout(File.join(tmpdir, "no-layout")) }
  end
end
