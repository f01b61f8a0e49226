# frozen_string_literal: true

# Runs the whole minitest suite: `ruby test/run.rb` (from bindings/ruby) or
# `ruby bindings/ruby/test/run.rb` (from the repository root). The library is found through
# $OCIREG_LIB, else the repository's target/debug (or target/release).
require_relative "test_helper"
Dir[File.join(__dir__, "*_test.rb")].sort.each { |file| require file }
