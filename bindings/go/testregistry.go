package ocireg

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include "ocireg.h"

// The ocireg_test_* functions exist only in a library built with the `test-server` feature.
// They are looked up when called (in the process's global scope, where the linked libocireg
// is), never linked against, so that a library without them still loads and links. A missing
// one answers OCIREG_UNSUPPORTED (or NULL / 0); StartTestRegistry says why first.
static void *gocireg_test_sym(const char *name) {
	void *self = dlopen(NULL, RTLD_LAZY);
	void *fn = self ? dlsym(self, name) : NULL;
	if (self) dlclose(self);
	return fn;
}
static int gocireg_test_has(const char *name) { return gocireg_test_sym(name) != NULL; }

#define GOCIREG_TEST_FN(name) ((__typeof__(&name))gocireg_test_sym(#name))
#define GOCIREG_TEST_CALL(name, missing, ...) \
	__typeof__(&name) fn = GOCIREG_TEST_FN(name); \
	return fn ? fn(__VA_ARGS__) : (missing)

static ocireg_status gocireg_test_registry_start(uint32_t auth_mode, const char *users,
                                                 ocireg_test_registry **out, ocireg_error **err) {
	GOCIREG_TEST_CALL(ocireg_test_registry_start, OCIREG_UNSUPPORTED, auth_mode, users, out, err);
}
static const char *gocireg_test_registry_url(const ocireg_test_registry *reg) {
	GOCIREG_TEST_CALL(ocireg_test_registry_url, NULL, reg);
}
static const char *gocireg_test_registry_host(const ocireg_test_registry *reg) {
	GOCIREG_TEST_CALL(ocireg_test_registry_host, NULL, reg);
}
static uint64_t gocireg_test_registry_request_count(const ocireg_test_registry *reg) {
	GOCIREG_TEST_CALL(ocireg_test_registry_request_count, 0, reg);
}
static ocireg_status gocireg_test_registry_add_blob(const ocireg_test_registry *reg,
                                                    const char *repository, const uint8_t *data,
                                                    size_t len, char **out_digest,
                                                    ocireg_error **err) {
	GOCIREG_TEST_CALL(ocireg_test_registry_add_blob, OCIREG_UNSUPPORTED, reg, repository, data, len,
	                  out_digest, err);
}
static ocireg_status gocireg_test_registry_add_manifest(const ocireg_test_registry *reg,
                                                        const char *repository, const char *tag,
                                                        const char *media_type,
                                                        const uint8_t *data, size_t len,
                                                        char **out_digest, ocireg_error **err) {
	GOCIREG_TEST_CALL(ocireg_test_registry_add_manifest, OCIREG_UNSUPPORTED, reg, repository, tag,
	                  media_type, data, len, out_digest, err);
}
static ocireg_status gocireg_test_registry_add_image(const ocireg_test_registry *reg,
                                                     const char *repository, const char *tag,
                                                     const uint8_t *config, size_t config_len,
                                                     const uint8_t *const *layers,
                                                     const size_t *layer_lens, size_t n_layers,
                                                     char **out_digest, ocireg_error **err) {
	GOCIREG_TEST_CALL(ocireg_test_registry_add_image, OCIREG_UNSUPPORTED, reg, repository, tag,
	                  config, config_len, layers, layer_lens, n_layers, out_digest, err);
}
static ocireg_status gocireg_test_registry_delete_blob(const ocireg_test_registry *reg,
                                                       const char *repository, const char *digest,
                                                       int *out_found, ocireg_error **err) {
	GOCIREG_TEST_CALL(ocireg_test_registry_delete_blob, OCIREG_UNSUPPORTED, reg, repository, digest,
	                  out_found, err);
}
static ocireg_status gocireg_test_registry_fail_next(const ocireg_test_registry *reg, uint32_t n,
                                                     uint16_t status, int64_t retry_after_secs,
                                                     ocireg_error **err) {
	GOCIREG_TEST_CALL(ocireg_test_registry_fail_next, OCIREG_UNSUPPORTED, reg, n, status,
	                  retry_after_secs, err);
}
static ocireg_status gocireg_test_registry_stop(ocireg_test_registry *reg, ocireg_error **err) {
	GOCIREG_TEST_CALL(ocireg_test_registry_stop, OCIREG_UNSUPPORTED, reg, err);
}
static void gocireg_test_registry_free(ocireg_test_registry *reg) {
	__typeof__(&ocireg_test_registry_free) fn = GOCIREG_TEST_FN(ocireg_test_registry_free);
	if (fn) fn(reg);
}
static ocireg_status gocireg_test_registry_set_delay_ms(const ocireg_test_registry *reg,
                                                        uint64_t ms, ocireg_error **err) {
	GOCIREG_TEST_CALL(ocireg_test_registry_set_delay_ms, OCIREG_UNSUPPORTED, reg, ms, err);
}
static ocireg_status gocireg_test_registry_drop_next(const ocireg_test_registry *reg, uint32_t n,
                                                     ocireg_error **err) {
	GOCIREG_TEST_CALL(ocireg_test_registry_drop_next, OCIREG_UNSUPPORTED, reg, n, err);
}
static ocireg_status gocireg_test_registry_redirect_blobs(const ocireg_test_registry *reg, int on,
                                                          ocireg_error **err) {
	GOCIREG_TEST_CALL(ocireg_test_registry_redirect_blobs, OCIREG_UNSUPPORTED, reg, on, err);
}
static ocireg_status gocireg_test_registry_set_hostile(const ocireg_test_registry *reg,
                                                       const char *scenario, ocireg_error **err) {
	GOCIREG_TEST_CALL(ocireg_test_registry_set_hostile, OCIREG_UNSUPPORTED, reg, scenario, err);
}
static ocireg_status gocireg_test_registry_requests_json(const ocireg_test_registry *reg,
                                                         char **out_json, ocireg_error **err) {
	GOCIREG_TEST_CALL(ocireg_test_registry_requests_json, OCIREG_UNSUPPORTED, reg, out_json, err);
}
static ocireg_status gocireg_test_registry_clear_requests(const ocireg_test_registry *reg,
                                                          ocireg_error **err) {
	GOCIREG_TEST_CALL(ocireg_test_registry_clear_requests, OCIREG_UNSUPPORTED, reg, err);
}
static ocireg_status gocireg_test_panic(const char *message, ocireg_error **err) {
	GOCIREG_TEST_CALL(ocireg_test_panic, OCIREG_UNSUPPORTED, message, err);
}
*/
import "C"

