# frozen_string_literal: true

module Ocireg
  # The version of this Ruby binding (the library's is Ocireg.library_version).
  VERSION = "0.1.0"
end
