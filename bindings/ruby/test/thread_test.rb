# frozen_string_literal: true

require_relative "test_helper"

class ThreadTest < Minitest::Test
  include OciregTestHelpers

  THREADS = Integer(ENV.fetch("OCIREG_TEST_THREADS", "8"))

  def test_threads_share_one_client
    registry = start_registry(auth: :bearer, users: { "alice" => "secret" })
    client = client_for(registry, username: "alice", password: "secret")
    data = Array.new(8) { |i| "blob number #{i} " * 500 }
    digests = data.map { |d| client.push_blob("team/threads", d) }
    registry.add_image("team/threads", "v1", config: "{}", layers: ["l"])
    manifest_digest = client.manifest_digest("team/threads", "v1")

    errors = Queue.new
    threads = Array.new(THREADS) do |t|
      Thread.new do
        10.times do |i|
          n = (t + i) % data.size
          raise "wrong blob" unless client.pull_blob("team/threads", digests[n]) == data[n]
          raise "wrong tags" unless client.tags("team/threads") == ["v1"]
          raise "wrong manifest" unless client.manifest("team/threads", "v1").digest == manifest_digest

          client.push_blob("team/threads-#{t}", "thread #{t} item #{i}")
        end
      rescue StandardError => e
        errors << e
      end
    end
    threads.each(&:join)
    assert_equal 0, errors.size, -> { errors.pop.full_message }
    THREADS.times { |t| assert client.blob_exists?("team/threads-#{t}", sha256("thread #{t} item 9")) }
  end

  def test_blocking_calls_release_the_gvl
    registry = start_registry
    client = client_for(registry, anonymous: true, max_retries: 3)
    registry.add_image("team/gvl", "v1", config: "{}", layers: [])
    # The next two requests fail with 503 and Retry-After: 1, so the call below waits about two
    # seconds inside the library; a Ruby thread must keep running meanwhile.
    registry.fail_next(2, status: 503, retry_after: 1)
    ticks = 0
    running = true
    ticker = Thread.new do
      while running
        ticks += 1
        sleep 0.01
      end
    end
    sleep 0.05
    before = ticks
    assert_equal ["v1"], client.tags("team/gvl")
    during = ticks - before
    running = false
    ticker.join
    assert_operator during, :>, 10, "other Ruby threads starved during a blocking call"
  end

  def test_close_waits_for_calls_in_flight
    registry = start_registry
    client = Ocireg::Client.new(registry.url, anonymous: true, max_retries: 3)
    registry.add_image("team/close", "v1", config: "{}", layers: [])
    registry.fail_next(1, status: 503, retry_after: 1)
    worker = Thread.new { client.tags("team/close") }
    sleep 0.2 # the worker is now inside the library
    client.close
    assert_equal ["v1"], worker.value
    assert client.closed?
  end

  def test_interrupt_cancels_at_the_next_progress_event
    registry = start_registry
    client = client_for(registry)
    builder = Ocireg::ImageBuilder.new.config(CONFIG)
    8.times { |i| builder.add_layer("layer #{i} " * 100) }
    image = builder.build
    registry.delay = 0.2 # about 4 s for the whole push, one blob at a time
    events = 0
    worker = Thread.new do
      client.push_image("team/interrupted", "v1", image, threads: 1) { events += 1 }
      :finished
    rescue RuntimeError => e
      e
    end
    sleep 0.1 until events.positive? || !worker.alive?
    worker.raise(RuntimeError, "interrupted from outside")
    result = worker.value
    registry.delay = 0
    assert_kind_of RuntimeError, result
    assert_equal "interrupted from outside", result.message
    assert_raises(Ocireg::NotFoundError) { client.manifest("team/interrupted", "v1") }
    assert client.ping
  end

  def test_kill_during_a_blocking_call
    registry = start_registry
    client = client_for(registry)
    registry.add_image("team/kill", "v1", config: "{}", layers: [])
    registry.delay = 0.5
    worker = Thread.new { client.tags("team/kill") }
    sleep 0.1
    worker.kill
    worker.join
    refute worker.alive?
    registry.delay = 0
    assert_equal ["v1"], client.tags("team/kill")
  end

  # Fiddle finds a callback's Ruby object by its address: GC.compact, run here inside the
  # callbacks themselves and between calls, must not move it (Native.closure pins it).
  def test_callbacks_survive_gc_compaction
    skip "GC.compact is not supported here" unless GC.respond_to?(:compact)

    registry = start_registry
    retries = 0
    client = client_for(registry, anonymous: true, max_retries: 2, backoff: { initial: 0.01, jitter: 0 },
                                  retry_notify: ->(_event) { GC.compact; retries += 1 })
    image = build_image("compact")
    3.times do |i|
      GC.compact
      events = 0
      client.push_image("team/compact", "v#{i}", image) { events += 1; GC.compact }
      assert_operator events, :>, 0
      data = "compacted #{i} " * 1000
      digest = client.push_blob_stream("team/compact", StringIO.new(data), size: data.bytesize)
      chunks = +""
      client.pull_blob("team/compact", digest) { |chunk| GC.compact; chunks << chunk }
      assert_equal data, chunks
      registry.fail_next(1, status: 503)
      assert_equal((0..i).map { |n| "v#{n}" }, client.tags("team/compact").sort)
    end
    assert_equal 3, retries
  end

  def test_garbage_collected_handles_are_freed
    registry = start_registry
    client = client_for(registry)
    image = build_image("gc")
    client.push_image("team/gc", "v1", image)
    50.times do
      client.push_image("team/gc", "v1", image)
      Ocireg::ImageBuilder.new.config("{}")
      Ocireg::Image.from_layout(tmpdir) rescue nil # rubocop:disable Style/RescueModifier
    end
    GC.start
    assert client.ping
  end
end