import (
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// testServerFunctions are the C functions of the test registry (feature `test-server`).
var testServerFunctions = []string{
	"ocireg_test_registry_start", "ocireg_test_registry_url", "ocireg_test_registry_host",
	"ocireg_test_registry_request_count", "ocireg_test_registry_add_blob",
	"ocireg_test_registry_add_manifest", "ocireg_test_registry_add_image",
	"ocireg_test_registry_delete_blob", "ocireg_test_registry_fail_next",
	"ocireg_test_registry_stop", "ocireg_test_registry_free", "ocireg_test_registry_set_delay_ms",
	"ocireg_test_registry_drop_next", "ocireg_test_registry_redirect_blobs",
	"ocireg_test_registry_set_hostile", "ocireg_test_registry_requests_json",
	"ocireg_test_registry_clear_requests", "ocireg_test_panic",
}

var testServerOnce = sync.OnceValue(func() error {
	var missing []string
	for _, name := range testServerFunctions {
		cname := C.CString(name)
		if C.gocireg_test_has(cname) == 0 {
			missing = append(missing, name)
		}
		C.free(unsafe.Pointer(cname))
	}
	if len(missing) == 0 {
		return nil
	}
	what := "missing " + strings.Join(missing, ", ")
	if len(missing) == len(testServerFunctions) {
		what = "it has no ocireg_test_* function"
	}
	return &Error{
		Status: StatusUnsupported,
		Message: "ocireg: the loaded libocireg was built without the test-server feature (" + what +
			"); the test registry needs a library built with `--features capi,test-server`",
		RetryAfter: NoRetryAfter,
	}
})

// TestServerAvailable reports nil when the loaded library has the test registry (it was built
// with the `test-server` feature), else an *Error matching ErrUnsupported that says so.
func TestServerAvailable() error { return testServerOnce() }

// triggerTestPanic calls ocireg_test_panic (for TriggerTestPanic in ocireg.go).
func triggerTestPanic(message *C.char, cerr **C.ocireg_error) C.ocireg_status {
	return C.gocireg_test_panic(message, cerr)
}

// AuthMode is the authentication a TestRegistry demands.
type AuthMode uint32

// Test registry auth modes (OCIREG_TEST_AUTH_*).
const (
	AuthNone   AuthMode = C.OCIREG_TEST_AUTH_NONE   // no authentication
	AuthBasic  AuthMode = C.OCIREG_TEST_AUTH_BASIC  // HTTP Basic, for the given users
	AuthBearer AuthMode = C.OCIREG_TEST_AUTH_BEARER // Bearer tokens from the registry's own /token endpoint
)

func (m AuthMode) String() string {
	switch m {
	case AuthNone:
		return "none"
	case AuthBasic:
		return "basic"
	case AuthBearer:
		return "bearer"
	}
	return "unknown"
}

// TestRegistry is the library's in-memory OCI registry on http://127.0.0.1:PORT, for tests (no
// TLS, no disk). Its methods are safe for concurrent use. Close it when done.
type TestRegistry struct {
	h handle[*C.ocireg_test_registry]
}

// StartTestRegistry starts a test registry on a free port of 127.0.0.1. users (user name to
// password; names and passwords without ',' or ':') are required for AuthBasic and AuthBearer
// and ignored for AuthNone.
func StartTestRegistry(auth AuthMode, users map[string]string) (*TestRegistry, error) {
	if abiErr != nil {
		return nil, abiErr
	}
	if err := TestServerAvailable(); err != nil {
		return nil, err
	}
	var a cargs
	defer a.free()
	var cusers *C.char
	if users != nil {
		names := make([]string, 0, len(users))
		for name := range users {
			names = append(names, name)
		}
		sort.Strings(names)
		pairs := make([]string, 0, len(names))
		for _, name := range names {
			pairs = append(pairs, name+":"+users[name])
		}
		cusers = a.str("users", strings.Join(pairs, ","))
	}
	if a.err != nil {
		return nil, a.err
	}
	var p *C.ocireg_test_registry
	var cerr *C.ocireg_error
	if err := check(C.gocireg_test_registry_start(C.uint32_t(auth), cusers, &p, &cerr), cerr); err != nil {
		return nil, err
	}
	r := &TestRegistry{}
	r.h.p = p
	runtime.SetFinalizer(r, (*TestRegistry).Close)
	return r, nil
}

// Close stops the registry (if still running) and frees it. Closing twice is fine.
func (r *TestRegistry) Close() error {
	if r == nil {
		return nil
	}
	runtime.SetFinalizer(r, nil)
	C.gocireg_test_registry_free(r.h.take())
	return nil
}

// Stop stops serving and joins the registry's threads; afterwards clients get ErrNetwork and
// the registry's own methods ErrInvalidArgument, while URL and Host stay readable. Stopping
// twice is fine. It waits for the registry's running method calls.
func (r *TestRegistry) Stop() error {
	var p *C.ocireg_test_registry
	if r != nil {
		p = r.h.acquireExclusive()
		defer r.h.releaseExclusive()
	}
	var cerr *C.ocireg_error
	err := check(C.gocireg_test_registry_stop(p, &cerr), cerr)
	keepAlive(r)
	return err
}

func (r *TestRegistry) acquire() *C.ocireg_test_registry {
	if r == nil {
		return nil
	}
	return r.h.acquire()
}

func (r *TestRegistry) release() {
	if r != nil {
		r.h.release()
	}
	keepAlive(r)
}

// URL is "http://127.0.0.1:PORT", for NewClient.
func (r *TestRegistry) URL() string {
	p := r.acquire()
	defer r.release()
	return C.GoString(C.gocireg_test_registry_url(p))
}

// Host is "127.0.0.1:PORT", the registry part of image references.
func (r *TestRegistry) Host() string {
	p := r.acquire()
	defer r.release()
	return C.GoString(C.gocireg_test_registry_host(p))
}

// RequestCount is the number of requests the registry answered so far (token endpoint
// included).
func (r *TestRegistry) RequestCount() uint64 {
	p := r.acquire()
	defer r.release()
	return uint64(C.gocireg_test_registry_request_count(p))
}

// AddBlob stores a blob in repository directly (no HTTP) and returns its digest.
func (r *TestRegistry) AddBlob(repository string, data []byte) (string, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	if a.err != nil {
		return "", a.err
	}
	p := r.acquire()
	defer r.release()
	var digest *C.char
	var cerr *C.ocireg_error
	if err := check(C.gocireg_test_registry_add_blob(p, crepo, bytesIn(data), C.size_t(len(data)), &digest, &cerr), cerr); err != nil {
		return "", err
	}
	return takeString(digest), nil
}

// AddManifest stores a manifest directly (no HTTP), tagged tag unless tag is "", checked like
// a push (names, JSON, media type, every referenced blob present). It returns its digest.
func (r *TestRegistry) AddManifest(repository, tag, mediaType string, manifest []byte) (string, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	ctag := a.opt("tag", tag)
	cmt := a.str("media type", mediaType)
	if a.err != nil {
		return "", a.err
	}
	p := r.acquire()
	defer r.release()
	var digest *C.char
	var cerr *C.ocireg_error
	st := C.gocireg_test_registry_add_manifest(p, crepo, ctag, cmt, bytesIn(manifest), C.size_t(len(manifest)), &digest, &cerr)
	if err := check(st, cerr); err != nil {
		return "", err
	}
	return takeString(digest), nil
}

// AddImage stores an image directly (no HTTP): the config blob, the layer blobs and an OCI
// image manifest referencing them, tagged tag. It returns the manifest digest.
func (r *TestRegistry) AddImage(repository, tag string, config []byte, layers ...[]byte) (string, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	ctag := a.str("tag", tag)
	if a.err != nil {
		return "", a.err
	}
	// The layer pointers go in C memory (cgo forbids passing Go memory holding Go pointers),
	// pointing at C copies of the layers.
	var cLayers **C.uint8_t
	var cLens *C.size_t
	if n := len(layers); n > 0 {
		ptrSize := unsafe.Sizeof((*C.uint8_t)(nil))
		cLayers = (**C.uint8_t)(C.calloc(C.size_t(n), C.size_t(ptrSize)))
		cLens = (*C.size_t)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.size_t(0)))))
		defer C.free(unsafe.Pointer(cLayers))
		defer C.free(unsafe.Pointer(cLens))
		ptrs := unsafe.Slice(cLayers, n)
		lens := unsafe.Slice(cLens, n)
		for i, layer := range layers {
			if len(layer) > 0 {
				ptrs[i] = (*C.uint8_t)(C.CBytes(layer))
				defer C.free(unsafe.Pointer(ptrs[i]))
			}
			lens[i] = C.size_t(len(layer))
		}
	}
	p := r.acquire()
	defer r.release()
	var digest *C.char
	var cerr *C.ocireg_error
	st := C.gocireg_test_registry_add_image(p, crepo, ctag, bytesIn(config), C.size_t(len(config)),
		cLayers, cLens, C.size_t(len(layers)), &digest, &cerr)
	if err := check(st, cerr); err != nil {
		return "", err
	}
	return takeString(digest), nil
}

