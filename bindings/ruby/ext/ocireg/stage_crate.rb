# frozen_string_literal: true

require "fileutils"
require "open3"
require "rubygems/package"
require "tmpdir"
require "zlib"

# Puts the Rust crate into the gem (ext/ocireg/crate/) when the gem is built from the
# repository: exactly the files `cargo package` publishes (Cargo.toml as cargo normalises it,
# Cargo.lock, src/, build.rs, cbindgen.toml, include/ocireg.h, the licences), so that
# `gem install` compiles the library anywhere. Used by ocireg.gemspec.
module OciregStageCrate
  def self.stage(repo, dest)
    cargo = ENV.fetch("CARGO", "cargo")
    Dir.mktmpdir("ocireg-crate") do |tmp|
      out, status = Open3.capture2e(cargo, "package", "--quiet", "--no-verify", "--allow-dirty",
                                    "--manifest-path", File.join(repo, "Cargo.toml"),
                                    "--target-dir", tmp)
      raise "ocireg.gemspec: `cargo package` failed (cargo is needed to build the gem):\n#{out}" unless status.success?

      crate = Dir[File.join(tmp, "package", "*.crate")].first or raise "ocireg.gemspec: no .crate in #{tmp}"
      FileUtils.rm_rf(dest)
      FileUtils.mkdir_p(dest)
      extract(crate, dest)
    end
  end

  # Unpacks a .crate (a .tar.gz whose entries start with "<name>-<version>/") into dest.
  def self.extract(crate, dest)
    File.open(crate, "rb") do |io|
      Gem::Package::TarReader.new(Zlib::GzipReader.new(io)) do |tar|
        tar.each do |entry|
          rel = entry.full_name.split("/", 2)[1]
          next if rel.nil? || rel.empty? || rel.split("/").include?("..")

          path = File.join(dest, rel)
          if entry.directory?
            FileUtils.mkdir_p(path)
          elsif entry.file?
            FileUtils.mkdir_p(File.dirname(path))
            File.binwrite(path, entry.read)
          end
        end
      end
    end
  end
end
