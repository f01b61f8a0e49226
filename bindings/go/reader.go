package ocireg

/*
#include "ocireg.h"
*/
import "C"

import (
	"context"
	"io"
	"runtime"
	"sync"
	"unsafe"
)

// BlobStream is a blob being read as a stream (the io.ReadCloser of Client.BlobReader). Its
// bytes are verified as they come: the Read that reaches the end fails with an error matching
// ErrDigestMismatch when they do not hash to the digest, so a reader that got io.EOF got the
// blob's exact bytes. A connection broken mid-way is resumed with Range. Read and Close may be
// called from different goroutines: Close interrupts a Read waiting on the registry.
type BlobStream struct {
	mu     sync.Mutex // serializes Read and Close on the C reader
	p      *C.ocireg_blob_reader
	cmu    sync.Mutex       // guards cancel (not held during a Read, so that Close can trigger it)
	cancel *C.ocireg_cancel // set until Close: Close triggers it to end a pending Read
	stop   func() bool      // stops watching the context (nil without one)
	fired  chan struct{}
	ctx    context.Context
	client *Client // for a retry callback's panic
	size   int64
	err    error // sticky: once a Read failed, every Read fails the same way
}

// BlobReader opens the blob digest of repository for reading as a stream: the GET is sent now
// (a missing blob is ErrNotFound here), and the bytes come as the caller reads them, with
// bounded memory. ctx covers the open and every Read: cancelling it (or its deadline) makes
// the pending or next Read fail with ErrCancelled and the context's error. The returned
// io.ReadCloser is a *BlobStream (its Size is the blob's size); Close it when done.
func (c *Client) BlobReader(ctx context.Context, repository, digest string) (io.ReadCloser, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if ctx.Err() != nil {
		return nil, contextError(ctx, nil)
	}
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cdig := a.str("digest", digest)
	if a.err != nil {
		return nil, a.err
	}
	s := &BlobStream{ctx: ctx, client: c}
	var cerr *C.ocireg_error
	if err := check(C.ocireg_cancel_new(&s.cancel, &cerr), cerr); err != nil {
		return nil, err
	}
	if ctx.Done() != nil {
		h := s.cancel
		fired := make(chan struct{})
		s.fired = fired
		s.stop = context.AfterFunc(ctx, func() {
			C.ocireg_cancel_trigger(h)
			close(fired)
		})
	}
	p := c.ref().acquire()
	cerr = nil
	err := check(C.ocireg_blob_reader_open(p, crepo, cdig, s.cancel, &s.p, &cerr), cerr)
	c.ref().release()
	c.reraiseRetryPanic()
	if err != nil {
		err = s.result(err)
		s.release()
		return nil, err
	}
	s.size = int64(C.ocireg_blob_reader_size(s.p))
	runtime.SetFinalizer(s, (*BlobStream).Close)
	return s, nil
}

// Size is the blob's size in bytes.
func (s *BlobStream) Size() int64 { return s.size }

// Read reads the next bytes of the blob: io.EOF after the last one, once the digest was
// verified.
func (s *BlobStream) Read(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	if s.p == nil {
		return 0, invalidArgument("read from a closed blob stream")
	}
	if len(b) == 0 {
		return 0, nil
	}
	var n C.size_t
	var cerr *C.ocireg_error
	err := check(C.ocireg_blob_reader_read(s.p, (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b))), C.size_t(len(b)), &n, &cerr), cerr)
	s.client.reraiseRetryPanic()
	if err != nil {
		s.err = s.result(err)
		return 0, s.err
	}
	if n == 0 {
		s.err = io.EOF
		return 0, io.EOF
	}
	return int(n), nil
}

// Close ends the stream (interrupting a Read in progress) and frees it. Closing twice is fine.
func (s *BlobStream) Close() error {
	if s == nil {
		return nil
	}
	s.cmu.Lock()
	C.ocireg_cancel_trigger(s.cancel) // a pending Read returns now, and frees s.mu; NULL: no-op
	s.cmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	runtime.SetFinalizer(s, nil)
	s.release()
	return nil
}

// release frees the C reader and the handle (with s.mu held, or before s is shared).
func (s *BlobStream) release() {
	if s.stop != nil {
		if !s.stop() {
			<-s.fired
		}
		s.stop = nil
	}
	if s.p != nil {
		C.ocireg_blob_reader_free(s.p)
		s.p = nil
	}
	s.cmu.Lock()
	C.ocireg_cancel_free(s.cancel)
	s.cancel = nil
	s.cmu.Unlock()
	if s.err == nil {
		s.err = invalidArgument("read from a closed blob stream")
	}
}

// result maps a cancellation the context caused to the context's error.
func (s *BlobStream) result(err error) error {
	if s.ctx.Done() == nil {
		return err
	}
	// Not the handle's state: Close triggers it too.
	cc := &callCtx{ctx: s.ctx}
	return cc.result(err)
}