// DeleteBlob removes a blob from repository (e.g. to make a later verification fail) and
// reports whether it was there.
func (r *TestRegistry) DeleteBlob(repository, digest string) (bool, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cdig := a.str("digest", digest)
	if a.err != nil {
		return false, a.err
	}
	p := r.acquire()
	defer r.release()
	var found C.int
	var cerr *C.ocireg_error
	if err := check(C.gocireg_test_registry_delete_blob(p, crepo, cdig, &found, &cerr), cerr); err != nil {
		return false, err
	}
	return found != 0, nil
}

// FailNext makes the next n registry requests (any path but the token endpoint) fail with
// HTTP status (400 to 599) and a spec error body, with a Retry-After of retryAfter (whole
// seconds) unless retryAfter is negative. It replaces pending failures; n == 0 cancels them.
func (r *TestRegistry) FailNext(n int, status int, retryAfter time.Duration) error {
	if n < 0 || status < 0 || status > 0xffff {
		return invalidArgument("FailNext: n must be >= 0 and status an HTTP status")
	}
	secs := int64(-1)
	if retryAfter >= 0 {
		secs = int64(retryAfter / time.Second)
	}
	p := r.acquire()
	defer r.release()
	var cerr *C.ocireg_error
	return check(C.gocireg_test_registry_fail_next(p, C.uint32_t(n), C.uint16_t(status), C.int64_t(secs), &cerr), cerr)
}

