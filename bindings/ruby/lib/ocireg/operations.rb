# frozen_string_literal: true

module Ocireg
  # What Client#delete_tag did. `manifest_deleted` is true when the registry could not delete
  # the tag alone and the manifest went, by digest: then every tag on it went too
  # (`removed_tags`; `other_tags` lists the tags that pointed at it, when asked for with
  # `list_other_tags: true`, else nil).
  TagDeletion = Struct.new(:repository, :tag, :digest, :manifest_deleted, :other_tags, :removed_tags) do
    def manifest_deleted?
      manifest_deleted
    end

    # Internal: from the library's JSON.
    def self.from_json(text)
      h = Native.parse_json(text)
      new(h["repository"], h["tag"], h["digest"], h["manifestDeleted"], h["otherTags"], h["removedTags"] || [])
    end
  end

  # An OCI descriptor: `media_type`, `digest`, `size`, `platform` (a Hash such as
  # {"os" => "linux", "architecture" => "arm64", "variant" => "v8"}, or nil) and `json`, the
  # whole descriptor as parsed (annotations included).
  Descriptor = Struct.new(:media_type, :digest, :size, :platform, :json) do
    # Internal: from the library's JSON.
    def self.from_json(text)
      h = Native.parse_json(text)
      new(h["mediaType"], h["digest"], h["size"], h["platform"], h)
    end
  end

  # The sizes of an image manifest: `image` (config + layers) and `layers` (the layers alone,
  # what docker_registry2's manifest_sum adds up), in bytes.
  ManifestSizes = Struct.new(:image, :layers)

  # One layer written by Client#pull_layers: its `digest`, `size`, `media_type`, the `path` of
  # its file, and whether it was `downloaded` (false: the file was already there, verified).
  LayerFile = Struct.new(:digest, :size, :media_type, :path, :downloaded) do
    def downloaded?
      downloaded
    end
  end

  # What Client#pull_layers wrote: the image's `repository`, `digest`, `media_type`,
  # `platform` (nil unless an index was resolved), `config` (its descriptor, a Hash), `layers`
  # (Ocireg::LayerFile, in manifest order), `stats` (a Hash) and `json`, all of it as parsed.
  LayersPull = Struct.new(:repository, :digest, :media_type, :platform, :config, :layers, :stats, :json) do
    # Internal: from the library's JSON.
    def self.from_json(text)
      h = Native.parse_json(text)
      layers = (h["layers"] || []).map do |l|
        LayerFile.new(l["digest"], l["size"], l["mediaType"], l["path"], l["downloaded"])
      end
      new(h["repository"], h["digest"], h["mediaType"], h["platform"], h["config"], layers, h["stats"], h)
    end
  end

  class << self
    # The sizes of an image manifest (its bytes, a String, or an Ocireg::Manifest): an
    # Ocireg::ManifestSizes. `media_type` defaults to the document's own. An index has no image
    # size (InvalidArgumentError).
    def manifest_sizes(manifest, media_type: nil)
      if manifest.is_a?(Manifest)
        media_type ||= manifest.media_type
        manifest = manifest.bytes
      end
      buf, len = Native.buffer(manifest)
      image = Native.out(8)
      layers = Native.out(8)
      Call.check do |err|
        Native.ocireg_manifest_sizes(buf, len, Native.cstr(media_type), image, layers, err)
      end
      ManifestSizes.new(Native.read_u64(image), Native.read_u64(layers))
    end
  end

  class Manifest
    # Its Ocireg::ManifestSizes (config + layers, layers alone). InvalidArgumentError for an
    # index.
    def sizes
      Ocireg.manifest_sizes(self)
    end
  end

  class Client
    # Copies the image `repository:reference` (a manifest, or an index with all its children)
    # to `to_repository:to_reference` (a tag, or the image's digest; default: `reference`):
    # within this registry (blobs mounted, no byte travels), or, with `to:` (another
    # Ocireg::Client), to that client's registry (each blob streamed from here to there, with
    # bounded memory and no temporary file). Blobs go in parallel (`threads:`, default 8),
    # blobs already there are skipped, manifests go last, every byte unchanged (same digests).
    # `platform:` ("os/arch[/variant]") copies one platform of an index. The optional block
    # receives Ocireg::Progress events. Returns an Ocireg::Pushed, to check with
    # `(to || self).verify(to_repository, pushed)`.
    def copy(repository, reference, to_repository, to_reference = nil, to: nil, threads: nil, platform: nil,
             cancel: nil, timeout: nil, &progress)
      raise TypeError, "ocireg: to: must be an Ocireg::Client, not #{to.class}" unless to.nil? || to.is_a?(Client)

      to_reference ||= reference
      out = progress_call(progress, :ocireg_pushed_free, cancel, timeout, to: to) do |c, fn, o, err, d|
        Native.ocireg_copy(c, Native.cstr(repository), Native.cstr(reference), d, Native.cstr(to_repository),
                           Native.cstr(to_reference), Integer(threads || 0), Native.cstr(platform), fn, nil, o, err)
      end
      Pushed.__send__(:wrap, out.ptr)
    end

    # Gives the manifest `repository:reference` the tag `to_tag`, in `to_repository:` (default:
    # the same repository: its bytes are fetched and put under the new tag; another repository
    # of this registry: a copy). Returns an Ocireg::Pushed (what was tagged).
    def retag(repository, reference, to_tag, to_repository: nil, cancel: nil, timeout: nil)
      out = Call.out_ptr
      conn(cancel, timeout) do |c|
        Call.check do |err|
          Native.ocireg_retag(c, Native.cstr(repository), Native.cstr(reference), Native.cstr(to_repository || repository),
                              Native.cstr(to_tag), out, err)
        end
      end
      Pushed.__send__(:wrap, out.ptr)
    end

    # Deletes the tag `tag` of `repository`. The registry is asked to delete the tag alone
    # first (OCI 1.1; `tag_first: false` skips that); a registry that refuses (distribution
    # 2.8) gets the manifest deleted by digest, and then EVERY TAG ON THAT MANIFEST GOES WITH
    # IT (what the registry does, and what docker_registry2's rmtag does).
    # `list_other_tags: true` finds those tags first (one HEAD per tag). Returns an
    # Ocireg::TagDeletion. NotFoundError for an unknown tag; UnsupportedError when the
    # registry has deletes disabled.
    def delete_tag(repository, tag, tag_first: true, list_other_tags: false, cancel: nil, timeout: nil)
      out = Call.out_ptr
      conn(cancel, timeout) do |c|
        Call.check do |err|
          Native.ocireg_delete_tag(c, Native.cstr(repository), Native.cstr(tag), tag_first ? 1 : 0,
                                   list_other_tags ? 1 : 0, out, err)
        end
      end
      TagDeletion.from_json(Native.take_string(out))
    end

    # The Ocireg::Descriptor of the image for `platform` ("os/arch[/variant]", e.g.
    # "linux/arm64/v8") that `repository:reference` names: the matching child of an index, or
    # the manifest itself when its config's platform matches. NotFoundError (naming the
    # platforms there are) otherwise.
    def platform_descriptor(repository, reference, platform, cancel: nil, timeout: nil)
      out = Call.out_ptr
      conn(cancel, timeout) do |c|
        Call.check do |err|
          Native.ocireg_platform_descriptor(c, Native.cstr(repository), Native.cstr(reference),
                                            Native.cstr(platform), out, err)
        end
      end
      Descriptor.from_json(Native.take_string(out))
    end

    # The digest of the image for `platform` (see #platform_descriptor), e.g. "sha256:...".
    def platform_digest(repository, reference, platform, cancel: nil, timeout: nil)
      platform_descriptor(repository, reference, platform, cancel: cancel, timeout: timeout).digest
    end

    # Every tag of `repository` with the digest it points at (one HEAD per tag, in parallel):
    # a Hash { "v1" => "sha256:...", ... } in the registry's tag order.
    def tags_with_digests(repository, cancel: nil, timeout: nil)
      out = Call.out_ptr
      conn(cancel, timeout) do |c|
        Call.check { |err| Native.ocireg_tags_with_digests(c, Native.cstr(repository), out, err) }
      end
      Native.parse_json(Native.take_string(out)).to_h { |entry| [entry["tag"], entry["digest"]] }
    end

    # The size of the image `repository:reference` in bytes: config + layers (see
    # Manifest#sizes). For an index, `platform:` picks the image (required).
    def image_size(repository, reference, platform: nil, cancel: nil, timeout: nil)
      unless platform.nil?
        reference = platform_digest(repository, reference, platform, cancel: cancel, timeout: timeout)
      end
      manifest(repository, reference, cancel: cancel, timeout: timeout).sizes.image
    end

    # Downloads the layers of the image `repository:reference` into the directory `dir`
    # (created if needed), each a file named "<algorithm>-<hex>" of its digest, verified before
    # it is renamed into place; a file already there with the right digest is kept.
    # docker_registry2's pull(repo, tag, dir). For an index, `platform:` picks the image
    # (default: this machine's). `threads:` (default 8); the optional block receives
    # Ocireg::Progress events. Returns an Ocireg::LayersPull.
    def pull_layers(repository, reference, dir, platform: nil, threads: nil, cancel: nil, timeout: nil,
                    &progress)
      out = progress_call(progress, :ocireg_string_free, cancel, timeout) do |c, fn, o, err|
        Native.ocireg_pull_layers(c, Native.cstr(repository), Native.cstr(reference), Native.cstr(dir),
                                  Native.cstr(platform), Integer(threads || 0), fn, nil, o, err)
      end
      LayersPull.from_json(Native.take_string(out))
    end
  end
end
