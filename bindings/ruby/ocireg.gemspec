# frozen_string_literal: true

require_relative "lib/ocireg/version"

# The gem compiles libocireg when it is installed (ext/ocireg/extconf.rb runs cargo), from the
# Rust crate it carries in ext/ocireg/crate/. Built from the repository (`gem build
# ocireg.gemspec` in bindings/ruby), this gemspec first refreshes that copy with `cargo package`.
repo = File.expand_path("../..", __dir__)
if File.file?(File.join(repo, "Cargo.toml")) && File.file?(File.join(repo, "src", "ffi", "mod.rs"))
  require_relative "ext/ocireg/stage_crate"
  OciregStageCrate.stage(repo, File.join(__dir__, "ext", "ocireg", "crate"))
end

Gem::Specification.new do |spec|
  spec.name = "ocireg"
  spec.version = Ocireg::VERSION
  spec.summary = "OCI / Docker registry client (Ruby binding of libocireg)"
  spec.description = "Push, pull, verify and inspect images and blobs in OCI and Docker registries, " \
                     "through the C ABI of the ocireg Rust library (Fiddle). Includes an in-memory " \
                     "test registry. The library is compiled from the bundled Rust crate at install " \
                     "time: cargo (Rust >= 1.89) must be on PATH."
  spec.authors = ["The ocireg authors"]
  spec.homepage = "https://example.invalid/ocireg"
  spec.licenses = ["MIT", "Apache-2.0"] # at your option
  spec.required_ruby_version = ">= 2.7"
  spec.requirements << "Rust toolchain (cargo, rustc >= 1.89) at install time"
  spec.files = Dir.chdir(__dir__) do
    # lib/docker_registry2.rb is the docker_registry2 compatibility layer (`require
    # "docker_registry2"`), named here so that no glob change can drop it.
    (Dir["lib/**/*.rb"] + ["lib/docker_registry2.rb"] + Dir["ext/ocireg/*.rb"] +
      Dir["ext/ocireg/crate/**/*"].select { |f| File.file?(f) } +
      ["README.md", "ocireg.gemspec", "Gemfile", "Rakefile"]).uniq
  end
  spec.extensions = ["ext/ocireg/extconf.rb"]
  spec.require_paths = ["lib"]
  # Fiddle, Ruby's own FFI (a default gem): 1.1 or later, which has the `need_gvl:` keyword used.
  spec.add_dependency "fiddle", "~> 1.1"
  spec.add_development_dependency "minitest", ">= 5.14", "< 6"
  spec.add_development_dependency "rake", ">= 13", "< 14"
  spec.metadata["source_code_uri"] = "https://example.invalid/ocireg"
  spec.metadata["rubygems_mfa_required"] = "true"
end
