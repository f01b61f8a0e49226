package ocireg

/*
#include <stdint.h>
#include "ocireg.h"

// Defined in ocireg.go's preamble.
ocireg_status gocireg_push_image(const ocireg_client *client, const char *repository,
                                 const char *reference, const ocireg_image *image,
                                 const ocireg_push_options *opts, uintptr_t h,
                                 ocireg_pushed **out, ocireg_error **err);
ocireg_status gocireg_push_layout(const ocireg_client *client, const char *repository,
                                  const char *tag, const char *layout_dir,
                                  const ocireg_push_options *opts, uintptr_t h,
                                  ocireg_pushed **out, ocireg_error **err);
*/
import "C"

import "context"

// PushOptions say how PushImage and PushLayout push. The zero value (or nil) is the default: 8 parallel
// uploads, monolithic uploads, blobs already in the repository skipped, no mounts.
type PushOptions struct {
	// Threads is the number of parallel blob uploads (1 to 64; 0: the default, 4).
	Threads int
	// ChunkSize > 0 uploads blobs in PATCH chunks of that many bytes; 0: one PUT per blob.
	ChunkSize int64
	// MountFrom is a repository of the same registry to mount missing blobs from ("": none).
	MountFrom string
	// ForceUpload uploads every blob, even those the repository has (no check first).
	ForceUpload bool
}

// newPushOptions makes the C push options (nil for nil); free them with
// ocireg_push_options_free.
func newPushOptions(o *PushOptions) (*C.ocireg_push_options, error) {
	if o == nil {
		return nil, nil
	}
	if o.Threads < 0 || o.ChunkSize < 0 {
		return nil, invalidArgument("push options: threads and chunk size cannot be negative")
	}
	var a cargs
	defer a.free()
	cmount := a.opt("mount source repository", o.MountFrom)
	if a.err != nil {
		return nil, a.err
	}
	var p *C.ocireg_push_options
	var cerr *C.ocireg_error
	if err := check(C.ocireg_push_options_new(&p, &cerr), cerr); err != nil {
		return nil, err
	}
	steps := []func() C.ocireg_status{}
	if o.Threads != 0 {
		steps = append(steps, func() C.ocireg_status {
			return C.ocireg_push_options_set_threads(p, C.uint32_t(o.Threads), &cerr)
		})
	}
	if o.ChunkSize != 0 {
		steps = append(steps, func() C.ocireg_status {
			return C.ocireg_push_options_set_chunked(p, C.uint64_t(o.ChunkSize), &cerr)
		})
	}
	if cmount != nil {
		steps = append(steps, func() C.ocireg_status {
			return C.ocireg_push_options_set_mount_from(p, cmount, &cerr)
		})
	}
	if o.ForceUpload {
		steps = append(steps, func() C.ocireg_status {
			return C.ocireg_push_options_set_skip_existing(p, 0, &cerr)
		})
	}
	for _, step := range steps {
		if err := check(step(), cerr); err != nil {
			C.ocireg_push_options_free(p)
			return nil, err
		}
		cerr = nil
	}
	return p, nil
}

// PushImage pushes an image (or an index with its child images) to repository and tags it
// reference (a tag, or the image's digest to push untagged): blobs first, in parallel,
// skipping those already there, then child manifests, then the manifest. A failed or cancelled
// push never leaves a tag pointing at missing content. opts and progress may be nil.
func (c *Client) PushImage(ctx context.Context, repository, reference string, img *Image, opts *PushOptions, progress ProgressFunc) (*Pushed, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cref := a.str("reference", reference)
	if a.err != nil {
		return nil, a.err
	}
	ip := img.ref().acquire()
	defer img.ref().release()
	return c.pushWith(ctx, opts, progress, func(p *C.ocireg_client, popts *C.ocireg_push_options, h C.uintptr_t, out **C.ocireg_pushed, cerr **C.ocireg_error) C.ocireg_status {
		return C.gocireg_push_image(p, crepo, cref, ip, popts, h, out, cerr)
	})
}