// SetDelay delays every answer of the registry (token endpoint included) by d, to the
// millisecond; 0 turns it off. For timeout tests.
func (r *TestRegistry) SetDelay(d time.Duration) error {
	if d < 0 {
		return invalidArgument("a delay cannot be negative")
	}
	p := r.acquire()
	defer r.release()
	var cerr *C.ocireg_error
	return check(C.gocireg_test_registry_set_delay_ms(p, C.uint64_t(d.Milliseconds()), &cerr), cerr)
}

// DropNext makes the next n blob downloads send their headers with the full Content-Length,
// then half the body, then close the connection. For tests of broken downloads.
func (r *TestRegistry) DropNext(n int) error {
	if n < 0 {
		return invalidArgument("DropNext: n cannot be negative")
	}
	p := r.acquire()
	defer r.release()
	var cerr *C.ocireg_error
	return check(C.gocireg_test_registry_drop_next(p, C.uint32_t(n), &cerr), cerr)
}

// RedirectBlobs true makes blob downloads answer 307 to a second, unauthenticated listener on
// http://localhost:PORT2 (like a CDN); false turns it off (the default).
func (r *TestRegistry) RedirectBlobs(on bool) error {
	p := r.acquire()
	defer r.release()
	var cerr *C.ocireg_error
	return check(C.gocireg_test_registry_redirect_blobs(p, cbool(on), &cerr), cerr)
}

