// Package ocireg is the Go binding of ocireg, a synchronous OCI / Docker registry client
// written in Rust, over its C ABI (include/ocireg.h, libocireg.so).
//
// The binding is thin: every function calls one C function and translates its types and
// errors. Errors are values: every failure is an *Error carrying the status, the message, the
// HTTP status, the registry's error code and the Retry-After delay, and it matches one sentinel
// per status, so that errors.Is(err, ocireg.ErrNotFound) and errors.As(err, &e) work; a failure
// that came with an HTTP answer also gives a *ClientError (every errors[] entry, the raw body)
// with errors.As.
//
// Every method that talks to a registry takes a context.Context first, as the Go seed's
// registry package does: cancelling it or passing its deadline ends the call promptly, through
// a cancellation handle of the library (errors.Is(err, context.Canceled) or
// context.DeadlineExceeded then holds, with ErrCancelled). Blobs can be read as a stream
// (Client.BlobReader, an io.ReadCloser verified at its end), retries follow WithBackOff and are
// reported to WithRetryNotify.
//
// A *Client is safe for concurrent use by many goroutines (one connection pool, one token
// cache). Handles (Client, Image, ImageBuilder, Pushed, Pulled, VerifyReport, TestRegistry,
// BlobStream) are freed by Close; a finalizer frees them too when they are forgotten, but Close
// is the rule. Calls block the calling goroutine (its OS thread) until the C call returns; the
// library keeps no thread-local state, so goroutines may move between threads freely.
//
// Linking: cgo finds the C library with pkg-config (`#cgo pkg-config: ocireg`): install it
// with cargo-c (`cargo cinstall --release --features capi,test-server --prefix=PREFIX
// --libdir=lib` at the repository root), point PKG_CONFIG_PATH at PREFIX/lib/pkgconfig when
// building, and put PREFIX/lib on the loader path (LD_LIBRARY_PATH, or ldconfig) when running.
// The test registry (StartTestRegistry, NewTestRegistry) needs a library built with the
// `test-server` feature; without it everything else works and StartTestRegistry returns
// ErrUnsupported. The licence is MIT OR Apache-2.0.
package ocireg

