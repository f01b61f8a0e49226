package ocireg

/*
#include <stdint.h>
#include "ocireg.h"

// Defined in ocireg.go's preamble.
ocireg_status gocireg_copy(const ocireg_client *client, const char *repository,
                           const char *reference, const ocireg_client *to,
                           const char *to_repository, const char *to_reference, uint32_t threads,
                           const char *platform, uintptr_t h, ocireg_pushed **out,
                           ocireg_error **err);
ocireg_status gocireg_pull_layers(const ocireg_client *client, const char *repository,
                                  const char *reference, const char *dir, const char *platform,
                                  uint32_t threads, uintptr_t h, char **out_json,
                                  ocireg_error **err);
*/
import "C"

import "context"

// Platform is the platform of an image, as in an index entry.
type Platform struct {
	Architecture string   `json:"architecture"`          // e.g. "amd64", "arm64"
	OS           string   `json:"os"`                    // e.g. "linux"
	OSVersion    string   `json:"os.version,omitempty"`  // Windows
	OSFeatures   []string `json:"os.features,omitempty"` // Windows
	Variant      string   `json:"variant,omitempty"`     // e.g. "v8"
}

// String is "os/arch[/variant]".
func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Descriptor is an OCI content descriptor: what a manifest or an index says of a blob or a
// manifest it references.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	URLs         []string          `json:"urls,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Platform     *Platform         `json:"platform,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
}

// CopyOptions say how Copy and CopyTo copy. The zero value (or nil) copies everything (an
// index with all its children) with 8 parallel blob transfers.
type CopyOptions struct {
	// Platform "os/arch[/variant]" copies only that platform's image of an index; "": all.
	Platform string
	// Threads is the number of parallel blob transfers (0: the default, 4; at most 64).
	Threads int
}

// Copy copies the image repository:reference (a manifest, or an index with all its children)
// to toRepository:toReference (a tag, or the image's digest) on the same registry: blobs are
// mounted across repositories (no byte travels), blobs already there are skipped, manifests go
// last, every byte is unchanged (the digests are the same). It returns what was pushed (check
// it with Verify). opts and progress may be nil; progress gets the mounts.
func (c *Client) Copy(ctx context.Context, repository, reference, toRepository, toReference string, opts *CopyOptions, progress ProgressFunc) (*Pushed, error) {
	return c.copy(ctx, repository, reference, nil, toRepository, toReference, opts, progress)
}

// CopyTo copies the image repository:reference to toRepository:toReference on dst's registry
// (crane copy, skopeo copy): each blob is streamed from this registry to that one with bounded
// memory and no temporary file, in parallel; blobs already there are skipped; manifests go
// last; every byte is unchanged. It returns what was pushed to dst (check it with dst.Verify).
// ctx covers both registries. opts and progress may be nil.
func (c *Client) CopyTo(ctx context.Context, repository, reference string, dst *Client, toRepository, toReference string, opts *CopyOptions, progress ProgressFunc) (*Pushed, error) {
	if dst == nil {
		return nil, invalidArgument("the destination client is nil")
	}
	return c.copy(ctx, repository, reference, dst, toRepository, toReference, opts, progress)
}

func (c *Client) copy(ctx context.Context, repository, reference string, dst *Client, toRepository, toReference string, opts *CopyOptions, progress ProgressFunc) (*Pushed, error) {
	if opts == nil {
		opts = &CopyOptions{}
	}
	if opts.Threads < 0 {
		return nil, invalidArgument("copy options: threads cannot be negative")
	}
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cref := a.str("reference", reference)
	cto := a.str("destination repository", toRepository)
	ctoref := a.str("destination reference", toReference)
	cplat := a.opt("platform", opts.Platform)
	if a.err != nil {
		return nil, a.err
	}
	return progressCall(ctx, c, dst, progress, newPushed, func(p, q *C.ocireg_client, h C.uintptr_t, out **C.ocireg_pushed, cerr **C.ocireg_error) C.ocireg_status {
		return C.gocireg_copy(p, crepo, cref, q, cto, ctoref, C.uint32_t(opts.Threads), cplat, h, out, cerr)
	})
}

// Retag gives the manifest repository:reference the tag toTag in toRepository: in the same
// repository the manifest's bytes are fetched and put under the new tag; in another one it is
// a Copy. It returns what was tagged.
func (c *Client) Retag(ctx context.Context, repository, reference, toRepository, toTag string) (*Pushed, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cref := a.str("reference", reference)
	cto := a.str("destination repository", toRepository)
	ctag := a.str("tag", toTag)
	if a.err != nil {
		return nil, a.err
	}
	return doOut(ctx, c, newPushed, func(p *C.ocireg_client, out **C.ocireg_pushed, cerr **C.ocireg_error) C.ocireg_status {
		return C.ocireg_retag(p, crepo, cref, cto, ctag, out, cerr)
	})
}