// PushLayout pushes the image of the OCI image layout in directory layoutDir to repository
// under tag: the layout's manifest tagged tag if it has one, else its only manifest. opts and
// progress may be nil, as in PushImage.
func (c *Client) PushLayout(ctx context.Context, repository, tag, layoutDir string, opts *PushOptions, progress ProgressFunc) (*Pushed, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	ctag := a.str("tag", tag)
	cdir := a.str("layout directory", layoutDir)
	if a.err != nil {
		return nil, a.err
	}
	return c.pushWith(ctx, opts, progress, func(p *C.ocireg_client, popts *C.ocireg_push_options, h C.uintptr_t, out **C.ocireg_pushed, cerr **C.ocireg_error) C.ocireg_status {
		return C.gocireg_push_layout(p, crepo, ctag, cdir, popts, h, out, cerr)
	})
}

// pushWith makes the C push options of opts, runs push on the client under ctx with them and
// the progress state of progress, and wraps what it pushed.
func (c *Client) pushWith(ctx context.Context, opts *PushOptions, progress ProgressFunc, push func(p *C.ocireg_client, popts *C.ocireg_push_options, h C.uintptr_t, out **C.ocireg_pushed, cerr **C.ocireg_error) C.ocireg_status) (*Pushed, error) {
	popts, err := newPushOptions(opts)
	if err != nil {
		return nil, err
	}
	defer C.ocireg_push_options_free(popts)
	return progressCall(ctx, c, nil, progress, newPushed, func(p, _ *C.ocireg_client, h C.uintptr_t, out **C.ocireg_pushed, cerr **C.ocireg_error) C.ocireg_status {
		return push(p, popts, h, out, cerr)
	})
}

// progressState is the callback state of a progress func (nil: no callback).
func progressState(f ProgressFunc) *callbackState {
	if f == nil {
		return nil
	}
	return &callbackState{progress: f}
}

// Pushed is what a push did (or would do): the manifest digest, media type and size, every blob
// descriptor, and counts. Give it to Client.Verify. Immutable; Close it when done.
type Pushed struct {
	r cref[*C.ocireg_pushed]
}

func newPushed(p *C.ocireg_pushed) *Pushed {
	x := &Pushed{}
	return wrap(x, &x.r, p, func(p *C.ocireg_pushed) { C.ocireg_pushed_free(p) }, (*Pushed).Close)
}

func (x *Pushed) ref() *cref[*C.ocireg_pushed] {
	if x == nil {
		return nil
	}
	return &x.r
}

// PushedFromImage is what pushing img to repository under tag ("" for untagged) gives, without
// pushing anything: the expectation Client.Verify checks, e.g. for an image pushed earlier or by
// another tool.
func PushedFromImage(img *Image, repository, tag string) (*Pushed, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	ctag := a.opt("tag", tag)
	if a.err != nil {
		return nil, a.err
	}
	ip := img.ref().acquire()
	defer img.ref().release()
	var out *C.ocireg_pushed
	var cerr *C.ocireg_error
	if err := check(C.ocireg_pushed_from_image(ip, crepo, ctag, &out, &cerr), cerr); err != nil {
		return nil, err
	}
	return newPushed(out), nil
}

// Close frees the push result. Closing twice is fine.
func (x *Pushed) Close() error { return x.ref().close(x) }

// Digest is the pushed manifest's digest ("sha256:…").
func (x *Pushed) Digest() string {
	p := x.ref().acquire()
	defer x.ref().release()
	return C.GoString(C.ocireg_pushed_digest(p))
}

// MediaType is the pushed manifest's media type.
func (x *Pushed) MediaType() string {
	p := x.ref().acquire()
	defer x.ref().release()
	return C.GoString(C.ocireg_pushed_media_type(p))
}

// Reference is "repository:tag@digest" (or "repository@digest").
func (x *Pushed) Reference() string {
	p := x.ref().acquire()
	defer x.ref().release()
	return C.GoString(C.ocireg_pushed_reference(p))
}

// Size is the pushed manifest's size in bytes.
func (x *Pushed) Size() int64 {
	p := x.ref().acquire()
	defer x.ref().release()
	return int64(C.ocireg_pushed_size(p))
}

