# frozen_string_literal: true

require_relative "test_helper"
require "digest"
require "socket"

# Issue 14 on the Ruby face: cancellation from another Thread, per-call deadlines, streamed
# blob reads, the backoff policy and retry callback, and registry errors as data.
class ControlTest < Minitest::Test
  include OciregTestHelpers

  def monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # Runs the block on a new Thread, cancels `cancel` after `after` seconds from this thread,
  # and returns [the exception the block raised (or its value), seconds from cancel to return].
  def cancel_from_another_thread(cancel, after: 0.3, &block)
    worker = Thread.new do
      block.call
    rescue StandardError => e
      e
    end
    sleep after
    assert worker.alive?, "the call ended before it was cancelled"
    cancelled_at = monotonic
    cancel.cancel
    result = worker.value
    [result, monotonic - cancelled_at]
  end

  # --- cancellation ------------------------------------------------------------------------

  def test_a_call_on_a_registry_silent_mid_body_is_cancelled_from_another_thread
    registry = start_registry
    client = client_for(registry)
    digest = registry.add_blob("team/drip", "x" * 4096)
    registry.set_hostile("slow-drip:2000")
    cancel = Ocireg::Cancel.new
    path = File.join(tmpdir, "blob")
    result, elapsed = cancel_from_another_thread(cancel) do
      client.pull_blob("team/drip", digest, to: path, cancel: cancel)
    end
    assert_kind_of Ocireg::CancelledError, result
    assert_operator elapsed, :<, 1.5, "the cancelled call took #{elapsed} s to return"
    refute File.exist?(path), "a cancelled download leaves no file"
    assert_empty Dir.children(tmpdir), "nor a partial one"
    assert cancel.cancelled?
    # The client itself is untouched; calls made with the triggered handle fail at once.
    registry.set_hostile("none")
    assert_equal 4096, client.pull_blob("team/drip", digest).bytesize
    assert_raises(Ocireg::CancelledError) { client.tags("team/drip", cancel: cancel) }
  end

  def test_a_streamed_read_is_cancelled_from_another_thread
    registry = start_registry
    client = client_for(registry)
    digest = registry.add_blob("team/drip", "y" * 4096)
    registry.set_hostile("slow-drip:2000")
    cancel = Ocireg::Cancel.new
    reader = client.blob_reader("team/drip", digest, cancel: cancel)
    result, elapsed = cancel_from_another_thread(cancel) { reader.read }
    assert_kind_of Ocireg::CancelledError, result
    assert_operator elapsed, :<, 1.5
  ensure
    reader&.close
  end

  def test_a_bound_client_and_a_cancel_triggered_before_the_call
    registry = start_registry
    client = client_for(registry)
    registry.add_image("team/app", "v1", config: CONFIG, layers: ["a"])
    cancel = Ocireg::Cancel.new
    refute cancel.cancelled?
    assert_match(/armed/, cancel.inspect)
    client.bind(cancel: cancel) do |bound|
      assert_equal ["v1"], bound.tags("team/app")
      cancel.cancel
      assert_raises(Ocireg::CancelledError) { bound.tags("team/app") }
      assert_equal client.registry, bound.registry
    end
    assert_equal ["v1"], client.tags("team/app")
    assert_raises(Ocireg::CancelledError) { client.manifest("team/app", "v1", cancel: cancel) }
    cancel.close
    assert cancel.closed?
    assert_raises(TypeError) { client.tags("team/app", cancel: "soon") }
    assert_raises(ArgumentError) { client.tags("team/app", timeout: 0) }
  end

  # --- per-call deadlines ------------------------------------------------------------------

  def test_a_per_call_timeout_with_retries_returns_within_a_second
    registry = start_registry
    client = client_for(registry, anonymous: true, max_retries: 5)
    digest = registry.add_blob("team/slow", "z" * 4096)
    registry.set_hostile("slow-drip:2000")
    started = monotonic
    assert_raises(Ocireg::TimeoutError) { client.pull_blob("team/slow", digest, timeout: 0.5) }
    assert_operator monotonic - started, :<, 1.0

    # A 503 storm: retries every 0.1 s, without end but for the deadline (which covers the
    # waits between retries too). Like tests/cancel.rs, the answer is the timeout or the last 503.
    registry.set_hostile("none")
    retries = 0
    stormy = client_for(registry, anonymous: true, max_retries: 1000, retry_notify: ->(_e) { retries += 1 },
                                  backoff: { initial: 0.1, multiplier: 1, jitter: 0 })
    registry.fail_next(1000, status: 503)
    started = monotonic
    err = assert_raises(Ocireg::Error) { stormy.tags("team/slow", timeout: 0.5) }
    assert_operator monotonic - started, :<, 1.0
    assert(err.is_a?(Ocireg::TimeoutError) || (err.is_a?(Ocireg::RegistryError) && err.http_status == 503), err.inspect)
    assert_operator retries, :>=, 2, "the call retried within its deadline"
    registry.fail_next(0)
    # Well within its deadline, a call succeeds.
    assert_equal 4096, client.pull_blob("team/slow", digest, timeout: 30).bytesize
  end

  # --- streamed blob reads -----------------------------------------------------------------

  def test_a_64_mib_blob_streams_and_matches_its_digest
    registry = start_registry
    client = client_for(registry)
    data = Random.new(14).bytes(64 << 20)
    digest = registry.add_blob("team/big", data)
    expected = sha256(data)
    data = nil # rubocop:disable Lint/UselessAssignment
    assert_equal expected, digest
    sha = Digest::SHA256.new
    buf = String.new(capacity: 1 << 20)
    total = 0
    reads = 0
    client.blob_reader("team/big", digest) do |blob|
      assert_equal 64 << 20, blob.size
      while blob.read(1 << 20, buf)
        assert_operator buf.bytesize, :<=, 1 << 20
        sha.update(buf)
        total += buf.bytesize
        reads += 1
      end
      assert blob.eof?
      assert_equal total, blob.pos
    end
    assert_equal 64 << 20, total
    assert_equal 64, reads
    assert_equal expected, "sha256:#{sha.hexdigest}"
  end

  def test_the_reader_is_io_like
    registry = start_registry
    client = client_for(registry)
    data = (0...10_000).map { |i| (i % 251).chr }.join.b
    digest = registry.add_blob("team/io", data)
    reader = client.blob_reader("team/io", digest)
    assert_equal data[0, 10], reader.read(10)
    assert_equal "".b, reader.read(0)
    chunks = reader.each_chunk(4096).to_a
    # Chunks of at most 4096 bytes, as they arrive.
    assert(chunks.all? { |c| c.bytesize.between?(1, 4096) }, chunks.map(&:bytesize).inspect)
    assert_operator chunks.size, :>=, 3
    assert_equal data, data[0, 10] + chunks.join
    assert_nil reader.read(1)
    assert_equal "".b, reader.read
    assert_raises(EOFError) { reader.readpartial(10) }
    reader.close
    assert reader.closed?
    reader.close
    assert_equal data, client.blob_reader("team/io", digest, &:read)
    assert_raises(Ocireg::NotFoundError) { client.blob_reader("team/io", sha256("absent")) }
  end

  # A plain HTTP server that answers every blob GET with other bytes of the same length (the
  # Ruby twin of the mock in tests/cancel.rs); other paths get {}.
  def start_tampering_server(fake)
    start_fake_http_server do |request_line, sock|
      body = request_line.include?("/blobs/") ? fake : "{}"
      sock.write("HTTP/1.1 200 OK\r\nContent-Length: #{body.bytesize}\r\n" \
                 "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
      sock.write(body) unless request_line.start_with?("HEAD")
    end
  end

  def test_a_tampered_blob_fails_on_the_last_read
    good = "a" * (1 << 20)
    fake = "b" * (1 << 20)
    server, thread = start_tampering_server(fake)
    client = Ocireg::Client.new("http://127.0.0.1:#{server.addr[1]}", anonymous: true, max_retries: 0)
    (@clients ||= []) << client
    reads = 0
    err = nil
    client.blob_reader("team/app", sha256(good)) do |blob|
      loop do
        chunk = blob.read(64 * 1024)
        break if chunk.nil?

        reads += 1
      end
    rescue Ocireg::DigestMismatchError => e
      err = e
    end
    refute_nil err, "a tampered blob must fail"
    # 1 MiB in reads of 64 KiB: the 16th read, which reaches the end, fails; the 15 before it
    # succeeded.
    assert_equal 15, reads
  ensure
    server&.close
    thread&.join(1)
  end

  # --- retry control -----------------------------------------------------------------------

  def test_the_retry_callback_sees_each_retry_of_a_503_storm_with_its_delay
    registry = start_registry
    events = []
    threads = []
    notify = lambda do |event|
      events << event
      threads << Thread.current
    end
    client = client_for(registry, anonymous: true, max_retries: 5, retry_notify: notify,
                                  backoff: { initial: 0.01, multiplier: 2, max_interval: 1, jitter: 0 })
    registry.add_image("team/retry", "v1", config: CONFIG, layers: [])
    registry.fail_next(3, status: 503)
    assert_equal ["v1"], client.tags("team/retry")
    assert_equal [1, 2, 3], events.map(&:attempt)
    assert_equal [503] * 3, events.map(&:status)
    assert_equal [10, 20, 40], events.map(&:delay_ms)
    assert_equal ["GET"] * 3, events.map(&:method)
    assert(events.all? { |e| e.path == "/v2/team/retry/tags/list" && !e.reason.empty? })
    assert_equal [Thread.current] * 3, threads, "the callback runs on the calling thread"

    # Retry-After replaces the backoff's wait.
    events.clear
    registry.fail_next(1, status: 503, retry_after: 1)
    client.tags("team/retry")
    assert_equal [1000], events.map(&:delay_ms)

    # A bound client (per-call timeout) tells the same callback.
    events.clear
    registry.fail_next(2, status: 503)
    client.tags("team/retry", timeout: 30)
    assert_equal 2, events.size
  end

  def test_an_exception_in_the_retry_callback_does_not_cross_into_the_library
    registry = start_registry
    client = client_for(registry, anonymous: true, max_retries: 2, retry_notify: ->(_e) { raise "boom" },
                                  backoff: { initial: 0.01, jitter: 0 })
    registry.add_image("team/retry", "v1", config: CONFIG, layers: [])
    registry.fail_next(2, status: 503)
    _out, err = capture_io { assert_equal ["v1"], client.tags("team/retry") }
    assert_match(/retry_notify callback raised RuntimeError: boom/, err)
    assert_raises(ArgumentError) { Ocireg::Client.new(registry.url, backoff: { initial: -1 }) }
    assert_raises(ArgumentError) { Ocireg::Client.new(registry.url, backoff: { speed: 1 }) }
    assert_raises(Ocireg::InvalidArgumentError) { Ocireg::Client.new(registry.url, backoff: { jitter: 1.5 }) }
    assert_raises(TypeError) { Ocireg::Client.new(registry.url, retry_notify: 42) }
  end

  # --- errors as data ----------------------------------------------------------------------

  def test_an_error_with_two_errors_entries_shows_both
    registry = start_registry
    client = client_for(registry)
    registry.add_image("team/app", "v1", config: CONFIG, layers: [])
    err = assert_raises(Ocireg::NotFoundError) { client.manifest("team/app", "nope") }
    assert_equal 1, err.errors.size
    assert_equal "MANIFEST_UNKNOWN", err.errors[0].code
    assert_equal({ "reference" => "nope" }, err.errors[0].detail_value)
    assert_includes err.body, "MANIFEST_UNKNOWN"
    assert_equal 404, err.http_status

    registry.set_hostile("malformed-error-entry")
    err = assert_raises(Ocireg::NotFoundError) { client.manifest("team/app", "nope") }
    assert_operator err.errors.size, :>=, 2
    assert_equal "MANIFEST_UNKNOWN", err.errors.first.code
    assert_equal "manifest unknown", err.errors.first.message
    assert_equal "UNKNOWN", err.errors.last.code
    assert_equal "the entry after a malformed one", err.errors.last.message
    assert_nil err.errors.last.detail
    assert_includes err.body, "the entry after a malformed one"
  end

  def test_a_503_carries_its_retry_after
    registry = start_registry
    client = client_for(registry)
    registry.fail_next(1, status: 503, retry_after: 7)
    err = assert_raises(Ocireg::RegistryError) { client.tags("team/app") }
    assert_equal 503, err.http_status
    assert_equal 7, err.retry_after
    refute_empty err.errors
    refute_nil err.body
  end
end