// DeleteTagOptions say how DeleteTag deletes. The zero value (or nil) asks the registry to
// delete the tag alone first, and does not list the other tags.
type DeleteTagOptions struct {
	// ByDigest skips the tag-only DELETE (OCI 1.1) and deletes the manifest by digest
	// straight away.
	ByDigest bool
	// ListOtherTags finds, before deleting, the other tags on the same manifest (one HEAD per
	// tag of the repository), so that DeletedTag says which tags go with it.
	ListOtherTags bool
}

// DeletedTag is what DeleteTag did.
type DeletedTag struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	// Digest is the manifest the tag pointed at.
	Digest string `json:"digest"`
	// ManifestDeleted is true when the manifest itself was deleted (the registry refused to
	// delete the tag alone): every tag on it went with it.
	ManifestDeleted bool `json:"manifestDeleted"`
	// OtherTags are the other tags that pointed at the manifest (nil unless ListOtherTags).
	OtherTags []string `json:"otherTags"`
	// RemovedTags are the tags known to be gone.
	RemovedTags []string `json:"removedTags"`
}

// DeleteTag deletes the tag tag of repository (docker_registry2's rmtag). The registry is asked
// to delete the tag alone first (OCI 1.1); a registry that refuses that form (distribution
// 2.8) gets the manifest deleted by digest, and then every tag on that manifest goes with it
// (DeletedTag.ManifestDeleted says so). A registry with deletes disabled is ErrUnsupported.
// opts may be nil.
func (c *Client) DeleteTag(ctx context.Context, repository, tag string, opts *DeleteTagOptions) (*DeletedTag, error) {
	if opts == nil {
		opts = &DeleteTagOptions{}
	}
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	ctag := a.str("tag", tag)
	if a.err != nil {
		return nil, a.err
	}
	var d DeletedTag
	err := c.doJSON(ctx, &d, func(p *C.ocireg_client, out **C.char, cerr **C.ocireg_error) C.ocireg_status {
		return C.ocireg_delete_tag(p, crepo, ctag, C.int32_t(cbool(!opts.ByDigest)), C.int32_t(cbool(opts.ListOtherTags)), out, cerr)
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// PlatformDescriptor is the descriptor of the image for platform ("os/arch[/variant]", e.g.
// "linux/arm64/v8") that repository:reference names: the matching child of an index, or the
// manifest itself when its config's platform matches; ErrNotFound, naming the platforms there
// are, otherwise. The Go seed's platform resolution; docker_registry2's digest(repo, tag, arch,
// os, variant).
func (c *Client) PlatformDescriptor(ctx context.Context, repository, reference, platform string) (*Descriptor, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cref := a.str("reference", reference)
	cplat := a.str("platform", platform)
	if a.err != nil {
		return nil, a.err
	}
	var d Descriptor
	err := c.doJSON(ctx, &d, func(p *C.ocireg_client, out **C.char, cerr **C.ocireg_error) C.ocireg_status {
		return C.ocireg_platform_descriptor(p, crepo, cref, cplat, out, cerr)
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// PlatformDigest is PlatformDescriptor's digest: the manifest digest of the image for platform.
func (c *Client) PlatformDigest(ctx context.Context, repository, reference, platform string) (string, error) {
	d, err := c.PlatformDescriptor(ctx, repository, reference, platform)
	if err != nil {
		return "", err
	}
	return d.Digest, nil
}

// TagDigest is a tag and the manifest digest it points at.
type TagDigest struct {
	Tag    string `json:"tag"`
	Digest string `json:"digest"`
}

// TagsWithDigests lists every tag of repository with the digest it points at (one HEAD per tag,
// in parallel), in the registry's tag order (docker_registry2's tags(..., with_hashes = true)).
func (c *Client) TagsWithDigests(ctx context.Context, repository string) ([]TagDigest, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	if a.err != nil {
		return nil, a.err
	}
	out := []TagDigest{}
	err := c.doJSON(ctx, &out, func(p *C.ocireg_client, out **C.char, cerr **C.ocireg_error) C.ocireg_status {
		return C.ocireg_tags_with_digests(p, crepo, out, cerr)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ManifestSizes is the size of the image an image manifest describes: image the config plus
// the layers, layers the layers alone (docker_registry2's manifest_sum). mediaType "" reads it
// from the manifest. An index has no image size: ErrInvalidArgument. No request is sent.
func ManifestSizes(manifest []byte, mediaType string) (image, layers int64, err error) {
	if abiErr != nil {
		return 0, 0, abiErr
	}
	var a cargs
	defer a.free()
	cmt := a.opt("media type", mediaType)
	if a.err != nil {
		return 0, 0, a.err
	}
	var img, lay C.uint64_t
	var cerr *C.ocireg_error
	if err := check(C.ocireg_manifest_sizes(bytesIn(manifest), C.size_t(len(manifest)), cmt, &img, &lay, &cerr), cerr); err != nil {
		return 0, 0, err
	}
	return int64(img), int64(lay), nil
}

// Sizes is ManifestSizes of the manifest.
func (m *Manifest) Sizes() (image, layers int64, err error) {
	if m == nil {
		return 0, 0, invalidArgument("the manifest is nil")
	}
	return ManifestSizes(m.Bytes, m.MediaType)
}

// ImageSize is the size in bytes of the image repository:reference (config plus layers), from
// its manifest; for an index, of the image for platform ("os/arch[/variant]"; required then,
// ignored for a plain manifest when "").
func (c *Client) ImageSize(ctx context.Context, repository, reference, platform string) (int64, error) {
	m, err := c.Manifest(ctx, repository, reference)
	if err != nil {
		return 0, err
	}
	if isIndex(m.MediaType) {
		if platform == "" {
			return 0, invalidArgument(repository + ":" + reference + " is an index: name a platform")
		}
		d, err := c.PlatformDescriptor(ctx, repository, m.Digest, platform)
		if err != nil {
			return 0, err
		}
		if m, err = c.Manifest(ctx, repository, d.Digest); err != nil {
			return 0, err
		}
	}
	image, _, err := m.Sizes()
	return image, err
}

func isIndex(mediaType string) bool {
	return mediaType == "application/vnd.oci.image.index.v1+json" ||
		mediaType == "application/vnd.docker.distribution.manifest.list.v2+json"
}

// PulledLayer is one layer PullLayers wrote.
type PulledLayer struct {
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType"`
	// Path is the layer's file, named "<algorithm>-<hex>" of its digest.
	Path string `json:"path"`
	// Downloaded is false when the file was already there with the right digest.
	Downloaded bool `json:"downloaded"`
}

// PullStats are the counts of a pull.
type PullStats struct {
	BlobsDownloaded int   `json:"blobsDownloaded"`
	BlobsReused     int   `json:"blobsReused"`
	BytesDownloaded int64 `json:"bytesDownloaded"`
	Requests        int   `json:"requests"`
}

// PulledLayers is what PullLayers did.
type PulledLayers struct {
	Repository string        `json:"repository"`
	Digest     string        `json:"digest"` // the image manifest's
	MediaType  string        `json:"mediaType"`
	Platform   *Platform     `json:"platform"`
	Config     Descriptor    `json:"config"`
	Layers     []PulledLayer `json:"layers"`
	Stats      PullStats     `json:"stats"`
}

// PullLayers downloads the layers of the image repository:reference into directory dir
// (created if needed), each a file named "<algorithm>-<hex>" of its digest, verified before it
// is renamed into place; a file already there with the right digest is kept
// (docker_registry2's pull(repo, tag, dir)). For an index, opts.Platform picks the image ("":
// this machine's). opts (Threads, Platform) and progress may be nil.
func (c *Client) PullLayers(ctx context.Context, repository, reference, dir string, opts *PullOptions, progress ProgressFunc) (*PulledLayers, error) {
	if opts == nil {
		opts = &PullOptions{}
	}
	if opts.Threads < 0 {
		return nil, invalidArgument("pull options: threads cannot be negative")
	}
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cref := a.str("reference", reference)
	cdir := a.str("directory", dir)
	cplat := a.opt("platform", opts.Platform)
	if a.err != nil {
		return nil, a.err
	}
	text, err := progressCall(ctx, c, nil, progress, takeString, func(p, _ *C.ocireg_client, h C.uintptr_t, out **C.char, cerr **C.ocireg_error) C.ocireg_status {
		return C.gocireg_pull_layers(p, crepo, cref, cdir, cplat, C.uint32_t(opts.Threads), h, out, cerr)
	})
	if err != nil {
		return nil, err
	}
	var pl PulledLayers
	if err := decodeJSON(text, &pl); err != nil {
		return nil, err
	}
	return &pl, nil
}
