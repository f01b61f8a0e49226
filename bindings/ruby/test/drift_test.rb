# frozen_string_literal: true

require_relative "test_helper"

# Fails when include/ocireg.h exports a function this binding does not attach, or attaches but
# never uses in its Ruby API (lib/ocireg/*.rb other than native.rb).
class DriftTest < Minitest::Test
  HEADER = ENV.fetch("OCIREG_HEADER") { File.expand_path("../../../include/ocireg.h", __dir__) }
  LIB_DIR = File.expand_path("../lib", __dir__)

  def header_functions
    skip "header not found at #{HEADER}" unless File.file?(HEADER)
    File.read(HEADER, encoding: "UTF-8").scan(/\b(ocireg_\w+)\(/).flatten.uniq.sort
  end

  def test_every_header_function_is_attached
    functions = header_functions
    assert_operator functions.size, :>, 100
    missing = functions.reject { |name| Ocireg::Native.respond_to?(name) }
    assert_empty missing, "functions of ocireg.h not attached in lib/ocireg/native.rb"
  end

  def test_every_header_function_is_wrapped
    sources = (Dir[File.join(LIB_DIR, "ocireg", "*.rb")] + [File.join(LIB_DIR, "ocireg.rb")])
              .reject { |f| File.basename(f) == "native.rb" }
              .map { |f| File.read(f, encoding: "UTF-8") }.join("\n")
    # Functions the API reaches through Native's own helpers or the load-time ABI check.
    via_native_helpers = %w[ocireg_abi_version ocireg_string_free ocireg_bytes_free ocireg_string_list_len
                            ocireg_string_list_get ocireg_string_list_free]
    unwrapped = header_functions.reject do |name|
      sources.match?(/\b#{name}\b/) || via_native_helpers.include?(name)
    end
    assert_empty unwrapped, "functions of ocireg.h not used by the Ruby API"
  end

  def test_no_stale_attachments
    functions = header_functions
    attached = Ocireg::Native.singleton_methods.map(&:to_s).grep(/\Aocireg_/)
    assert_empty attached - functions, "attached functions that ocireg.h no longer declares"
  end
end
