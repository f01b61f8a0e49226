# frozen_string_literal: true

require_relative "test_helper"
require "open3"
require "rbconfig"

# `require "ocireg"` in a fresh interpreter: what it loads (and what it leaves for later), and
# that what it leaves for later still works. The suite itself has loaded json and pathname.
class LoadTest < Minitest::Test
  LIB_DIR = File.expand_path("../lib", __dir__)

  # Runs `script` in `ruby -w -I lib` and returns its standard output; fails on a non-zero exit
  # or on anything written to standard error (a warning).
  def run_fresh(script)
    out, err, status = Open3.capture3(RbConfig.ruby, "-w", "-I", LIB_DIR, "-e", script)
    assert status.success?, "ruby exited with #{status.exitstatus}: #{err}"
    assert_empty err, "warnings or errors from a fresh `require \"ocireg\"`"
    out
  end

  def test_require_loads_neither_json_nor_pathname
    out = run_fresh(<<~RUBY)
      require "ocireg"
      puts $LOADED_FEATURES.map { |f| File.basename(f, ".*") }.join(" ")
    RUBY
    loaded = out.split
    assert_includes loaded, "fiddle"
    %w[ffi json ostruct pathname image control testing docker_registry2].each do |name|
      refute_includes loaded, name, "require \"ocireg\" loaded #{name}"
    end
  end

  def test_images_and_cancellation_are_loaded_when_first_needed
    out = run_fresh(<<~RUBY)
      require "ocireg"
      registry = Ocireg::Testing::Registry.new
      client = Ocireg::Client.new(registry.url, anonymous: true, retry_notify: ->(_e) {})
      image = Ocireg::ImageBuilder.new.config("{}").add_layer("layer").build
      cancel = Ocireg::Cancel.new
      pushed = client.push_image("team/app", "v1", image, cancel: cancel)
      p client.verify("team/app", pushed).verified?
      client.blob_reader("team/app", pushed.to_h["layers"][0]["digest"]) { |blob| p blob.read }
      # InterruptMask's wrappers come first.
      p [Ocireg::Image, Ocireg::ImageBuilder, Ocireg::Pushed, Ocireg::Cancel, Ocireg::BlobReader].map { |c| c.ancestors.index(c) }
      client.close
      registry.stop
    RUBY
    assert_equal ["true", '"layer"', "[1, 1, 1, 1, 1]"], out.lines.map(&:chomp)
  end

  def test_json_and_testing_are_loaded_when_first_needed
    out = run_fresh(<<~RUBY)
      require "ocireg"
      p Ocireg::ErrorEntry.new("X", "", '{"a":[1]}').detail_value
      p Ocireg::ErrorEntry.new("X", "", "not json").detail_value
      registry = Ocireg::Testing::Registry.new
      client = Ocireg::Client.new(registry.url, anonymous: true)
      client.tags("missing/repo") rescue nil
      p registry.requests.map { |r| r["path"] }
      p Ocireg::Testing::Registry.ancestors.index(Ocireg::Testing::Registry) # 1: InterruptMask's wrapper first
      client.close
      registry.stop
    RUBY
    assert_equal ['{"a"=>[1]}', '"not json"', '["/v2/missing/repo/tags/list"]', "1"], out.lines.map(&:chomp)
  end

  def test_pull_blob_to_a_pathname_without_pathname_loaded_by_ocireg
    out = run_fresh(<<~RUBY)
      require "ocireg"
      require "pathname"
      require "tmpdir"
      registry = Ocireg::Testing::Registry.new
      client = Ocireg::Client.new(registry.url, anonymous: true)
      digest = client.push_blob("team/app", "some bytes")
      Dir.mktmpdir do |dir|
        target = Pathname.new(dir) / "blob"
        p client.pull_blob("team/app", digest, to: target)
        p target.binread
      end
      client.close
      registry.stop
    RUBY
    assert_equal ["10", '"some bytes"'], out.lines.map(&:chomp)
  end
end
