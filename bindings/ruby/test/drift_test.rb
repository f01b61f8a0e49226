# frozen_string_literal: true

require_relative "test_helper"

# Fails when include/ocireg.h exports a function this binding has no Native method for, declares
# it with other types than Native::SIGNATURES, or when the Ruby API (lib/ocireg/*.rb other than
# native.rb) never uses it.
class DriftTest < Minitest::Test
  HEADER = ENV.fetch("OCIREG_HEADER") { File.expand_path("../../../include/ocireg.h", __dir__) }
  LIB_DIR = File.expand_path("../lib", __dir__)

  # The Fiddle type of each C type of the header (any other pointer is Fiddle::TYPE_VOIDP).
  C_TYPES = {
    "void" => Fiddle::TYPE_VOID, "int" => Fiddle::TYPE_INT, "ocireg_status" => Fiddle::TYPE_INT,
    "int32_t" => Fiddle::TYPE_INT32_T, "int64_t" => Fiddle::TYPE_INT64_T, "uint16_t" => -Fiddle::TYPE_INT16_T,
    "uint32_t" => -Fiddle::TYPE_INT32_T, "uint64_t" => -Fiddle::TYPE_INT64_T, "size_t" => Fiddle::TYPE_SIZE_T,
    "double" => Fiddle::TYPE_DOUBLE,
    "ocireg_read_fn" => Fiddle::TYPE_VOIDP, "ocireg_write_fn" => Fiddle::TYPE_VOIDP,
    "ocireg_progress_fn" => Fiddle::TYPE_VOIDP, "ocireg_retry_fn" => Fiddle::TYPE_VOIDP
  }.freeze

  def header_text
    skip "header not found at #{HEADER}" unless File.file?(HEADER)
    File.read(HEADER, encoding: "UTF-8")
  end

  def header_functions
    header_text.scan(/\b(ocireg_\w+)\(/).flatten.uniq.sort
  end

  # name => [return type, argument types] as Fiddle types, from the header's declarations.
  def header_signatures
    code = header_text.gsub(%r{/\*.*?\*/}m, "")
    code.scan(/^([A-Za-z_][\w *]*?)\b(ocireg_\w+)\(([^)]*)\);/).to_h do |ret, name, params|
      args = params.strip == "void" ? [] : params.split(",").map { |p| p.strip.sub(/\s*\w+\z/, "") }
      [name.to_sym, [fiddle_type(ret, result: true), args.map { |a| fiddle_type(a, result: false) }]]
    end
  end

  # A `const char *` argument is a String (TYPE_CONST_STRING); a `const char *` result, like any
  # other pointer, is a Fiddle::Pointer.
  def fiddle_type(c_type, result:)
    c_type = c_type.split.join(" ")
    return Fiddle::TYPE_CONST_STRING if c_type == "const char *" && !result

    c_type.include?("*") ? Fiddle::TYPE_VOIDP : C_TYPES.fetch(c_type)
  end

  def test_every_header_function_is_attached
    functions = header_functions
    assert_operator functions.size, :>, 100
    missing = functions.reject { |name| Ocireg::Native.respond_to?(name) }
    assert_empty missing, "functions of ocireg.h without a method in lib/ocireg/native.rb"
  end

  def test_signatures_match_the_header
    declared = header_signatures
    assert_equal header_functions, declared.keys.map(&:to_s).sort, "a declaration the parser missed"
    wrong = declared.reject do |name, (ret, args)|
      Ocireg::Native::SIGNATURES.key?(name) && Ocireg::Native.signature(name)[0, 2] == [ret, args]
    end
    assert_empty wrong.keys, "functions whose Native::SIGNATURES entry differs from ocireg.h"
  end

  def test_every_function_is_in_the_library
    # Each Fiddle::Function is made on first use; make them all now (Fiddle::DLError if the
    # library lacks one).
    names = Ocireg::Native::SIGNATURES.keys - Ocireg::Native::MISSING_TEST_FUNCTIONS
    names.each { |name| assert_kind_of Fiddle::Function, Ocireg::Native.function(name) }
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
    assert_empty attached - functions, "Native methods that ocireg.h no longer declares"
    assert_empty Ocireg::Native::SIGNATURES.keys.map(&:to_s) - functions, "stale Native::SIGNATURES entries"
  end
end
