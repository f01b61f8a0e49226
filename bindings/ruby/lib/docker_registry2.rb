# frozen_string_literal: true

# docker_registry2 compatibility, on top of the ocireg binding: `require "docker_registry2"`
# gives the docker_registry2 gem's module under both of its names, DockerRegistry (its README)
# and DockerRegistry2 (its releases), the same classes:
#
#   reg = DockerRegistry.new("https://my.registry.corp.com")
#   reg = DockerRegistry.connect("https://myuser:mypass@my.registry.corp.com")
#   reg = DockerRegistry.new("https://my.registry.corp.com", "myuser", "mypass")
#   reg = DockerRegistry2::Registry.new("https://my.registry.corp.com", user: "me", password: "pw")
#   reg.search("foo/repo")   # => ["foo/repo", ...]
#   reg.tags("foo/repo")     # => {"name" => "foo/repo", "tags" => [...]}; {} when unknown
#
# Every call goes through an Ocireg::Client (#client): one connection pool, tokens cached,
# bytes verified. Where the gem has known bugs this layer does what the gem's README
# promises; bindings/ruby/README.md ("Coming from docker_registry2") lists the differences.
require "fileutils"
require "json"
require "uri"
require "ocireg"

module DockerRegistry2
  VERSION = "1.18.0-ocireg"

  # The registry used when none is named (as the gem).
  DEFAULT_URI = "https://registry.hub.docker.com"

  # Base class of every exception of this module. #ocireg_error is the Ocireg::Error behind it
  # (nil when there was none), with the HTTP status, every registry error entry and the body.
  class Exception < RuntimeError
    attr_reader :ocireg_error

    def initialize(message = nil, ocireg_error: nil)
      super(message || ocireg_error&.message || self.class.name)
      @ocireg_error = ocireg_error
    end
  end

  # The credentials are invalid, or the registry does not support anonymous access.
  class RegistryAuthenticationException < Exception; end
  # The credentials do not grant this operation.
  class RegistryAuthorizationException < Exception; end
  # No registry at the given URL: nothing answers there, or what answers is not a registry.
  class RegistryUnknownException < Exception; end
  # TLS failed: the certificate cannot be validated, or the URL says https to a plain-http port.
  class RegistrySSLException < Exception; end
  # The registry does not support the v2 API (or, for #tag, the manifest is not schema 2).
  class RegistryVersionException < Exception; end
  # Kept for code that rescues it; ocireg renews tokens itself and never raises it.
  class ReauthenticatedException < Exception; end
  # Kept for code that rescues it (the gem's other name for RegistryUnknownException); ocireg
  # raises RegistryUnknownException.
  class UnknownRegistryException < Exception; end
  # The registry does not allow this method here (405), e.g. deletes disabled.
  class InvalidMethod < Exception; end
  # The repository, tag, manifest or blob does not exist.
  class NotFound < Exception; end
  # #push: a blob of the manifest is neither in the directory nor in the registry.
  class MissingLayerException < Exception; end

  # A manifest: the Hash of its parsed JSON, which also answers #body (its exact bytes, as a
  # String) and #headers (:content_type, :docker_content_digest, :content_length, as the gem's
  # RestClient headers; rebuilt from what ocireg verified), plus #repository and #tag (where it
  # came from, for #push).
  class Manifest < Hash
    attr_accessor :body, :headers, :repository, :tag

    # Internal: from an Ocireg::Manifest.
    def self.from_ocireg(manifest, repository, tag)
      m = self[JSON.parse(manifest.bytes)]
      m.body = manifest.bytes.dup.force_encoding(Encoding::UTF_8)
      m.headers = { content_type: manifest.media_type, docker_content_digest: manifest.digest,
                    content_length: manifest.bytes.bytesize.to_s }
      m.repository = repository
      m.tag = tag
      m
    end
  end

  # A blob fetched into memory by Registry#blob: #body (binary String) and #headers
  # (:content_length, :docker_content_digest). A JSON blob (an image config) also answers
  # #[] and #to_h with its parsed content, as the gem's README shows (blob["architecture"]).
  class Blob
    attr_reader :body, :headers

    def initialize(headers, body)
      @headers = headers
      @body = body
    end

    # The blob parsed as JSON (a Hash); raises JSON::ParserError for a blob that is not JSON.
    def to_h
      @to_h ||= JSON.parse(@body)
    end

    def [](key)
      to_h[key]
    end
  end

  # Options of the gem that map onto ocireg (see Registry#initialize).
  KNOWN_OPTIONS = %i[user password open_timeout read_timeout http_options ocireg].freeze
  # RestClient options of `http_options:` that map onto ocireg.
  KNOWN_HTTP_OPTIONS = %i[open_timeout read_timeout timeout verify_ssl ssl_ca_file proxy user password].freeze

  class Registry
    # The Ocireg::Client every call goes through (for everything this API does not cover:
    # streaming, cancellation, push_image, verify ...).
    attr_reader :client

    # Connects to the registry at `uri` ("https://host[:port][/path]", userinfo allowed) and
    # checks it answers as a v2 registry (GET /v2/), raising:
    # * RegistryAuthenticationException: the credentials are invalid, or the registry does not
    #   support anonymous access;
    # * RegistryAuthorizationException: the credentials do not grant access to this registry;
    # * RegistryUnknownException: nothing answers at the URL, or it is not a registry;
    # * RegistrySSLException: the certificate cannot be validated, or https to a plain-http port.
    #
    # `options` (a Hash, or keywords): user:, password:, open_timeout: (seconds to connect),
    # read_timeout: (seconds to wait for data), http_options: (RestClient options: their
    # open_timeout, read_timeout, timeout, verify_ssl, ssl_ca_file, proxy, user and password map
    # onto ocireg and win over the top-level ones, as in the gem), ocireg: (a Hash of further
    # Ocireg::Client options, e.g. docker_config:, max_retries:, backoff:). Anything else is
    # accepted and ignored with a warning. The seed README's form, user and password as the
    # 2nd and 3rd arguments, works too. Without credentials the connection is anonymous.
    def initialize(uri = DEFAULT_URI, options = {}, password = nil, **kwargs)
      if options.is_a?(Hash)
        options = options.merge(kwargs)
      else
        options = kwargs.merge(user: options, password: password)
      end
      options = options.transform_keys(&:to_sym)
      @client = Ocireg::Client.new(uri.to_s, **self.class.client_options(uri.to_s, options))
      @uri = @client.base_url # no credentials kept in this object
      @host = @client.registry
      connect!
    end

    # Internal: the Ocireg::Client options for the gem's `options`.
    def self.client_options(uri, options)
      (options.keys - KNOWN_OPTIONS).each do |key|
        warn "docker_registry2 (ocireg): option #{key.inspect} is not supported and is ignored"
      end
      http = (options[:http_options] || {}).transform_keys(&:to_sym)
      (http.keys - KNOWN_HTTP_OPTIONS).each do |key|
        warn "docker_registry2 (ocireg): http_options #{key.inspect} is not supported and is ignored"
      end
      out = {}
      user = http[:user] || options[:user]
      password = http[:password] || options[:password]
      if user.nil? && password.nil?
        # The gem is anonymous unless given credentials; userinfo in the URL is credentials too.
        out[:anonymous] = true if URI.parse(uri).userinfo.nil?
      else
        out[:username] = user.to_s
        out[:password] = password.to_s
      end
      timeouts = {}
      open_timeout = http.fetch(:open_timeout, options[:open_timeout])
      read_timeout = http.fetch(:read_timeout, options[:read_timeout])
      timeouts[:connect] = Float(open_timeout) unless open_timeout.nil?
      timeouts[:read] = Float(read_timeout) unless read_timeout.nil?
      out[:timeouts] = timeouts unless timeouts.empty?
      out[:timeout] = Float(http[:timeout]) unless http[:timeout].nil?
      if http.key?(:verify_ssl) && [false, 0].include?(http[:verify_ssl])
        out[:insecure] = true # OpenSSL::SSL::VERIFY_NONE is 0
      end
      out[:ca_cert_file] = http[:ssl_ca_file] unless http[:ssl_ca_file].nil?
      out[:proxy] = http[:proxy] unless http[:proxy].nil?
      out.merge((options[:ocireg] || {}).transform_keys(&:to_sym))
    rescue URI::InvalidURIError => e
      raise RegistryUnknownException, "not a registry URL: #{e.message}"
    end

    def inspect
      "#<#{self.class.name} #{@client.base_url}>"
    end

    # GET /v2/: true, or the exceptions of #initialize.
    def ping
      translate { @client.ping }
    end

    # Every repository whose name contains `query` (a plain substring, not a regular
    # expression), from the catalog (all pages): an Array, [] when nothing matches. A registry
    # without a catalog (before distribution 2.1) raises NotFound, the README's "404 error".
    def search(query = "")
      translate { @client.search(query.to_s) }
    rescue InvalidMethod => e
      raise NotFound.new("#{@host} has no catalog: #{e.message}", ocireg_error: e.ocireg_error)
    end

    # The tags of the repository precisely named `repo`: {"name" => repo, "tags" => [...]}; an
    # unknown repository, or one without tags, returns {} and does not raise.
    #
    # Without `count` and `last` every tag comes (all pages). With them, one page: at most
    # `count` tags after `last`, and "last" => the last tag returned when more follow (pass it
    # back as `last`); `auto_paginate: true` walks every page. `with_hashes` adds "hashes",
    # tag => manifest digest (one HEAD per tag, in parallel).
    def tags(repo, count = nil, last = "", with_hashes = false, auto_paginate: false) # rubocop:disable Style/OptionalBooleanParameter
      last = nil if last.to_s.empty?
      result = translate do
        if count.nil? && last.nil?
          all_tags(repo, with_hashes)
        else
          paged_tags(repo, count, last, with_hashes, auto_paginate)
        end
      end
      result["tags"].empty? ? {} : result
    rescue NotFound
      {}
    end

    # The manifest of `repo:tag` (a tag or a digest): a Manifest (the parsed JSON, with #body
    # and #headers). As the gem's README says, an unknown repository or tag returns {}.
    def manifest(repo, tag)
      m = translate { @client.manifest(repo, tag) }
      Manifest.from_ocireg(m, repo, tag)
    rescue NotFound
      Manifest.new
    end

    # The digest of the manifest `repo:tag` ("sha256:..."), by HEAD. NotFound when unknown.
    def manifest_digest(repo, tag)
      translate { @client.manifest_digest(repo, tag) }
    end

    # The digest of `repo:tag`. With `architecture` and `os` (and `variant`), the digest of that
    # platform's image: the matching child of a multi-platform index, or the manifest itself
    # when its config is for that platform; NotFound (naming the platforms there are)
    # otherwise. Without them: for an index, its "manifests" entries (an Array), as the gem
    # answers; for an image, its digest.
    def digest(repo, tag, architecture = nil, os = nil, variant = nil)
      translate do
        if architecture.nil? || os.nil?
          m = @client.manifest(repo, tag)
          parsed = JSON.parse(m.bytes)
          parsed.key?("manifests") ? parsed["manifests"] : m.digest
        else
          platform = [os, architecture, variant].compact.reject { |s| s.to_s.empty? }.join("/")
          @client.platform_digest(repo, tag, platform)
        end
      end
    end

    # The blob `digest` of `repo`, verified: a Blob (body and headers) in memory, or, with
    # `outpath`, written to that file (only once verified; streamed, so any size) and
    # `outpath` returned. NotFound when missing.
    def blob(repo, digest, outpath = nil)
      translate do
        if outpath.nil?
          body = @client.pull_blob(repo, digest)
          Blob.new({ content_length: body.bytesize.to_s, docker_content_digest: digest }, body)
        else
          @client.pull_blob(repo, digest, to: outpath.to_s)
          outpath
        end
      end
    end

    # The size in bytes of the blob `digest` of `repo` (HEAD). NotFound when missing.
    def blob_size(repo, digest)
      size = translate { @client.blob_size(repo, digest) }
      raise NotFound, "blob #{digest} not found in #{repo} on #{@host}" if size.nil?

      size
    end

    # The sum of the layer sizes of `manifest` (a Manifest, or a parsed Hash): the gem's
    # manifest_sum. (The config is not counted, as in the gem; Ocireg::Manifest#sizes gives
    # both.) Schema 1 manifests have no sizes: 0.
    def manifest_sum(manifest)
      return 0 if manifest.is_a?(Hash) && manifest["schemaVersion"] == 1

      body = manifest.respond_to?(:body) && manifest.body ? manifest.body : JSON.generate(manifest)
      translate { Ocireg.manifest_sizes(body).layers }
    end

    # Downloads the layers of `repo:tag` into `dir` (created if needed), each into a file named
    # by its digest ("<dir>/sha256:<hex>", as the gem), verified before it is moved into place;
    # files already there with the right digest are kept. The image config is saved the same
    # way, so that #push can send the image elsewhere. For a multi-platform index, this
    # machine's platform. Returns the layer files (an Array of paths); an unknown repository
    # or tag returns {} as the gem's README says.
    def pull(repo, tag, dir)
      dir = dir.to_s
      FileUtils.mkdir_p(dir)
      # ocireg names files "<algorithm>-<hex>": files of an earlier pull are given that name
      # for the pull (so that ocireg verifies and keeps them), and every file the gem's name.
      existing = Dir.children(dir).select { |f| f.match?(/\A[a-z0-9]+:[a-f0-9]+\z/) }
      existing.each { |f| File.rename(File.join(dir, f), File.join(dir, f.sub(":", "-"))) }
      begin
        pulled = translate { @client.pull_layers(repo, tag, dir) }
        config = pulled.config && pulled.config["digest"]
        config_file = config && File.join(dir, config)
        if config_file && !File.file?(config_file)
          translate { @client.pull_blob(repo, config, to: config_file) }
        end
        pulled.layers.map { |layer| File.join(dir, layer.digest) }
      ensure
        Dir.children(dir).each do |f|
          next unless f.match?(/\A[a-z0-9]+-[a-f0-9]{32,}\z/)

          File.rename(File.join(dir, f), File.join(dir, f.sub("-", ":")))
        end
      end
    rescue NotFound
      {}
    end

    # Pushes `manifest` (a Manifest from #manifest, or its parsed Hash) to this registry as
    # `repo:tag` (default: where the manifest came from), each blob it names (config and
    # layers) uploaded from `dir` (files named by digest, as #pull writes them) unless the
    # registry has it already; MissingLayerException when a blob is in neither. The manifest
    # goes last, byte for byte (same digest). Returns the manifest digest.
    def push(manifest, dir, repo = nil, tag = nil)
      repo ||= manifest.respond_to?(:repository) ? manifest.repository : nil
      tag ||= manifest.respond_to?(:tag) ? manifest.tag : nil
      if repo.nil? || tag.nil?
        raise ArgumentError, "docker_registry2 (ocireg): push needs the repository and tag (the manifest " \
                             "does not come from #manifest: pass them as 3rd and 4th arguments)"
      end
      if manifest.key?("manifests")
        raise RegistryVersionException, "push of a multi-platform index is not supported: push each image"
      end

      blobs = [manifest["config"], *manifest["layers"]].compact.map { |d| d["digest"] }
      translate do
        blobs.each do |digest|
          next if @client.blob_exists?(repo, digest)

          path = [File.join(dir.to_s, digest), File.join(dir.to_s, digest.sub(":", "-"))].find { |p| File.file?(p) }
          raise MissingLayerException, "blob #{digest} is neither in #{dir} nor in #{repo} on #{@host}" if path.nil?

          pushed = @client.push_blob_file(repo, path)
          raise MissingLayerException, "file #{path} does not hash to #{digest} (got #{pushed})" unless pushed == digest
        end
        body = manifest.respond_to?(:body) && manifest.body ? manifest.body : JSON.generate(manifest)
        media_type = manifest.respond_to?(:headers) && manifest.headers ? manifest.headers[:content_type] : nil
        @client.put_manifest(repo, tag, body, media_type: media_type)
      end
    end

    # Gives the manifest `repo:tag` the tag `newtag` in `newrepo` of this registry (its bytes
    # unchanged: same digest; blobs mounted when `newrepo` is another repository). Returns the
    # manifest digest.
    def tag(repo, tag, newrepo, newtag)
      translate { @client.retag(repo, tag, newtag, to_repository: newrepo).digest }
    end

    # Copies the image `repo:tag` (an image, or an index with every platform) to
    # `newrepo:newtag` of `newregistry` (a Registry, an Ocireg::Client, or a URL, connected
    # anonymously unless it has userinfo): every blob streamed from here to there, manifests
    # last, bytes unchanged. Returns the manifest digest.
    def copy(repo, tag, newregistry, newrepo, newtag)
      dest = case newregistry
             when Registry then newregistry.client
             when Ocireg::Client then newregistry
             else Registry.new(newregistry.to_s).client
             end
      translate do
        same = dest.base_url == @client.base_url
        @client.copy(repo, tag, newrepo, newtag, to: same ? nil : dest).digest
      end
    end

    # Removes the tag `tag` from `repo`. The registry is asked to delete the tag alone (OCI 1.1);
    # a registry that cannot (distribution 2.x) gets the manifest deleted by digest, and then
    # EVERY TAG OF THAT MANIFEST GOES (as with the gem). Returns an Ocireg::TagDeletion saying
    # which (#removed_tags, #manifest_deleted?). NotFound when the tag does not exist;
    # InvalidMethod when the registry has deletes disabled.
    def rmtag(repo, tag)
      translate { @client.delete_tag(repo, tag) }
    end

    # The `last` (or quay.io's `next_page`) query parameter of the rel="next" link of a Link
    # header (relative or absolute), or nil when there is none.
    def last(header)
      return nil if header.nil?

      link = header.to_s.split(",").map(&:strip).find { |part| part.match?(/;\s*rel="?next"?/) }
      return nil if link.nil?

      target = link[/<([^>]*)>/, 1]
      return nil if target.nil?

      query = target.include?("?") ? target.split("?", 2)[1] : ""
      params = URI.decode_www_form(query.split("#", 2)[0]).to_h
      params["last"] || params["next_page"]
    end

    private

    def connect!
      connected = false
      begin
        ping
        connected = true
      rescue RegistryUnknownException => e
        # https to a port that speaks plain http is a TLS problem, not a missing registry.
        raise RegistrySSLException.new(nil, ocireg_error: e.ocireg_error) if plain_http_port?

        raise
      rescue NotFound, InvalidMethod => e
        # Something answers, but /v2/ is not a registry's.
        raise RegistryUnknownException.new("no registry at #{@host}: #{e.message}", ocireg_error: e.ocireg_error)
      end
    ensure
      @client.close unless connected
    end

    def plain_http_port?
      uri = URI.parse(@uri)
      return false unless uri.scheme == "https"

      plain = "http://#{uri.host}:#{uri.port}#{uri.path}" # the same port, even 443
      probe = Ocireg::Client.new(plain, anonymous: true, max_retries: 0, timeouts: { connect: 2, overall: 5 })
      begin
        probe.ping
        true
      rescue Ocireg::NetworkError, Ocireg::TimeoutError, Ocireg::TlsError
        false
      rescue Ocireg::Error
        true # an HTTP answer: the port speaks plain http
      ensure
        probe.close
      end
    rescue URI::Error
      false
    end

    def all_tags(repo, with_hashes)
      if with_hashes
        hashes = @client.tags_with_digests(repo)
        { "name" => repo, "tags" => hashes.keys, "hashes" => hashes }
      else
        { "name" => repo, "tags" => @client.tags(repo) }
      end
    end

    def paged_tags(repo, count, last, with_hashes, auto_paginate)
      tags = []
      loop do
        page = @client.tags_page(repo, n: Integer(count || 0), last: last)
        tags.concat(page.items)
        last = page.next_last
        break if last.nil? || !auto_paginate
      end
      result = { "name" => repo, "tags" => tags.uniq }
      result["last"] = last unless last.nil?
      result["hashes"] = result["tags"].to_h { |t| [t, @client.manifest_digest(repo, t)] } if with_hashes
      result
    end

    # Runs the block, turning Ocireg errors into this module's exceptions.
    def translate
      yield
    rescue Ocireg::Error => e
      raise DockerRegistry2.exception_for(e)
    end
  end

  # The exception of this module for an Ocireg::Error.
  def self.exception_for(error)
    klass = case error
            when Ocireg::AuthenticationError then RegistryAuthenticationException
            when Ocireg::AuthorizationError then RegistryAuthorizationException
            when Ocireg::NotFoundError then NotFound
            when Ocireg::TlsError then RegistrySSLException
            when Ocireg::NetworkError then RegistryUnknownException
            when Ocireg::UnsupportedError then InvalidMethod
            else
              error.http_status == 405 ? InvalidMethod : Exception
            end
    klass.new(error.message, ocireg_error: error)
  end

  class << self
    # A Registry (see Registry#initialize): `new(uri)`, `new(uri, user, password)`,
    # `new(uri, {user:, password:, ...})`.
    def new(uri = DEFAULT_URI, *args, **kwargs)
      Registry.new(uri, *args, **kwargs)
    end

    # Like #new, and remembers the registry for the module-level search / tags / manifest (as
    # the gem). Credentials may be in the URL: "https://user:pass@host".
    def connect(uri = DEFAULT_URI, *args, **kwargs)
      @reg = Registry.new(uri, *args, **kwargs)
    end

    # Registry#search on the registry of the last #connect.
    def search(query = "")
      registry!.search(query)
    end

    # Registry#tags on the registry of the last #connect.
    def tags(repository, *args, **kwargs)
      registry!.tags(repository, *args, **kwargs)
    end

    # Registry#manifest on the registry of the last #connect.
    def manifest(repository, tag)
      registry!.manifest(repository, tag)
    end

    private

    def registry!
      @reg or raise Exception, "call DockerRegistry2.connect first"
    end
  end
end

# The name of docker_registry2's README (and of its releases before 0.4.0): the same module.
DockerRegistry = DockerRegistry2 unless defined?(DockerRegistry)
