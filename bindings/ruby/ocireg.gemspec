# frozen_string_literal: true

require_relative "lib/ocireg/version"

Gem::Specification.new do |spec|
  spec.name = "ocireg"
  spec.version = Ocireg::VERSION
  spec.summary = "OCI / Docker registry client (Ruby binding of libocireg)"
  spec.description = "Push, pull, verify and inspect images and blobs in OCI and Docker registries, " \
                     "through the C ABI of the ocireg Rust library (ruby-ffi). Includes an in-memory " \
                     "test registry."
  spec.authors = ["The ocireg authors"]
  spec.licenses = ["MIT", "Apache-2.0"]
  spec.required_ruby_version = ">= 2.7"
  spec.files = Dir["lib/**/*.rb"] + Dir["lib/ocireg/libocireg.{so,dylib}"] + ["README.md", "ocireg.gemspec"]
  spec.require_paths = ["lib"]
  spec.add_dependency "ffi", ">= 1.15"
  spec.add_development_dependency "minitest", ">= 5.14"
  spec.metadata["rubygems_mfa_required"] = "true"
end
