# frozen_string_literal: true

module Ocireg
  # An image (or an index with its child images) ready to push: manifest bytes plus where each
  # blob comes from. Made by Ocireg::ImageBuilder#build or Ocireg::Image.from_layout; immutable
  # and shareable across threads.
  class Image
    include OwnsHandle
    FREE_FN = :ocireg_image_free

    # Reads the image of the OCI image layout in `dir`: the manifest tagged `tag` (its ref name,
    # a full reference ending in ":tag", or a digest), or the only one when `tag` is nil. Blobs
    # stay on disk and are streamed when pushed.
    def self.from_layout(dir, tag: nil)
      out = Call.out_ptr
      Call.check { |err| Native.ocireg_image_from_layout(Native.cstr(dir), Native.cstr(tag), out, err) }
      wrap(out.ptr)
    end

    # The manifest digest, "sha256:...".
    def digest
      borrowed(:ocireg_image_digest)
    end

    def media_type
      borrowed(:ocireg_image_media_type)
    end

    # The manifest bytes, exactly as they will be pushed.
    def manifest
      len = Native.out(Fiddle::SIZEOF_SIZE_T)
      @handle.use do |h|
        ptr = Native.ocireg_image_manifest(h, len)
        ptr.null? ? nil : ptr[0, Native.read_size(len)]
      end
    end

    # What pushing this image to `repository` under `tag` (nil: untagged) gives, without
    # pushing: an Ocireg::Pushed to check with Client#verify.
    def expected_push(repository, tag = nil)
      Pushed.from_image(self, repository, tag)
    end

    def inspect
      "#<#{self.class.name} #{freed? ? 'freed' : "#{media_type} #{digest}"}>"
    end
  end

  # Builds an image from a config blob and layers (files or bytes). Setters return self:
  #
  #   image = Ocireg::ImageBuilder.new
  #             .config('{"architecture":"amd64","os":"linux"}')
  #             .add_layer(tar_gz_bytes)
  #             .add_layer_file("layer.tar.gz")
  #             .annotate("org.opencontainers.image.title", "demo")
  #             .build
  #
  # A builder is guarded by a mutex, so Ruby threads may share it.
  class ImageBuilder
    include OwnsHandle
    public_class_method :new
    FREE_FN = :ocireg_image_builder_free

    OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

    def initialize
      out = Call.out_ptr
      Call.check { |err| Native.ocireg_image_builder_new(out, err) }
      @handle = Handle.new(out.ptr, FREE_FN)
      @lock = Mutex.new
    end

    # Sets the config blob (JSON bytes). `media_type` defaults to the OCI image config type (or
    # Docker's, with docker_schema2).
    def config(data, media_type: nil)
      buf, len = Native.buffer(data)
      mutate { |b, err| Native.ocireg_image_builder_set_config(b, buf, len, Native.cstr(media_type), err) }
    end

    # Adds a layer held in memory (copied).
    def add_layer(data, media_type: OCI_LAYER_GZIP)
      buf, len = Native.buffer(data)
      mutate { |b, err| Native.ocireg_image_builder_add_layer_bytes(b, buf, len, Native.cstr(media_type), err) }
    end

    # Adds a layer read from a file (hashed by #build, streamed when pushed).
    def add_layer_file(path, media_type: OCI_LAYER_GZIP)
      mutate do |b, err|
        Native.ocireg_image_builder_add_layer_file(b, Native.cstr(path), Native.cstr(media_type), err)
      end
    end

    # Adds a manifest annotation (OCI format only).
    def annotate(key, value)
      mutate { |b, err| Native.ocireg_image_builder_add_annotation(b, Native.cstr(key), Native.cstr(value), err) }
    end
    alias add_annotation annotate

    # Sets the manifest's artifactType (OCI format only).
    def artifact_type(media_type)
      mutate { |b, err| Native.ocireg_image_builder_set_artifact_type(b, Native.cstr(media_type), err) }
    end

    # true: a Docker image manifest, schema 2; false: an OCI image manifest (the default).
    def docker_schema2(on = true)
      mutate { |b, err| Native.ocireg_image_builder_set_docker_schema2(b, on ? 1 : 0, err) }
    end

    def inspect
      "#<#{self.class.name}#{freed? ? ' freed' : ''}>"
    end

    # Builds the image (an Ocireg::Image). The builder stays usable.
    def build
      out = Call.out_ptr
      @lock.synchronize do
        @handle.use { |b| Call.check { |err| Native.ocireg_image_builder_build(b, out, err) } }
      end
      Image.__send__(:wrap, out.ptr)
    end

    private

    def mutate
      @lock.synchronize do
        @handle.use { |b| Call.check { |err| yield b, err } }
      end
      self
    end
  end

  # What a push did; pass it to Client#verify. Immutable and shareable across threads.
  class Pushed
    include OwnsHandle
    FREE_FN = :ocireg_pushed_free

    # The expectation of pushing `image` to `repository` under `tag` (nil: untagged), without
    # pushing anything (e.g. to verify an image pushed earlier or by another tool).
    def self.from_image(image, repository, tag = nil)
      out = Call.out_ptr
      image.__send__(:handle).use do |img|
        Call.check do |err|
          Native.ocireg_pushed_from_image(img, Native.cstr(repository), Native.cstr(tag), out, err)
        end
      end
      wrap(out.ptr)
    end

    # The manifest digest, "sha256:...".
    def digest
      borrowed(:ocireg_pushed_digest)
    end

    def media_type
      borrowed(:ocireg_pushed_media_type)
    end

    # "repository:tag@digest" (or "repository@digest").
    def reference
      borrowed(:ocireg_pushed_reference)
    end

    # The manifest size in bytes.
    def size
      @handle.use { |h| Native.ocireg_pushed_size(h) }
    end

    # Everything about the push as JSON text (repository, tag, digest, layers, stats ...).
    def to_json(*_args)
      owned_string(:ocireg_pushed_to_json)
    end

    # #to_json parsed into a Hash.
    def to_h
      Native.parse_json(to_json)
    end

    # The push counters: blobsUploaded, blobsExisting, blobsMounted, bytesUploaded ...
    def stats
      to_h["stats"]
    end

    def inspect
      "#<#{self.class.name} #{freed? ? 'freed' : reference}>"
    end
  end

  # What a pull fetched. Immutable and shareable across threads.
  class Pulled
    include OwnsHandle
    FREE_FN = :ocireg_pulled_free

    def digest
      borrowed(:ocireg_pulled_digest)
    end

    def media_type
      borrowed(:ocireg_pulled_media_type)
    end

    # The layout directory the image was written to.
    def path
      borrowed(:ocireg_pulled_path)
    end

    def size
      @handle.use { |h| Native.ocireg_pulled_size(h) }
    end

    def to_json(*_args)
      owned_string(:ocireg_pulled_to_json)
    end

    def to_h
      Native.parse_json(to_json)
    end

    # The pull counters: blobsDownloaded, blobsReused, bytesDownloaded, requests.
    def stats
      to_h["stats"]
    end

    # What was pulled as an Ocireg::Pushed, to check with Client#verify.
    def to_pushed
      out = Call.out_ptr
      @handle.use { |h| Call.check { |err| Native.ocireg_pulled_to_pushed(h, out, err) } }
      Pushed.__send__(:wrap, out.ptr)
    end

    def inspect
      "#<#{self.class.name} #{freed? ? 'freed' : "#{digest} in #{path}"}>"
    end
  end

  # The report of Client#verify: the outcome and every check.
  class VerifyReport
    include OwnsHandle
    FREE_FN = :ocireg_verify_report_free

    OUTCOMES = %i[verified failed inconclusive].freeze

    # :verified, :failed or :inconclusive.
    def outcome
      code = @handle.use { |h| Native.ocireg_verify_report_outcome(h) }
      OUTCOMES.fetch(code, code)
    end

    def verified?
      outcome == :verified
    end

    def to_json(*_args)
      owned_string(:ocireg_verify_report_to_json)
    end

    def to_h
      Native.parse_json(to_json)
    end

    # Each check: kind, tag, digest, size, status, message.
    def checks
      to_h["checks"]
    end

    # The report for people: the outcome, then one line per check.
    def to_s
      owned_string(:ocireg_verify_report_to_text)
    end

    def inspect
      "#<#{self.class.name} #{freed? ? 'freed' : outcome}>"
    end
  end

  # Asynchronous interrupts wait while a method of these classes runs (interrupts.rb).
  [Image, ImageBuilder, Pushed, Pulled, VerifyReport, Image.singleton_class, Pushed.singleton_class].each do |target|
    InterruptMask.apply(target)
  end
end
