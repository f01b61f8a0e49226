package ocireg

// This file holds only the Go functions exported to C (a file with //export may only declare
// C functions in its preamble); the trampolines that call them are in ocireg.go.

/*
#include <stddef.h>
#include <stdint.h>
#include "ocireg.h"
*/
import "C"

import (
	"errors"
	"io"
	"runtime/cgo"
	"time"
	"unsafe"
)

// ProgressEvent says what a progress call reports.
type ProgressEvent uint32

// Progress events (OCIREG_PROGRESS_*).
const (
	ProgressUploading   ProgressEvent = C.OCIREG_PROGRESS_UPLOADING   // bytes are going up (Done grows)
	ProgressExisted     ProgressEvent = C.OCIREG_PROGRESS_EXISTED     // the blob was already in the repository
	ProgressMounted     ProgressEvent = C.OCIREG_PROGRESS_MOUNTED     // the blob was mounted from another repository
	ProgressUploaded    ProgressEvent = C.OCIREG_PROGRESS_UPLOADED    // the upload of the blob completed
	ProgressDownloading ProgressEvent = C.OCIREG_PROGRESS_DOWNLOADING // bytes are coming down (Done grows)
	ProgressReused      ProgressEvent = C.OCIREG_PROGRESS_REUSED      // the blob was already in the destination
	ProgressDownloaded  ProgressEvent = C.OCIREG_PROGRESS_DOWNLOADED  // the download completed and was verified
)

func (e ProgressEvent) String() string {
	switch e {
	case ProgressUploading:
		return "uploading"
	case ProgressExisted:
		return "existed"
	case ProgressMounted:
		return "mounted"
	case ProgressUploaded:
		return "uploaded"
	case ProgressDownloading:
		return "downloading"
	case ProgressReused:
		return "reused"
	case ProgressDownloaded:
		return "downloaded"
	}
	return "unknown"
}

// Progress is one progress report of a push or a pull.
type Progress struct {
	Digest string // the blob, "sha256:…"
	Done   int64  // bytes done
	Total  int64  // bytes in all
	Event  ProgressEvent
}

// ProgressFunc receives progress reports, on the goroutine that called the operation, before
// the operation returns. Returning a non-nil error cancels the operation, which then fails with
// an *Error matching ErrCancelled whose Cause is that error.
type ProgressFunc func(Progress) error

// callbackState is what a C callback reaches through its cgo.Handle: the Go callback, and what
// went wrong in it. No Go panic or error ever crosses into C: it is stored here, the callback
// returns the abort code, and the wrapper returns the error (or re-panics) after the C call.
type callbackState struct {
	progress ProgressFunc
	reader   io.Reader
	writer   io.Writer

	err      error // the callback's error, reported as Error.Cause
	readErr  error // an error a Read returned along with data, for the next call
	panicked bool
	panicVal any
}

// call runs the C call with a handle on s (0 when s is nil), then re-raises a callback's panic
// and attaches a callback's error to the library's error. f must take ownership of the call's
// outputs itself (copy and free them, or wrap them in a Go handle), so that nothing leaks when
// a panic is raised again. A callback's error is only reported with the failure it caused: if
// the library completed the operation anyway, the call succeeded.
func (s *callbackState) call(f func(h C.uintptr_t) error) error {
	if s == nil {
		return f(0)
	}
	h := cgo.NewHandle(s)
	defer h.Delete()
	err := f(C.uintptr_t(h))
	if s.panicked {
		panic(s.panicVal)
	}
	var e *Error
	if s.err != nil && errors.As(err, &e) {
		e.Cause = s.err
	}
	return err
}

// guard recovers a panic of the Go callback, stores it, and makes the callback return abort.
func (s *callbackState) guard(ret *int, abort int) {
	if r := recover(); r != nil {
		s.panicked = true
		s.panicVal = r
		*ret = abort
	}
}

func (s *callbackState) failed() bool { return s.panicked || s.err != nil }

func stateOf(h C.uintptr_t) *callbackState {
	return cgo.Handle(h).Value().(*callbackState)
}

//export ociregGoProgress
func ociregGoProgress(h C.uintptr_t, digest *C.char, done C.uint64_t, total C.uint64_t, event C.uint32_t) C.int {
	s := stateOf(h)
	ret := 0
	func() {
		defer s.guard(&ret, 1)
		if s.failed() {
			ret = 1
			return
		}
		err := s.progress(Progress{
			Digest: C.GoString(digest),
			Done:   int64(done),
			Total:  int64(total),
			Event:  ProgressEvent(event),
		})
		if err != nil {
			s.err = err
			ret = 1
		}
	}()
	return C.int(ret)
}

// maxEmptyReads bounds the io.Readers that return 0, nil forever.
const maxEmptyReads = 100

//export ociregGoRead
func ociregGoRead(h C.uintptr_t, buf *C.uint8_t, capacity C.size_t) C.ptrdiff_t {
	s := stateOf(h)
	ret := -1
	func() {
		defer s.guard(&ret, -1)
		if s.failed() {
			return
		}
		if s.readErr != nil {
			if s.readErr == io.EOF {
				ret = 0
			} else {
				s.err = s.readErr
			}
			return
		}
		if capacity == 0 {
			ret = 0
			return
		}
		p := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(capacity))
		for i := 0; i < maxEmptyReads; i++ {
			n, err := s.reader.Read(p)
			if n > 0 {
				s.readErr = err
				ret = n
				return
			}
			if err == io.EOF {
				ret = 0
				return
			}
			if err != nil {
				s.err = err
				return
			}
		}
		s.err = io.ErrNoProgress
	}()
	return C.ptrdiff_t(ret)
}

//export ociregGoWrite
func ociregGoWrite(h C.uintptr_t, buf *C.uint8_t, n C.size_t) C.int {
	s := stateOf(h)
	ret := 1
	func() {
		defer s.guard(&ret, 1)
		if s.failed() {
			return
		}
		var p []byte
		if n > 0 {
			p = unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
		}
		w, err := s.writer.Write(p)
		if err == nil && w != len(p) {
			err = io.ErrShortWrite
		}
		if err != nil {
			s.err = err
			return
		}
		ret = 0
	}()
	return C.int(ret)
}

//export ociregGoRetry
func ociregGoRetry(id C.uintptr_t, method, path *C.char, attempt C.uint32_t, status C.uint16_t, reason *C.char, delayMs C.uint64_t) {
	n := retryNotifierOf(uintptr(id))
	if n == nil {
		return // its client is gone: nobody to tell
	}
	n.notify(&RetryError{
		Method:     C.GoString(method),
		Path:       C.GoString(path),
		Attempt:    int(attempt),
		StatusCode: int(status),
		Reason:     C.GoString(reason),
	}, time.Duration(delayMs)*time.Millisecond)
}