// SetHostile makes the registry play one hostile scenario from the next request on, e.g.
// "cross-origin-link", "slow-drip:2000" or "cut-midway:bad-range" ("none" turns it off; every
// spec: ocireg_test_registry_set_hostile in bindings/c/API.md). A bad spec is ErrInvalidArgument.
func (r *TestRegistry) SetHostile(spec string) error {
	var a cargs
	defer a.free()
	cspec := a.str("spec", spec)
	if a.err != nil {
		return a.err
	}
	p := r.acquire()
	defer r.release()
	var cerr *C.ocireg_error
	return check(C.gocireg_test_registry_set_hostile(p, cspec, &cerr), cerr)
}

// RequestsJSON is every request the registry answered so far, oldest first, as a JSON array of
// objects with method, path, query, status, authorized (whether an Authorization header was
// sent; never its value) and objectStore.
func (r *TestRegistry) RequestsJSON() (string, error) {
	p := r.acquire()
	defer r.release()
	var out *C.char
	var cerr *C.ocireg_error
	if err := check(C.gocireg_test_registry_requests_json(p, &out, &cerr), cerr); err != nil {
		return "", err
	}
	return takeString(out), nil
}

// ClearRequests forgets the recorded requests (RequestCount starts again from 0).
func (r *TestRegistry) ClearRequests() error {
	p := r.acquire()
	defer r.release()
	var cerr *C.ocireg_error
	return check(C.gocireg_test_registry_clear_requests(p, &cerr), cerr)
}

// TB is what NewTestRegistry needs of a test: *testing.T, *testing.B and *testing.F have it
// (testing.TB), so the package does not import testing.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// NewTestRegistry starts a test registry for the test t, as StartTestRegistry does, and closes
// it when the test ends (t.Cleanup); a registry that cannot start fails the test (t.Fatalf).
//
//	func TestPush(t *testing.T) {
//		reg := ocireg.NewTestRegistry(t, ocireg.AuthNone, nil)
//		client, err := ocireg.NewClient(reg.URL(), ocireg.WithAnonymous())
//		...
func NewTestRegistry(t TB, auth AuthMode, users map[string]string) *TestRegistry {
	t.Helper()
	reg, err := StartTestRegistry(auth, users)
	if err != nil {
		t.Fatalf("ocireg: starting the test registry: %v", err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}
