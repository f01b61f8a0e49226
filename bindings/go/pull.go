package ocireg

/*
#include <stdint.h>
#include "ocireg.h"

// Defined in ocireg.go's preamble.
ocireg_status gocireg_pull_image(const ocireg_client *client, const char *repository,
                                 const char *reference, const char *dir,
                                 const char *platform, uint32_t threads, uintptr_t h,
                                 ocireg_pulled **out, ocireg_error **err);
*/
import "C"

import "context"

// PullOptions say how PullImage pulls. The zero value (or nil) pulls everything with 4
// parallel downloads.
type PullOptions struct {
	// Platform "os/arch[/variant]" (e.g. "linux/arm64/v8") pulls one platform's image from an
	// index; "": everything.
	Platform string
	// Threads is the number of parallel downloads (0: the default, 4; at most 64).
	Threads int
}

// PullImage pulls an image (or an index with all its children, or one platform's image) from
// repository at reference (tag, digest or tag@digest) into the OCI image layout directory dir
// (created if needed; other entries of an existing layout are kept). Every blob is verified
// before it is renamed into place; blobs already there are not downloaded again. opts and
// progress may be nil.
func (c *Client) PullImage(ctx context.Context, repository, reference, dir string, opts *PullOptions, progress ProgressFunc) (*Pulled, error) {
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
	cdir := a.str("layout directory", dir)
	cplat := a.opt("platform", opts.Platform)
	if a.err != nil {
		return nil, a.err
	}
	return progressCall(ctx, c, nil, progress, newPulled, func(p, _ *C.ocireg_client, h C.uintptr_t, out **C.ocireg_pulled, cerr **C.ocireg_error) C.ocireg_status {
		return C.gocireg_pull_image(p, crepo, cref, cdir, cplat, C.uint32_t(opts.Threads), h, out, cerr)
	})
}

// Pulled is what a pull fetched: the manifest digest, media type and size, its descriptors,
// the layout path, and counts. Immutable; Close it when done.
type Pulled struct {
	r cref[*C.ocireg_pulled]
}

func newPulled(p *C.ocireg_pulled) *Pulled {
	x := &Pulled{}
	return wrap(x, &x.r, p, func(p *C.ocireg_pulled) { C.ocireg_pulled_free(p) }, (*Pulled).Close)
}

func (x *Pulled) ref() *cref[*C.ocireg_pulled] {
	if x == nil {
		return nil
	}
	return &x.r
}

// Close frees the pull result. Closing twice is fine.
func (x *Pulled) Close() error { return x.ref().close(x) }

// Digest is the pulled manifest's digest.
func (x *Pulled) Digest() string {
	p := x.ref().acquire()
	defer x.ref().release()
	return C.GoString(C.ocireg_pulled_digest(p))
}

// MediaType is the pulled manifest's media type.
func (x *Pulled) MediaType() string {
	p := x.ref().acquire()
	defer x.ref().release()
	return C.GoString(C.ocireg_pulled_media_type(p))
}

// Path is the layout directory the image was written to.
func (x *Pulled) Path() string {
	p := x.ref().acquire()
	defer x.ref().release()
	return C.GoString(C.ocireg_pulled_path(p))
}

// Size is the pulled manifest's size in bytes.
func (x *Pulled) Size() int64 {
	p := x.ref().acquire()
	defer x.ref().release()
	return int64(C.ocireg_pulled_size(p))
}

// JSON is everything about the pull as JSON: repository, tag, digest, mediaType, size,
// platform, config, layers, children, fromIndex, path, and stats (blobsDownloaded,
// blobsReused, bytesDownloaded, requests).
func (x *Pulled) JSON() (string, error) {
	p := x.ref().acquire()
	defer x.ref().release()
	var out *C.char
	var cerr *C.ocireg_error
	if err := check(C.ocireg_pulled_to_json(p, &out, &cerr), cerr); err != nil {
		return "", err
	}
	return takeString(out), nil
}

// Pushed is what was pulled as a push result, to check with Client.Verify (e.g. that the
// registry still holds exactly this).
func (x *Pulled) Pushed() (*Pushed, error) {
	p := x.ref().acquire()
	defer x.ref().release()
	var out *C.ocireg_pushed
	var cerr *C.ocireg_error
	if err := check(C.ocireg_pulled_to_pushed(p, &out, &cerr), cerr); err != nil {
		return nil, err
	}
	return newPushed(out), nil
}
