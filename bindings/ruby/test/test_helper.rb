# frozen_string_literal: true

# Shared setup of the minitest suite. Every test talks to an in-memory registry the library
# starts on 127.0.0.1 (Ocireg::Testing::Registry): no network, no external registry.

$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
require "minitest/autorun"
require "tmpdir"
require "fileutils"
require "json"
require "stringio"
require "pathname"
require "ocireg"

# Never read or write the developer's ~/.docker/config.json.
ENV["DOCKER_CONFIG"] = Dir.mktmpdir("ocireg-ruby-docker-config")
Minitest.after_run { FileUtils.rm_rf(ENV["DOCKER_CONFIG"]) }

module OciregTestHelpers
  CONFIG = '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'

  def start_registry(**kwargs)
    registry = Ocireg::Testing::Registry.new(**kwargs)
    (@registries ||= []) << registry
    registry
  end

  def client_for(registry, **kwargs)
    kwargs = { anonymous: true } if kwargs.empty?
    client = Ocireg::Client.new(registry.url, max_retries: 0, **kwargs)
    (@clients ||= []) << client
    client
  end

  def tmpdir
    @tmpdir ||= Dir.mktmpdir("ocireg-ruby-test")
  end

  def teardown
    (@clients || []).each(&:close)
    (@registries || []).each(&:stop)
    FileUtils.rm_rf(@tmpdir) if @tmpdir
    super
  end

  # A small image built with the library: a config and two in-memory layers.
  def build_image(seed = "x")
    Ocireg::ImageBuilder.new
                        .config(CONFIG)
                        .add_layer("layer one #{seed}")
                        .add_layer("layer two #{seed}")
                        .annotate("org.opencontainers.image.title", "ruby test #{seed}")
                        .build
  end

  def sha256(data)
    require "digest"
    "sha256:#{Digest::SHA256.hexdigest(data)}"
  end

  # A plain HTTP server on 127.0.0.1 serving one connection at a time: the block gets the
  # request line and the socket once the request's headers are read, and writes the answer;
  # the socket is closed afterwards. Returns [server, thread] (close the server to stop it).
  def start_fake_http_server
    require "socket"
    server = TCPServer.new("127.0.0.1", 0)
    thread = Thread.new do
      loop do
        sock = server.accept
        begin
          request_line = sock.gets.to_s
          nil while (line = sock.gets) && line != "\r\n"
          yield request_line, sock
        rescue IOError, SystemCallError
          nil
        ensure
          sock.close
        end
      end
    rescue IOError
      nil
    end
    [server, thread]
  end
end
