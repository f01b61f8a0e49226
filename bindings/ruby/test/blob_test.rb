# frozen_string_literal: true

require_relative "test_helper"

class BlobTest < Minitest::Test
  include OciregTestHelpers

  REPO = "team/blobs"

  def setup
    @registry = start_registry
    @client = client_for(@registry)
  end

  def test_push_bytes_exists_pull_bytes
    data = "hello blob \x00\xff".b
    digest = @client.push_blob(REPO, data)
    assert_equal sha256(data), digest
    assert @client.blob_exists?(REPO, digest)
    assert_equal data.bytesize, @client.blob_size(REPO, digest)
    refute @client.blob_exists?(REPO, sha256("absent"))
    assert_nil @client.blob_size(REPO, sha256("absent"))
    pulled = @client.pull_blob(REPO, digest)
    assert_equal data, pulled
    assert_equal Encoding::BINARY, pulled.encoding
  end

  def test_strings_in_other_encodings
    digest = @client.push_blob(REPO.encode(Encoding::UTF_16LE), "utf-16 repository name")
    assert @client.blob_exists?(REPO, digest)
    assert @client.blob_exists?(REPO.to_sym, digest.encode(Encoding::UTF_16BE))
  end

  def test_empty_blob
    digest = @client.push_blob(REPO, "")
    assert_equal sha256(""), digest
    assert_equal "", @client.pull_blob(REPO, digest)
  end

  def test_push_file_and_pull_to_path
    path = File.join(tmpdir, "blob.bin")
    data = Random.new(42).bytes(300_000)
    File.binwrite(path, data)
    digest = @client.push_blob_file(REPO, path)
    assert_equal sha256(data), digest
    assert_equal digest, @client.push_blob(REPO, Pathname.new(path)), "a Pathname is a file"

    target = File.join(tmpdir, "out.bin")
    assert_equal data.bytesize, @client.pull_blob(REPO, digest, to: target)
    assert_equal data, File.binread(target)
    target2 = Pathname.new(tmpdir) / "out2.bin"
    assert_equal data.bytesize, @client.pull_blob(REPO, digest, to: target2)
    assert_equal data, target2.binread
    File.open(File.join(tmpdir, "out3.bin"), "wb") do |file|
      assert_equal data.bytesize, @client.pull_blob(REPO, digest, to: file)
    end
    assert_equal data, File.binread(File.join(tmpdir, "out3.bin"))
  end

  def test_push_stream_from_io_and_block
    data = Random.new(7).bytes(200_000)
    digest = @client.push_blob(REPO, StringIO.new(data))
    assert_equal sha256(data), digest

    other = "streamed by a block " * 1000
    source = StringIO.new(other)
    calls = 0
    digest2 = @client.push_blob_stream("team/other", size: other.bytesize) do |cap|
      calls += 1
      source.read([cap, 777].min)
    end
    assert_equal sha256(other), digest2
    assert_operator calls, :>, 1
    assert_equal other.b, @client.pull_blob("team/other", digest2)

    # With the digest known and the blob present, the upload is skipped.
    assert_equal digest, @client.push_blob(REPO, StringIO.new(data), digest: digest)
  end

  def test_stream_length_mismatch_is_an_error
    assert_raises(Ocireg::Error) do
      @client.push_blob(REPO, StringIO.new("short"), size: 100)
    end
    refute @client.blob_exists?(REPO, sha256("short"))
  end

  def test_pull_streaming_block_and_io
    data = Random.new(3).bytes(150_000)
    digest = @client.push_blob(REPO, data)
    chunks = []
    size = @client.pull_blob(REPO, digest) { |chunk| chunks << chunk }
    assert_equal data.bytesize, size
    assert_equal data, chunks.join

    io = StringIO.new("".b)
    assert_equal data.bytesize, @client.pull_blob(REPO, digest, to: io)
    assert_equal data, io.string
  end

  def test_exception_in_read_callback_is_reraised
    boom = Class.new(StandardError)
    error = assert_raises(boom) do
      @client.push_blob_stream(REPO, size: 10) { |_cap| raise boom, "reader failed" }
    end
    assert_equal "reader failed", error.message
    refute @client.blob_exists?(REPO, sha256("0123456789"))
  end

  def test_exception_in_write_callback_is_reraised
    digest = @client.push_blob(REPO, "some content")
    assert_raises(ZeroDivisionError) do
      @client.pull_blob(REPO, digest) { |_chunk| 1 / 0 }
    end
    assert_raises(Ocireg::CancelledError) do
      @client.pull_blob(REPO, digest) { |_chunk| :cancel }
    end
    # The client is still fine afterwards.
    assert_equal "some content", @client.pull_blob(REPO, digest)
  end

  def test_reader_returning_too_much
    assert_raises(ArgumentError) do
      @client.push_blob_stream(REPO, size: 10_000_000) { |cap| "x" * (cap + 1) }
    end
  end

  def test_break_out_of_callback_cancels
    digest = @client.push_blob(REPO, "break me")
    error = assert_raises(Ocireg::CancelledError) do
      @client.pull_blob(REPO, digest) { |_chunk| break }
    end
    assert_match(/break/, error.message)
    result = catch(:stop) do
      @client.pull_blob(REPO, digest) { |_chunk| throw :stop, :thrown }
    rescue Ocireg::CancelledError
      :cancelled
    end
    assert_equal :cancelled, result
  end

  def test_mount_and_delete_blob
    digest = @client.push_blob(REPO, "mount me")
    assert_equal true, @client.mount_blob("team/target", REPO, digest)
    assert @client.blob_exists?("team/target", digest)
    assert_equal false, @client.mount_blob("team/target2", "team/nothing", sha256("nope"))
    assert_nil @client.delete_blob("team/target", digest)
    refute @client.blob_exists?("team/target", digest)
    assert @client.blob_exists?(REPO, digest)
  end

  def test_unknown_blob
    error = assert_raises(Ocireg::NotFoundError) { @client.pull_blob(REPO, sha256("missing")) }
    assert_equal 404, error.http_status
  end

  def test_registry_helpers
    digest = @registry.add_blob("team/direct", "direct")
    assert_equal sha256("direct"), digest
    assert @client.blob_exists?("team/direct", digest)
    assert_equal true, @registry.delete_blob("team/direct", digest)
    assert_equal false, @registry.delete_blob("team/direct", digest)
    refute @client.blob_exists?("team/direct", digest)

    config = @registry.add_blob("team/direct", "{}")
    layer = @registry.add_blob("team/direct", "layer")
    manifest = JSON.generate(
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: config, size: 2 },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layer, size: 5 }]
    )
    digest = @registry.add_manifest("team/direct", manifest,
                                    media_type: "application/vnd.oci.image.manifest.v1+json", tag: "t")
    assert_equal sha256(manifest), digest
    assert_equal ["t"], @client.tags("team/direct")
  end
end
