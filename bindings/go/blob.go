package ocireg

/*
#include <stdint.h>
#include "ocireg.h"

// Declared again here (defined in ocireg.go's preamble, which cgo keeps per file).
ocireg_status gocireg_blob_push_stream(const ocireg_client *client, const char *repository,
                                       uintptr_t h, uint64_t len, const char *digest,
                                       char **out_digest, ocireg_error **err);
ocireg_status gocireg_blob_pull(const ocireg_client *client, const char *repository,
                                const char *digest, uintptr_t h, uint64_t *out_size,
                                ocireg_error **err);
*/
import "C"

import (
	"context"
	"io"
)

// BlobExists reports whether a blob is in repository (HEAD), and its size in bytes (0 when
// absent or unknown). Absence is not an error.
func (c *Client) BlobExists(ctx context.Context, repository, digest string) (bool, int64, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cdig := a.str("digest", digest)
	if a.err != nil {
		return false, 0, a.err
	}
	var exists C.int
	var size C.uint64_t
	err := c.do(ctx, func(p *C.ocireg_client) error {
		var cerr *C.ocireg_error
		return check(C.ocireg_blob_exists(p, crepo, cdig, &exists, &size, &cerr), cerr)
	})
	if err != nil {
		return false, 0, err
	}
	return exists != 0, int64(size), nil
}

// PushBlob uploads data as a blob unless repository already has it, and returns its digest.
func (c *Client) PushBlob(ctx context.Context, repository string, data []byte) (string, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	if a.err != nil {
		return "", a.err
	}
	return doOut(ctx, c, takeString, func(p *C.ocireg_client, digest **C.char, cerr **C.ocireg_error) C.ocireg_status {
		return C.ocireg_blob_push_bytes(p, crepo, bytesIn(data), C.size_t(len(data)), digest, cerr)
	})
}

// PushBlobFile uploads a file as a blob unless repository already has it (hashed first, then
// streamed), and returns its digest.
func (c *Client) PushBlobFile(ctx context.Context, repository, path string) (string, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cpath := a.str("path", path)
	if a.err != nil {
		return "", a.err
	}
	return doOut(ctx, c, takeString, func(p *C.ocireg_client, digest **C.char, cerr **C.ocireg_error) C.ocireg_status {
		return C.ocireg_blob_push_file(p, crepo, cpath, digest, cerr)
	})
}

// PushBlobReader uploads a blob of exactly size bytes read from r, and returns its digest.
// digest ("" when unknown) is the blob's digest: when given, the upload is skipped if the
// repository has the blob; when not, the bytes are hashed on the way. A reader yielding more
// or fewer than size bytes is an error, never a corrupted blob; a reader's error stops the
// upload and comes back as the Cause of an ErrCancelled *Error.
func (c *Client) PushBlobReader(ctx context.Context, repository string, r io.Reader, size int64, digest string) (string, error) {
	if size < 0 {
		return "", invalidArgument("a blob size cannot be negative")
	}
	if r == nil {
		return "", invalidArgument("the reader is nil")
	}
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cdig := a.opt("digest", digest)
	if a.err != nil {
		return "", a.err
	}
	var out string
	err := c.do(ctx, func(p *C.ocireg_client) error {
		s := &callbackState{reader: r}
		return s.call(func(h C.uintptr_t) error {
			var cdigest *C.char
			var cerr *C.ocireg_error
			err := check(C.gocireg_blob_push_stream(p, crepo, h, C.uint64_t(size), cdig, &cdigest, &cerr), cerr)
			out = takeString(cdigest)
			return err
		})
	})
	if err != nil {
		return "", err
	}
	return out, nil
}

// MountBlob mounts a blob from the repository from of the same registry (no upload). It
// reports whether the registry mounted it; when it could not, nothing is stored and it is not
// an error.
func (c *Client) MountBlob(ctx context.Context, repository, from, digest string) (bool, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cfrom := a.str("source repository", from)
	cdig := a.str("digest", digest)
	if a.err != nil {
		return false, a.err
	}
	var mounted C.int
	err := c.do(ctx, func(p *C.ocireg_client) error {
		var cerr *C.ocireg_error
		return check(C.ocireg_blob_mount(p, crepo, cfrom, cdig, &mounted, &cerr), cerr)
	})
	if err != nil {
		return false, err
	}
	return mounted != 0, nil
}

// DeleteBlob deletes a blob from repository (other repositories keep it).
func (c *Client) DeleteBlob(ctx context.Context, repository, digest string) error {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cdig := a.str("digest", digest)
	if a.err != nil {
		return a.err
	}
	return c.do(ctx, func(p *C.ocireg_client) error {
		var cerr *C.ocireg_error
		return check(C.ocireg_blob_delete(p, crepo, cdig, &cerr), cerr)
	})
}

// PullBlob streams a blob to w and returns its size; size and digest are verified at the end
// (ErrDigestMismatch), when w has already received the bytes: use PullBlobToFile to never keep
// unverified content, or BlobReader to read the blob as an io.Reader. An error of w stops the
// download and comes back as the Cause of an ErrCancelled *Error.
func (c *Client) PullBlob(ctx context.Context, repository, digest string, w io.Writer) (int64, error) {
	if w == nil {
		return 0, invalidArgument("the writer is nil")
	}
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cdig := a.str("digest", digest)
	if a.err != nil {
		return 0, a.err
	}
	var size C.uint64_t
	err := c.do(ctx, func(p *C.ocireg_client) error {
		s := &callbackState{writer: w}
		return s.call(func(h C.uintptr_t) error {
			var cerr *C.ocireg_error
			return check(C.gocireg_blob_pull(p, crepo, cdig, h, &size, &cerr), cerr)
		})
	})
	if err != nil {
		return 0, err
	}
	return int64(size), nil
}

// PullBlobToFile downloads a blob to the file path (via a temporary file renamed into place
// once verified; on error, cancellation included, nothing is left behind) and returns its
// size.
func (c *Client) PullBlobToFile(ctx context.Context, repository, digest, path string) (int64, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cdig := a.str("digest", digest)
	cpath := a.str("path", path)
	if a.err != nil {
		return 0, a.err
	}
	var size C.uint64_t
	err := c.do(ctx, func(p *C.ocireg_client) error {
		var cerr *C.ocireg_error
		return check(C.ocireg_blob_pull_to_path(p, crepo, cdig, cpath, &size, &cerr), cerr)
	})
	if err != nil {
		return 0, err
	}
	return int64(size), nil
}

// PullBlobBytes downloads a (small) blob into memory and verifies it.
func (c *Client) PullBlobBytes(ctx context.Context, repository, digest string) ([]byte, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cdig := a.str("digest", digest)
	if a.err != nil {
		return nil, a.err
	}
	var out []byte
	err := c.do(ctx, func(p *C.ocireg_client) error {
		var data *C.uint8_t
		var n C.size_t
		var cerr *C.ocireg_error
		if err := check(C.ocireg_blob_pull_bytes(p, crepo, cdig, &data, &n, &cerr), cerr); err != nil {
			return err
		}
		out = takeBytes(data, n)
		return nil
	})
	return out, err
}