/*
#cgo pkg-config: ocireg
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "ocireg.h"

// The Go callbacks, exported from callbacks.go. userdata is a cgo.Handle (an integer), never a
// Go pointer.
extern int ociregGoProgress(uintptr_t h, char *digest, uint64_t done, uint64_t total, uint32_t event);
extern ptrdiff_t ociregGoRead(uintptr_t h, uint8_t *buf, size_t cap);
extern int ociregGoWrite(uintptr_t h, uint8_t *buf, size_t len);
extern void ociregGoRetry(uintptr_t id, char *method, char *path, uint32_t attempt, uint16_t status,
                          char *reason, uint64_t delay_ms);

// C trampolines with the exact ocireg_*_fn signatures.
static int gocireg_progress_tramp(void *ud, const char *digest, uint64_t done, uint64_t total,
                                  uint32_t event) {
	return ociregGoProgress((uintptr_t)ud, (char *)digest, done, total, event);
}
static ptrdiff_t gocireg_read_tramp(void *ud, uint8_t *buf, size_t cap) {
	return ociregGoRead((uintptr_t)ud, buf, cap);
}
static int gocireg_write_tramp(void *ud, const uint8_t *buf, size_t len) {
	return ociregGoWrite((uintptr_t)ud, (uint8_t *)buf, len);
}
static void gocireg_retry_tramp(void *ud, const char *method, const char *path, uint32_t attempt,
                                uint16_t status, const char *reason, uint64_t delay_ms) {
	ociregGoRetry((uintptr_t)ud, (char *)method, (char *)path, attempt, status, (char *)reason, delay_ms);
}

// The retry callback of options: id names a Go retryNotifier (0: none).
ocireg_status gocireg_options_set_retry_notify(ocireg_options *opts, uintptr_t id, ocireg_error **err) {
	return ocireg_options_set_retry_notify(opts, id ? gocireg_retry_tramp : NULL, (void *)id, err);
}

// The functions that take a callback, called with a cgo.Handle (0: no callback).
ocireg_status gocireg_blob_push_stream(const ocireg_client *client, const char *repository,
                                              uintptr_t h, uint64_t len, const char *digest,
                                              char **out_digest, ocireg_error **err) {
	return ocireg_blob_push_stream(client, repository, gocireg_read_tramp, (void *)h, len, digest,
	                               out_digest, err);
}
ocireg_status gocireg_blob_pull(const ocireg_client *client, const char *repository,
                                       const char *digest, uintptr_t h, uint64_t *out_size,
                                       ocireg_error **err) {
	return ocireg_blob_pull(client, repository, digest, gocireg_write_tramp, (void *)h, out_size, err);
}
ocireg_status gocireg_push_image(const ocireg_client *client, const char *repository,
                                        const char *reference, const ocireg_image *image,
                                        const ocireg_push_options *opts, uintptr_t h,
                                        ocireg_pushed **out, ocireg_error **err) {
	return ocireg_push_image(client, repository, reference, image, opts,
	                         h ? gocireg_progress_tramp : NULL, (void *)h, out, err);
}
ocireg_status gocireg_push_layout(const ocireg_client *client, const char *repository,
                                         const char *tag, const char *layout_dir,
                                         const ocireg_push_options *opts, uintptr_t h,
                                         ocireg_pushed **out, ocireg_error **err) {
	return ocireg_push_layout(client, repository, tag, layout_dir, opts,
	                          h ? gocireg_progress_tramp : NULL, (void *)h, out, err);
}
ocireg_status gocireg_pull_image(const ocireg_client *client, const char *repository,
                                        const char *reference, const char *dir,
                                        const char *platform, uint32_t threads, uintptr_t h,
                                        ocireg_pulled **out, ocireg_error **err) {
	return ocireg_pull_image(client, repository, reference, dir, platform, threads,
	                         h ? gocireg_progress_tramp : NULL, (void *)h, out, err);
}
ocireg_status gocireg_copy(const ocireg_client *client, const char *repository,
                           const char *reference, const ocireg_client *to,
                           const char *to_repository, const char *to_reference, uint32_t threads,
                           const char *platform, uintptr_t h, ocireg_pushed **out,
                           ocireg_error **err) {
	return ocireg_copy(client, repository, reference, to, to_repository, to_reference, threads,
	                   platform, h ? gocireg_progress_tramp : NULL, (void *)h, out, err);
}
ocireg_status gocireg_pull_layers(const ocireg_client *client, const char *repository,
                                  const char *reference, const char *dir, const char *platform,
                                  uint32_t threads, uintptr_t h, char **out_json,
                                  ocireg_error **err) {
	return ocireg_pull_layers(client, repository, reference, dir, platform, threads,
	                          h ? gocireg_progress_tramp : NULL, (void *)h, out_json, err);
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// BindingVersion is the version of this Go binding.
const BindingVersion = "0.1.0"

// ABIVersionSupported is the C ABI version this binding was written for. The library's
// ocireg_abi_version() must return it; otherwise every constructor fails with ErrUnsupported.
const ABIVersionSupported = 2

// abiErr is the result of the load-time check of the library's ABI version.
var abiErr = checkABI()

func checkABI() error {
	lib := uint32(C.ocireg_abi_version())
	hdr := uint32(C.OCIREG_ABI_VERSION)
	if lib != ABIVersionSupported || hdr != ABIVersionSupported {
		return &Error{
			Status: StatusUnsupported,
			Message: fmt.Sprintf("ocireg: the Go binding speaks C ABI version %d, but the header says %d "+
				"and the loaded library (%s) %d", ABIVersionSupported, hdr, Version(), lib),
			RetryAfter: NoRetryAfter,
		}
	}
	return nil
}

// ABIVersion is the C ABI version of the loaded library (ocireg_abi_version()).
func ABIVersion() uint32 { return uint32(C.ocireg_abi_version()) }

// Version is the version of the loaded library, e.g. "0.1.0".
func Version() string { return C.GoString(C.ocireg_version()) }

// TriggerTestPanic makes the library panic on purpose (ocireg_test_panic), to check that a Rust
// panic comes back as an *Error with ErrPanic and that the process goes on. message "" uses
// the library's default. It always returns an error.
func TriggerTestPanic(message string) error {
	if abiErr != nil {
		return abiErr
	}
	var a cargs
	defer a.free()
	cmsg := a.opt("message", message)
	if a.err != nil {
		return a.err
	}
	if err := TestServerAvailable(); err != nil {
		return err
	}
	var cerr *C.ocireg_error
	return check(triggerTestPanic(cmsg, &cerr), cerr)
}

// ---------------------------------------------------------------------------------------------
// Handles

// handle guards a C handle: calls hold the read lock for their duration, Close takes the write
// lock, so a handle is never freed while a call is running on it, and a closed handle is NULL
// (which the library refuses with OCIREG_INVALID_ARGUMENT, never a crash).
type handle[P comparable] struct {
	mu sync.RWMutex
	p  P // a C pointer type such as *C.ocireg_client
}

func (h *handle[P]) acquire() P {
	h.mu.RLock()
	return h.p
}

func (h *handle[P]) release() { h.mu.RUnlock() }

// acquireExclusive is for the C functions taking a non-const pointer (setters).
func (h *handle[P]) acquireExclusive() P {
	h.mu.Lock()
	return h.p
}

func (h *handle[P]) releaseExclusive() { h.mu.Unlock() }

// take empties the handle and returns what it held (nil when already closed).
func (h *handle[P]) take() P {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.p
	var zero P
	h.p = zero
	return p
}

// ---------------------------------------------------------------------------------------------
// Strings and bytes

// cargs collects C strings for one call and frees them afterwards. A Go string holding a NUL
// byte cannot be a C string: it is reported as an ErrInvalidArgument *Error (in a.err) rather
// than silently cut short.
type cargs struct {
	ptrs []unsafe.Pointer
	err  error
}

// str converts a required string.
func (a *cargs) str(name, s string) *C.char {
	if strings.IndexByte(s, 0) >= 0 {
		if a.err == nil {
			a.err = &Error{
				Status:     StatusInvalidArgument,
				Message:    fmt.Sprintf("ocireg: %s %q contains a NUL byte", name, s),
				RetryAfter: NoRetryAfter,
			}
		}
		return nil
	}
	p := C.CString(s)
	a.ptrs = append(a.ptrs, unsafe.Pointer(p))
	return p
}

// opt converts an optional string: "" is NULL.
func (a *cargs) opt(name, s string) *C.char {
	if s == "" {
		return nil
	}
	return a.str(name, s)
}

func (a *cargs) free() {
	for _, p := range a.ptrs {
		C.free(p)
	}
	a.ptrs = nil
}

// bytesIn passes Go bytes to C for the duration of one call (the library copies what it
// keeps). An empty slice is NULL.
func bytesIn(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b)))
}

// takeString copies an owned C string and frees it.
func takeString(p *C.char) string {
	if p == nil {
		return ""
	}
	s := C.GoString(p)
	C.ocireg_string_free(p)
	return s
}

// takeBytes copies an owned C byte buffer and frees it.
func takeBytes(p *C.uint8_t, n C.size_t) []byte {
	if p == nil {
		return []byte{}
	}
	out := make([]byte, int(n))
	copy(out, unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
	C.ocireg_bytes_free(p, n)
	return out
}

// takeList copies an owned string list and frees it.
func takeList(l *C.ocireg_string_list) []string {
	defer C.ocireg_string_list_free(l)
	n := int(C.ocireg_string_list_len(l))
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, C.GoString(C.ocireg_string_list_get(l, C.size_t(i))))
	}
	return out
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// keepAlive is runtime.KeepAlive, named for what it does here: the Go object owning a C handle
// must outlive the C call using it, or its finalizer could free the handle mid-call.
func keepAlive(x any) { runtime.KeepAlive(x) }
