package ocireg

/*
#include "ocireg.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"time"
)

// Client talks to one registry over one connection pool, with one token cache. It is safe
// for concurrent use by many goroutines. Close it when done.
//
// Every method that talks to the registry takes a context first: cancelling it, or passing its
// deadline, ends the call promptly (even while the registry is silent mid-answer) with an error
// matching ErrCancelled and context.Canceled or context.DeadlineExceeded, and nothing
// half-written. A call under a context that can be done goes through a client bound to it, with
// connections no concurrent call shares (lent from a stock, so keep-alive connections are reused
// from one call to the next); context.Background() costs nothing.
type Client struct {
	r     cref[*C.ocireg_client]
	retry *retryNotifier // WithRetryNotify's callback, nil without
}

func (c *Client) ref() *cref[*C.ocireg_client] {
	if c == nil {
		return nil
	}
	return &c.r
}

// NewClient builds a client for registry: "host", "host:port", "http://host:port",
// "https://host/base/path" or "https://user:password@host" (the userinfo becomes Basic
// credentials); "docker.io" means Docker Hub. Without a scheme https is used (plain http with
// WithInsecure). Credentials are resolved now; no request is sent.
func NewClient(registry string, opts ...Option) (*Client, error) {
	if abiErr != nil {
		return nil, abiErr
	}
	var a cargs
	defer a.free()
	creg := a.str("registry", registry)
	if a.err != nil {
		return nil, a.err
	}
	s, err := newSettings(opts)
	if err != nil {
		return nil, err
	}
	defer s.free()
	var p *C.ocireg_client
	var cerr *C.ocireg_error
	if err := check(C.ocireg_client_new(creg, s.p, &p, &cerr), cerr); err != nil {
		return nil, err
	}
	c := &Client{retry: s.adoptRetry()}
	retry := c.retry
	free := func(p *C.ocireg_client) {
		C.ocireg_client_free(p)
		retry.unregister()
	}
	return wrap(c, &c.r, p, free, (*Client).Close), nil
}

// do runs one network call on the client under ctx: f gets the client to call the library
// with (c's handle, or one bound to ctx for this call).
func (c *Client) do(ctx context.Context, f func(p *C.ocireg_client) error) error {
	return c.doWith(ctx, nil, func(p, _ *C.ocireg_client) error { return f(p) })
}

// doWith is do for a call on two clients (copy to another registry): both are bound to ctx.
// to may be nil (f then gets NULL for it).
func (c *Client) doWith(ctx context.Context, to *Client, f func(p, q *C.ocireg_client) error) error {
	cc, err := beginCall(ctx)
	if err != nil {
		return err
	}
	defer cc.end()
	p := c.ref().acquire()
	defer c.ref().release()
	var q *C.ocireg_client
	switch {
	case to == c:
		q = p // one read lock: taking it twice could deadlock with a waiting Close
	case to != nil:
		q = to.ref().acquire()
		defer to.ref().release()
	}
	bp, err := cc.bind(p)
	if err != nil {
		return err
	}
	defer cc.unbind(bp, p)
	bq, err := cc.bind(q)
	if err != nil {
		return err
	}
	defer cc.unbind(bq, q)
	err = f(bp, bq)
	c.reraiseRetryPanic()
	if to != c {
		to.reraiseRetryPanic()
	}
	return cc.result(err)
}

// progressCall runs one call on c (and to, as doWith) of a C function that reports progress
// and has one output: f gets the clients, the handle of progress's callback state (0 when
// progress is nil) and the out-parameter. The output is taken (wrapped or copied and freed) by
// take inside the callback state's call, so that nothing leaks when a callback's panic is
// raised again.
func progressCall[T, R any](ctx context.Context, c, to *Client, progress ProgressFunc, take func(T) R, f func(p, q *C.ocireg_client, h C.uintptr_t, out *T, cerr **C.ocireg_error) C.ocireg_status) (R, error) {
	var result R
	err := c.doWith(ctx, to, func(p, q *C.ocireg_client) error {
		return progressState(progress).call(func(h C.uintptr_t) error {
			var out T
			var cerr *C.ocireg_error
			if err := check(f(p, q, h, &out, &cerr), cerr); err != nil {
				return err
			}
			result = take(out)
			return nil
		})
	})
	if err != nil {
		var zero R
		return zero, err
	}
	return result, nil
}

// doOut runs one call on c (as do) of a C function with one output, which take takes
// (wraps, or copies and frees) on success.
func doOut[T, R any](ctx context.Context, c *Client, take func(T) R, f func(p *C.ocireg_client, out *T, cerr **C.ocireg_error) C.ocireg_status) (R, error) {
	return progressCall(ctx, c, nil, nil, take, func(p, _ *C.ocireg_client, _ C.uintptr_t, out *T, cerr **C.ocireg_error) C.ocireg_status {
		return f(p, out, cerr)
	})
}

// doJSON runs one call on c (as do) of a C function whose output is a JSON string, and
// decodes that string into v.
func (c *Client) doJSON(ctx context.Context, v any, f func(p *C.ocireg_client, out **C.char, cerr **C.ocireg_error) C.ocireg_status) error {
	text, err := doOut(ctx, c, takeString, f)
	if err != nil {
		return err
	}
	return decodeJSON(text, v)
}

// decodeJSON decodes the JSON text the library returned into v.
func decodeJSON(text string, v any) error {
	if err := json.Unmarshal([]byte(text), v); err != nil {
		return invalidArgument("the library's answer is not the expected JSON: " + err.Error())
	}
	return nil
}

// reraiseRetryPanic raises again a panic of the retry callback during this goroutine's call.
func (c *Client) reraiseRetryPanic() {
	if c != nil {
		c.retry.reraise()
	}
}

// Close frees the client and closes its pooled connections. It waits for calls running on the
// client (so never call it from a callback of a call on this client); afterwards every method
// fails with ErrInvalidArgument. Closing twice is fine.
func (c *Client) Close() error { return c.ref().close(c) }

// Registry is the registry as host[:port], e.g. "127.0.0.1:5000" or "docker.io".
func (c *Client) Registry() string {
	p := c.ref().acquire()
	defer c.ref().release()
	return C.GoString(C.ocireg_client_registry(p))
}

// BaseURL is the URL requests go to, e.g. "https://registry-1.docker.io".
func (c *Client) BaseURL() string {
	p := c.ref().acquire()
	defer c.ref().release()
	return C.GoString(C.ocireg_client_base_url(p))
}

// CredentialSource says where the credentials came from: "explicit", "anonymous",
// "config file /path/config.json" or "credential helper docker-credential-NAME".
func (c *Client) CredentialSource() string {
	p := c.ref().acquire()
	defer c.ref().release()
	return C.GoString(C.ocireg_client_credential_source(p))
}

// RequestCount is the number of HTTP requests the client sent so far (token requests and
// retries included).
func (c *Client) RequestCount() uint64 {
	p := c.ref().acquire()
	defer c.ref().release()
	return uint64(C.ocireg_client_request_count(p))
}

// Ping checks that the registry speaks the API v2 and accepts the credentials (GET /v2/,
// through the whole Basic or Bearer challenge).
func (c *Client) Ping(ctx context.Context) error {
	return c.do(ctx, func(p *C.ocireg_client) error {
		var cerr *C.ocireg_error
		return check(C.ocireg_ping(p, &cerr), cerr)
	})
}

// Tags lists every tag of repository, following all pages. An unknown repository is
// ErrNotFound.
func (c *Client) Tags(ctx context.Context, repository string) ([]string, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	if a.err != nil {
		return nil, a.err
	}
	return doOut(ctx, c, takeList, func(p *C.ocireg_client, list **C.ocireg_string_list, cerr **C.ocireg_error) C.ocireg_status {
		return C.ocireg_tags(p, crepo, list, cerr)
	})
}

// Catalog lists every repository of the registry (/v2/_catalog), following all pages. A
// registry without a catalog is ErrUnsupported.
func (c *Client) Catalog(ctx context.Context) ([]string, error) {
	return doOut(ctx, c, takeList, func(p *C.ocireg_client, list **C.ocireg_string_list, cerr **C.ocireg_error) C.ocireg_status {
		return C.ocireg_catalog(p, list, cerr)
	})
}

// Search lists the repositories whose name contains pattern (a plain, case-sensitive
// substring; "" lists everything).
func (c *Client) Search(ctx context.Context, pattern string) ([]string, error) {
	var a cargs
	defer a.free()
	cpat := a.str("pattern", pattern)
	if a.err != nil {
		return nil, a.err
	}
	return doOut(ctx, c, takeList, func(p *C.ocireg_client, list **C.ocireg_string_list, cerr **C.ocireg_error) C.ocireg_status {
		return C.ocireg_search(p, cpat, list, cerr)
	})
}

// TagsPage lists one page of the tags of repository: at most n tags (0: the registry's default
// page size; registries may send fewer), after the tag last ("": from the start). next is the
// last to pass for the following page, "" when this was the last page.
func (c *Client) TagsPage(ctx context.Context, repository string, n int, last string) (tags []string, next string, err error) {
	if n < 0 {
		return nil, "", invalidArgument("a page size cannot be negative")
	}
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	clast := a.opt("last", last)
	if a.err != nil {
		return nil, "", a.err
	}
	err = c.do(ctx, func(p *C.ocireg_client) error {
		var list *C.ocireg_string_list
		var cnext *C.char
		var cerr *C.ocireg_error
		if err := check(C.ocireg_tags_page(p, crepo, C.uint32_t(n), clast, &list, &cnext, &cerr), cerr); err != nil {
			return err
		}
		tags, next = takeList(list), takeString(cnext)
		return nil
	})
	return tags, next, err
}

// CatalogPage lists one page of the catalog: at most n repositories (0: the registry's
// default page size), after the repository last ("": from the start). next is the last to pass
// for the following page, "" when this was the last page.
func (c *Client) CatalogPage(ctx context.Context, n int, last string) (repositories []string, next string, err error) {
	if n < 0 {
		return nil, "", invalidArgument("a page size cannot be negative")
	}
	var a cargs
	defer a.free()
	clast := a.opt("last", last)
	if a.err != nil {
		return nil, "", a.err
	}
	err = c.do(ctx, func(p *C.ocireg_client) error {
		var list *C.ocireg_string_list
		var cnext *C.char
		var cerr *C.ocireg_error
		if err := check(C.ocireg_catalog_page(p, C.uint32_t(n), clast, &list, &cnext, &cerr), cerr); err != nil {
			return err
		}
		repositories, next = takeList(list), takeString(cnext)
		return nil
	})
	return repositories, next, err
}

// Manifest is a manifest as the registry sent it.
type Manifest struct {
	Bytes     []byte // the exact manifest bytes
	MediaType string
	Digest    string // "sha256:…"
}

// Manifest fetches a manifest by tag, digest or tag@digest, verified against the digest asked
// for, else against the registry's Docker-Content-Digest (ErrDigestMismatch).
func (c *Client) Manifest(ctx context.Context, repository, reference string) (*Manifest, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cref := a.str("reference", reference)
	if a.err != nil {
		return nil, a.err
	}
	var m *Manifest
	err := c.do(ctx, func(p *C.ocireg_client) error {
		var data *C.uint8_t
		var n C.size_t
		var mediaType, digest *C.char
		var cerr *C.ocireg_error
		if err := check(C.ocireg_manifest_get(p, crepo, cref, &data, &n, &mediaType, &digest, &cerr), cerr); err != nil {
			return err
		}
		m = &Manifest{Bytes: takeBytes(data, n), MediaType: takeString(mediaType), Digest: takeString(digest)}
		return nil
	})
	return m, err
}

// ManifestDigest is the digest a tag (or digest) resolves to, by HEAD.
func (c *Client) ManifestDigest(ctx context.Context, repository, reference string) (string, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cref := a.str("reference", reference)
	if a.err != nil {
		return "", a.err
	}
	return doOut(ctx, c, takeString, func(p *C.ocireg_client, digest **C.char, cerr **C.ocireg_error) C.ocireg_status {
		return C.ocireg_manifest_digest(p, crepo, cref, digest, cerr)
	})
}

// PutManifest uploads manifest bytes as they are under reference (a tag, or the manifest's
// digest) and returns its digest. mediaType "" takes the manifest's mediaType field (or
// guesses from its shape). Push the blobs it references first.
func (c *Client) PutManifest(ctx context.Context, repository, reference, mediaType string, manifest []byte) (string, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cref := a.str("reference", reference)
	cmt := a.opt("media type", mediaType)
	if a.err != nil {
		return "", a.err
	}
	return doOut(ctx, c, takeString, func(p *C.ocireg_client, digest **C.char, cerr **C.ocireg_error) C.ocireg_status {
		return C.ocireg_manifest_put(p, crepo, cref, cmt, bytesIn(manifest), C.size_t(len(manifest)), digest, cerr)
	})
}

// DeleteManifest deletes a manifest by digest (and with it every tag pointing at it).
func (c *Client) DeleteManifest(ctx context.Context, repository, digest string) error {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cdig := a.str("digest", digest)
	if a.err != nil {
		return a.err
	}
	return c.do(ctx, func(p *C.ocireg_client) error {
		var cerr *C.ocireg_error
		return check(C.ocireg_manifest_delete(p, crepo, cdig, &cerr), cerr)
	})
}

// Login checks username / password against registry (GET /v2/ through the whole challenge),
// then stores them: in the credential helper the docker config names for the registry, else in
// the config's auths. opts supply the docker config (WithDockerConfig; else the default one),
// TLS, WithInsecure, timeouts and retries; their credentials are ignored. It returns where the
// credentials went, e.g. "config file /home/me/.docker/config.json". Nothing is stored when
// the registry refuses them (ErrAuthentication).
//
// Cancelling ctx, or passing its deadline, ends the check promptly (ErrCancelled, and
// context.Canceled or context.DeadlineExceeded), and nothing is stored.
func Login(ctx context.Context, registry, username, password string, opts ...Option) (string, error) {
	if abiErr != nil {
		return "", abiErr
	}
	cc, err := beginCall(ctx)
	if err != nil {
		return "", err
	}
	defer cc.end()
	if cc != nil && cc.timeoutMs > 0 {
		// The check is one to three requests: the context's deadline bounds each of them.
		opts = append(opts[:len(opts):len(opts)], WithTimeout(TimeoutOverall, time.Duration(cc.timeoutMs)*time.Millisecond))
	}
	var a cargs
	defer a.free()
	creg := a.str("registry", registry)
	cuser := a.str("username", username)
	cpass := a.str("password", password)
	if a.err != nil {
		return "", a.err
	}
	s, err := newSettings(opts)
	if err != nil {
		return "", err
	}
	defer s.free()
	var cerr *C.ocireg_error
	if cc != nil {
		// Cancelling the context cancels the credential check, wherever it is.
		if err := check(C.ocireg_options_set_cancel(s.p, cc.cancel, &cerr), cerr); err != nil {
			return "", err
		}
	}
	var stored *C.char
	err = check(C.ocireg_login(creg, cuser, cpass, nil, s.p, &stored, &cerr), cerr)
	s.retry.reraise()
	if err != nil {
		return "", cc.result(err)
	}
	return takeString(stored), nil
}

// Logout removes the stored credentials of registry, from the credential helper and from every
// auths entry of the docker config dockerConfig ("" for the default one). It reports whether
// something was removed; logging out when not logged in is not an error. It sends no request.
func Logout(registry, dockerConfig string) (bool, error) {
	if abiErr != nil {
		return false, abiErr
	}
	var a cargs
	defer a.free()
	creg := a.str("registry", registry)
	ccfg := a.opt("docker config path", dockerConfig)
	if a.err != nil {
		return false, a.err
	}
	var out C.int
	var cerr *C.ocireg_error
	if err := check(C.ocireg_logout(creg, ccfg, &out, &cerr), cerr); err != nil {
		return false, err
	}
	return out != 0, nil
}
