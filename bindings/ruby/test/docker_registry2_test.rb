# frozen_string_literal: true

require_relative "test_helper"
require "docker_registry2"
require "openssl"
require "socket"

# The docker_registry2 compatibility layer: the gem's README examples, run unchanged (only the
# registry's URL is replaced by the test registry's), then each call and exception.
class DockerRegistry2Test < Minitest::Test
  include OciregTestHelpers

  CONFIG_AMD64 = '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
  README_URL = "https://my.registy.corp.com"

  # Runs README code, with the README's registry replaced by `url`, in `scope` (a Binding shared
  # by the examples of one test).
  def run_example(code, scope, url)
    uri = URI.parse(url)
    code = code.gsub("https://myuser:mypass@my.registy.corp.com", "http://myuser:mypass@#{uri.host}:#{uri.port}")
               .gsub(README_URL, url)
    scope.eval(code)
  end

  def track(reg)
    (@clients ||= []) << reg.client
    reg
  end

  # --- the seed README (docker_registry2's DockerRegistry), word for word ---------------------

  def test_the_seed_readme_examples_run_unchanged
    registry = start_registry
    registry.add_image("foo/repo", "1.0", config: CONFIG_AMD64, layers: ["a"])
    registry.add_image("foo/repo", "latest", config: CONFIG_AMD64, layers: ["a"])
    registry.add_image("mylibs", "2.0", config: CONFIG_AMD64, layers: ["b"])
    registry.add_image("team/mylibs-extra", "1", config: CONFIG_AMD64, layers: ["c"])
    scope = binding
    run_example(<<~RUBY, scope, registry.url)
      reg = DockerRegistry.new("https://my.registy.corp.com")
      repos = reg.search("foo/repo")
      tags = reg.tags("foo/repo")
    RUBY
    track(scope.local_variable_get(:reg))
    assert_equal ["foo/repo"], scope.local_variable_get(:repos)
    assert_equal({ "name" => "foo/repo", "tags" => ["1.0", "latest"] }, scope.local_variable_get(:tags))

    run_example('results = reg.search("mylibs")', scope, registry.url)
    assert_equal ["mylibs", "team/mylibs-extra"], scope.local_variable_get(:results).sort
    run_example('results = reg.search("nothing-like-this")', scope, registry.url)
    assert_equal [], scope.local_variable_get(:results)
    run_example('results = reg.tags("mylibs")', scope, registry.url)
    assert_equal({ "name" => "mylibs", "tags" => ["2.0"] }, scope.local_variable_get(:results))
    # "If no tags are found, or the named repository does not exist, return an empty object {}."
    run_example('results = reg.tags("no/such/repo")', scope, registry.url)
    assert_equal({}, scope.local_variable_get(:results))

    authed = start_registry(auth: :basic, users: { "myuser" => "mypass" })
    authed.add_image("mylibs", "2.0", config: CONFIG_AMD64, layers: ["b"])
    run_example('reg = DockerRegistry.connect("https://myuser:mypass@my.registy.corp.com")', scope, authed.url)
    track(scope.local_variable_get(:reg))
    run_example('results = reg.tags("mylibs")', scope, authed.url)
    assert_equal ["2.0"], scope.local_variable_get(:results)["tags"]
    connected = scope.local_variable_get(:reg)
    refute_includes connected.inspect, "mypass"
    connected.instance_variables.each do |name|
      refute_includes connected.instance_variable_get(name).inspect, "mypass", "no secret kept in #{name}"
    end
    # "pass a username and password as the second and third parameters"
    reg = track(DockerRegistry.new(authed.url, "myuser", "mypass"))
    assert_equal ["mylibs"], reg.search("mylibs")
  end

  def test_connecting_raises_the_readme_exceptions
    basic = start_registry(auth: :basic, users: { "myuser" => "mypass" })
    # Anonymous: "registry does not support anonymous access".
    assert_raises(DockerRegistry::RegistryAuthenticationException) { DockerRegistry.new(basic.url) }
    # Authenticated: "username/password combination is invalid".
    assert_raises(DockerRegistry::RegistryAuthenticationException) { DockerRegistry.new(basic.url, "myuser", "nope") }
    uri = URI.parse(basic.url)
    assert_raises(DockerRegistry::RegistryAuthenticationException) do
      DockerRegistry.connect("http://myuser:wrong@#{uri.host}:#{uri.port}")
    end
    # "username/password does not have sufficient rights to access this registry" (a 403).
    basic.fail_next(1, status: 403)
    assert_raises(DockerRegistry::RegistryAuthorizationException) { DockerRegistry.new(basic.url, "myuser", "mypass") }
    # "registry does not exist at the given URL": nothing answering ...
    closed = TCPServer.new("127.0.0.1", 0)
    port = closed.addr[1]
    closed.close
    assert_raises(DockerRegistry::RegistryUnknownException) { DockerRegistry.new("http://127.0.0.1:#{port}") }
    # ... or something that is not a registry.
    server, thread = start_http_server("HTTP/1.1 404 Not Found", "<html>no registry here</html>")
    assert_raises(DockerRegistry::RegistryUnknownException) { DockerRegistry.new("http://127.0.0.1:#{server.addr[1]}") }
    server.close
    thread.join(1)
    # "registry SSL certificate cannot be validated": https to a plain-http port ...
    assert_raises(DockerRegistry::RegistrySSLException) { DockerRegistry.new(basic.url.sub("http:", "https:")) }
    # ... and a certificate nobody vouches for.
    tls, tls_thread = start_self_signed_tls_server
    assert_raises(DockerRegistry::RegistrySSLException) { DockerRegistry.new("https://127.0.0.1:#{tls.addr[1]}") }
    tls.close
    tls_thread.join(1)
  end

  def test_every_exception_inherits_from_the_module_exception
    assert_same DockerRegistry, DockerRegistry2
    %i[RegistryAuthenticationException RegistryAuthorizationException RegistryUnknownException
       RegistrySSLException RegistryVersionException ReauthenticatedException UnknownRegistryException
       InvalidMethod NotFound MissingLayerException].each do |name|
      klass = DockerRegistry2.const_get(name)
      assert_operator klass, :<, DockerRegistry::Exception, name
    end
    assert_operator DockerRegistry2::Exception, :<, RuntimeError
  end

  # --- the released gem's calls (DockerRegistry2::Registry) -----------------------------------

  def test_registry_new_with_the_gems_options
    registry = start_registry(auth: :basic, users: { "me" => "secretstuff" })
    registry.add_image("namespace/repo", "2.5.6", config: CONFIG_AMD64, layers: ["x"])
    url = registry.url
    scope = binding
    run_example(<<~RUBY, scope, url)
      url = "https://my.registy.corp.com"
      opts = {user: "me", password: "secretstuff"}
      reg = DockerRegistry2.connect(url,opts)
    RUBY
    reg = track(scope.local_variable_get(:reg))
    assert_equal ["2.5.6"], reg.tags("namespace/repo")["tags"]
    assert_equal ["2.5.6"], DockerRegistry2.tags("namespace/repo")["tags"], "module-level calls use the last connect"
    refute_includes reg.inspect, "secretstuff"

    reg = track(DockerRegistry2::Registry.new(url, user: "me", password: "secretstuff", open_timeout: 2,
                                                   read_timeout: 5))
    assert_equal ["namespace/repo"], reg.search("namespace")
    _out, err = capture_io do
      track(DockerRegistry2::Registry.new(url, { user: "me", password: "secretstuff",
                                                 http_options: { open_timeout: 3, max_redirects: 2 }, color: :blue }))
    end
    assert_match(/option :color is not supported and is ignored/, err)
    assert_match(/http_options :max_redirects is not supported and is ignored/, err)
    # What the options become for ocireg.
    opts = DockerRegistry2::Registry.client_options(url, user: "me", password: "pw", open_timeout: 2, read_timeout: 5,
                                                         http_options: { read_timeout: 9, verify_ssl: false })
    assert_equal({ connect: 2.0, read: 9.0 }, opts[:timeouts])
    assert opts[:insecure]
    assert_equal "me", opts[:username]
  end

  def test_tags_pagination_and_hashes
    registry = start_registry
    ("a".."z").each { |t| registry.add_image("repo", t, config: CONFIG_AMD64, layers: ["l"]) }
    digest = registry.add_image("repo", "special", config: CONFIG_AMD64, layers: ["other"])
    reg = track(DockerRegistry2::Registry.new(registry.url))
    scope = binding
    run_example('results = reg.tags("mylibs",count=nil,last="",withHashes=false)', scope, registry.url)
    assert_equal({}, scope.local_variable_get(:results))
    run_example('res = reg.tags("repo",3,"c")', scope, registry.url)
    assert_equal({ "name" => "repo", "tags" => %w[d e f], "last" => "f" }, scope.local_variable_get(:res))
    first = reg.tags("repo", 3)
    assert_equal %w[a b c], first["tags"]
    assert_equal "c", first["last"]
    last_page = reg.tags("repo", 10, "v")
    assert_equal %w[w x y z], last_page["tags"]
    refute last_page.key?("last"), "the last page has no \"last\""
    all = reg.tags("repo", 5, "", false, auto_paginate: true)
    assert_equal 27, all["tags"].size
    refute all.key?("last")
    hashed = reg.tags("repo", nil, "", true)
    assert_equal 27, hashed["hashes"].size
    assert_equal digest, hashed["hashes"]["special"]
    page = reg.tags("repo", 2, "r", true)
    assert_equal %w[s special], page["tags"]
    assert_equal digest, page["hashes"]["special"]
    # Link headers, relative (the gem's bug) or absolute, and quay.io's next_page.
    assert_equal "c", reg.last('</v2/repo/tags/list?last=c&n=3>; rel="next"')
    assert_equal "c", reg.last('<https://r.example/v2/repo/tags/list?n=3&last=c>; rel="next"')
    assert_equal "p2", reg.last('</api/v1/repo?next_page=p2>; rel=next')
    assert_nil reg.last('</v2/repo/tags/list?last=c>; rel="prev"')
    assert_nil reg.last(nil)
  end

  def test_manifest_digest_blob_and_sizes
    registry = start_registry
    digest = registry.add_image("namespace/repo", "2.5.6", config: CONFIG_AMD64, layers: ["12345", "1234567890"])
    reg = track(DockerRegistry2::Registry.new(registry.url))
    scope = binding
    run_example('manifest = reg.manifest("namespace/repo","2.5.6")' + "\nmanifest.headers", scope, registry.url)
    manifest = scope.local_variable_get(:manifest)
    assert_kind_of Hash, manifest
    assert_equal 2, manifest["schemaVersion"]
    assert_equal digest, sha256(manifest.body)
    assert_equal digest, manifest.headers[:docker_content_digest]
    assert_equal({}, reg.manifest("namespace/repo", "9.9.9"), "the README: an unknown tag returns {}")
    run_example('digest = reg.digest("namespace/repo", "2.5.6")', scope, registry.url)
    assert_equal digest, scope.local_variable_get(:digest)
    assert_equal digest, reg.manifest_digest("namespace/repo", "2.5.6")
    assert_raises(DockerRegistry2::NotFound) { reg.manifest_digest("namespace/repo", "9.9.9") }

    config = manifest["config"]["digest"]
    run_example(%(blob = reg.blob("namespace/repo", "#{config}")), scope, registry.url)
    blob = scope.local_variable_get(:blob)
    assert_equal "amd64", blob["architecture"]
    assert_equal "linux", blob["os"]
    assert_equal CONFIG_AMD64, blob.body
    path = File.join(tmpdir, "config.json")
    assert_equal path, reg.blob("namespace/repo", config, path)
    assert_equal CONFIG_AMD64, File.read(path)
    assert_raises(DockerRegistry2::NotFound) { reg.blob("namespace/repo", sha256("absent")) }

    run_example(%(size = reg.blob_size "namespace/repo", "#{manifest['layers'][1]['digest']}"), scope, registry.url)
    assert_equal 10, scope.local_variable_get(:size)
    assert_raises(DockerRegistry2::NotFound) { reg.blob_size("namespace/repo", sha256("absent")) }
    run_example(%(manifest = reg.manifest "namespace/repo", "2.5.6"\ntotalSize = reg.manifest_sum manifest), scope,
                registry.url)
    assert_equal 15, scope.local_variable_get(:totalSize)
    assert_equal 15, reg.manifest_sum(JSON.parse(manifest.body))
  end

  def test_digest_for_a_platform
    registry = start_registry
    client = client_for(registry)
    amd = registry.add_image("multi", "amd", config: CONFIG_AMD64, layers: ["a"])
    arm = registry.add_image("multi", "arm", config: '{"architecture":"arm64","os":"linux","variant":"v8"}',
                                             layers: ["b"])
    entries = [[amd, { "architecture" => "amd64", "os" => "linux" }],
               [arm, { "architecture" => "arm64", "os" => "linux", "variant" => "v8" }]].map do |d, platform|
      m = client.manifest("multi", d)
      { "mediaType" => m.media_type, "digest" => d, "size" => m.bytes.bytesize, "platform" => platform }
    end
    index_type = "application/vnd.oci.image.index.v1+json"
    registry.add_manifest("multi", JSON.generate("schemaVersion" => 2, "mediaType" => index_type, "manifests" => entries),
                          media_type: index_type, tag: "latest")
    reg = track(DockerRegistry2::Registry.new(registry.url))
    assert_equal arm, reg.digest("multi", "latest", "arm64", "linux", "v8")
    assert_equal amd, reg.digest("multi", "latest", "amd64", "linux")
    assert_equal [amd, arm], reg.digest("multi", "latest").map { |e| e["digest"] }, "an index without a platform"
    err = assert_raises(DockerRegistry2::NotFound) { reg.digest("multi", "latest", "s390x", "linux") }
    assert_match(%r{linux/arm64/v8}, err.message)
  end

  def test_pull_push_tag_copy_rmtag
    source = start_registry
    dest = start_registry(auth: :bearer, users: { "me" => "pw" })
    digest = source.add_image("namespace/repo", "2.5.6", config: CONFIG_AMD64, layers: ["layer 1", "layer 2"])
    reg = track(DockerRegistry2::Registry.new(source.url))
    other = track(DockerRegistry2::Registry.new(dest.url, user: "me", password: "pw"))
    dir = File.join(tmpdir, "pulled")
    scope = binding
    run_example('files = reg.pull("namespace/repo","2.5.6",dir)', scope, source.url)
    files = scope.local_variable_get(:files)
    manifest = reg.manifest("namespace/repo", "2.5.6")
    assert_equal(manifest["layers"].map { |l| File.join(dir, l["digest"]) }, files)
    assert_equal ["layer 1", "layer 2"], files.map { |f| File.binread(f) }
    assert File.file?(File.join(dir, manifest["config"]["digest"])), "the config is saved for push"
    assert_equal files, reg.pull("namespace/repo", "2.5.6", dir), "a second pull keeps the verified files"
    assert_equal({}, reg.pull("namespace/repo", "9.9.9", File.join(tmpdir, "none")))

    # push: the manifest and the pulled directory, to another registry, byte for byte.
    assert_equal digest, other.push(manifest, dir)
    assert_equal digest, other.manifest_digest("namespace/repo", "2.5.6")
    assert_equal digest, other.push(manifest, dir, "elsewhere/repo", "1")
    FileUtils.rm_f(files.first)
    assert_raises(DockerRegistry2::MissingLayerException) { other.push(manifest, dir, "third/repo", "1") }
    assert_raises(ArgumentError) { other.push(JSON.parse(manifest.body), dir) }

    # tag, in the same and in another repository (the README's two examples).
    run_example(<<~RUBY, scope, source.url)
      reg.tag("namespace/repo","2.5.6","namespace/repo","latest")
      reg.tag("namespace/repo","2.5.6","other/image","10.5")
    RUBY
    assert_equal %w[2.5.6 latest], reg.tags("namespace/repo")["tags"].sort
    assert_equal digest, reg.digest("other/image", "10.5")

    # copy to another registry (a Registry, or a URL), bytes unchanged.
    assert_equal digest, reg.copy("namespace/repo", "2.5.6", other, "copied/repo", "v1")
    assert_equal digest, other.digest("copied/repo", "v1")
    assert_equal digest, reg.copy("namespace/repo", "2.5.6", source.url, "same/registry", "v1")
    assert_equal ["v1"], reg.tags("same/registry")["tags"]

    # rmtag removes the tag (alone, where the registry can).
    run_example('reg.rmtag("namespace/repo","latest")', scope, source.url)
    assert_equal ["2.5.6"], reg.tags("namespace/repo")["tags"]
    assert_raises(DockerRegistry2::NotFound) { reg.rmtag("namespace/repo", "latest") }
  end

  def test_errors_carry_the_ocireg_error
    registry = start_registry
    reg = track(DockerRegistry2::Registry.new(registry.url))
    registry.fail_next(1, status: 500)
    err = assert_raises(DockerRegistry2::Exception) { reg.search("x") }
    assert_kind_of Ocireg::RegistryError, err.ocireg_error
    assert_equal 500, err.ocireg_error.http_status
  end

  private

  # A plain HTTP server answering every request with `status_line` and `body`.
  def start_http_server(status_line, body)
    start_fake_http_server do |_request_line, sock|
      sock.write("#{status_line}\r\nContent-Type: text/html\r\nContent-Length: #{body.bytesize}\r\n" \
                 "Connection: close\r\n\r\n#{body}")
    end
  end

  # A TLS server with a self-signed certificate (which no client trusts).
  def start_self_signed_tls_server
    key = OpenSSL::PKey::RSA.new(2048)
    cert = OpenSSL::X509::Certificate.new
    cert.version = 2
    cert.serial = 1
    cert.subject = cert.issuer = OpenSSL::X509::Name.parse("/CN=127.0.0.1")
    cert.public_key = key.public_key
    cert.not_before = Time.now - 60
    cert.not_after = Time.now + 3600
    ext = OpenSSL::X509::ExtensionFactory.new(cert, cert)
    cert.add_extension(ext.create_extension("subjectAltName", "IP:127.0.0.1"))
    cert.sign(key, OpenSSL::Digest.new("SHA256"))
    ctx = OpenSSL::SSL::SSLContext.new
    ctx.cert = cert
    ctx.key = key
    tcp = TCPServer.new("127.0.0.1", 0)
    tls = OpenSSL::SSL::SSLServer.new(tcp, ctx)
    thread = Thread.new do
      loop do
        begin
          sock = tls.accept
          sock.close
        rescue OpenSSL::SSL::SSLError, SystemCallError
          next
        end
      end
    rescue IOError
      nil
    end
    [tcp, thread]
  end
end