// JSON is everything about the push as JSON: repository, tag, reference, digest, mediaType,
// size, platform, config and layers (OCI descriptors), children (for an index), and stats
// (blobsUploaded, blobsExisting, blobsMounted, bytesUploaded, manifestsPut,
// manifestsExisting, requests).
func (x *Pushed) JSON() (string, error) {
	p := x.ref().acquire()
	defer x.ref().release()
	var out *C.char
	var cerr *C.ocireg_error
	if err := check(C.ocireg_pushed_to_json(p, &out, &cerr), cerr); err != nil {
		return "", err
	}
	return takeString(out), nil
}

// Outcome is the verdict of a verification.
type Outcome uint32

// Verification outcomes (OCIREG_OUTCOME_*).
const (
	OutcomeVerified     Outcome = C.OCIREG_OUTCOME_VERIFIED     // every check passed
	OutcomeFailed       Outcome = C.OCIREG_OUTCOME_FAILED       // a blob or manifest is missing or different
	OutcomeInconclusive Outcome = C.OCIREG_OUTCOME_INCONCLUSIVE // no check failed, but some could not be made
)

func (o Outcome) String() string {
	switch o {
	case OutcomeVerified:
		return "verified"
	case OutcomeFailed:
		return "failed"
	case OutcomeInconclusive:
		return "inconclusive"
	}
	return "unknown"
}

// Verify checks that what was pushed is in repository: HEAD of every blob (present, right
// size), GET of the manifest by its tag (by digest when pushed without one; each child of an
// index by digest), comparing digests. It never fails open.
//
// The report comes back both when every check passed (err nil) and when the push is not
// correct (err matching ErrVerifyFailed, its message listing the failed checks): the report is
// what explains the failure. Other errors come without a report. Close the report when done.
func (c *Client) Verify(ctx context.Context, repository string, pushed *Pushed) (*VerifyReport, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	if a.err != nil {
		return nil, a.err
	}
	pp := pushed.ref().acquire()
	defer pushed.ref().release()
	var report *VerifyReport
	err := c.do(ctx, func(p *C.ocireg_client) error {
		var out *C.ocireg_verify_report
		var cerr *C.ocireg_error
		err := check(C.ocireg_verify(p, crepo, pp, &out, &cerr), cerr)
		if out != nil {
			report = &VerifyReport{}
			free := func(p *C.ocireg_verify_report) { C.ocireg_verify_report_free(p) }
			wrap(report, &report.r, out, free, (*VerifyReport).Close)
		}
		return err
	})
	return report, err
}

// VerifyReport is the report of Client.Verify: the outcome and every check. Immutable; Close
// it when done.
type VerifyReport struct {
	r cref[*C.ocireg_verify_report]
}

func (r *VerifyReport) ref() *cref[*C.ocireg_verify_report] {
	if r == nil {
		return nil
	}
	return &r.r
}

// Close frees the report. Closing twice is fine.
func (r *VerifyReport) Close() error { return r.ref().close(r) }

// Outcome is the verdict (OutcomeFailed for a nil or closed report).
func (r *VerifyReport) Outcome() Outcome {
	p := r.ref().acquire()
	defer r.ref().release()
	return Outcome(C.ocireg_verify_report_outcome(p))
}

// JSON is the report as JSON: repository, digest, outcome ("verified", "failed",
// "inconclusive"), and checks, each with kind, tag, digest, size, status and message.
func (r *VerifyReport) JSON() (string, error) {
	p := r.ref().acquire()
	defer r.ref().release()
	var out *C.char
	var cerr *C.ocireg_error
	if err := check(C.ocireg_verify_report_to_json(p, &out, &cerr), cerr); err != nil {
		return "", err
	}
	return takeString(out), nil
}

// Text is the report for people: one line for the outcome, then one line per check.
func (r *VerifyReport) Text() (string, error) {
	p := r.ref().acquire()
	defer r.ref().release()
	var out *C.char
	var cerr *C.ocireg_error
	if err := check(C.ocireg_verify_report_to_text(p, &out, &cerr), cerr); err != nil {
		return "", err
	}
	return takeString(out), nil
}
