package ocireg

/*
#include "ocireg.h"
*/
import "C"

// Client talks to one registry over one connection pool, with one token cache. It is safe
// for concurrent use by many goroutines. Close it when done.
type Client struct {
	r cref[*C.ocireg_client]
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
	c := &Client{}
	return wrap(c, &c.r, p, func(p *C.ocireg_client) { C.ocireg_client_free(p) }, (*Client).Close), nil
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
func (c *Client) Ping() error {
	p := c.ref().acquire()
	defer c.ref().release()
	var cerr *C.ocireg_error
	return check(C.ocireg_ping(p, &cerr), cerr)
}

// Tags lists every tag of repository, following all pages. An unknown repository is
// ErrNotFound.
func (c *Client) Tags(repository string) ([]string, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	if a.err != nil {
		return nil, a.err
	}
	p := c.ref().acquire()
	defer c.ref().release()
	var list *C.ocireg_string_list
	var cerr *C.ocireg_error
	if err := check(C.ocireg_tags(p, crepo, &list, &cerr), cerr); err != nil {
		return nil, err
	}
	return takeList(list), nil
}

// Catalog lists every repository of the registry (/v2/_catalog), following all pages. A
// registry without a catalog is ErrUnsupported.
func (c *Client) Catalog() ([]string, error) {
	p := c.ref().acquire()
	defer c.ref().release()
	var list *C.ocireg_string_list
	var cerr *C.ocireg_error
	if err := check(C.ocireg_catalog(p, &list, &cerr), cerr); err != nil {
		return nil, err
	}
	return takeList(list), nil
}

// Search lists the repositories whose name contains pattern (a plain, case-sensitive
// substring; "" lists everything).
func (c *Client) Search(pattern string) ([]string, error) {
	var a cargs
	defer a.free()
	cpat := a.str("pattern", pattern)
	if a.err != nil {
		return nil, a.err
	}
	p := c.ref().acquire()
	defer c.ref().release()
	var list *C.ocireg_string_list
	var cerr *C.ocireg_error
	if err := check(C.ocireg_search(p, cpat, &list, &cerr), cerr); err != nil {
		return nil, err
	}
	return takeList(list), nil
}

// TagsPage lists one page of the tags of repository: at most n tags (0: the registry's default
// page size; registries may send fewer), after the tag last ("": from the start). next is the
// last to pass for the following page, "" when this was the last page.
func (c *Client) TagsPage(repository string, n int, last string) (tags []string, next string, err error) {
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
	p := c.ref().acquire()
	defer c.ref().release()
	var list *C.ocireg_string_list
	var cnext *C.char
	var cerr *C.ocireg_error
	if err := check(C.ocireg_tags_page(p, crepo, C.uint32_t(n), clast, &list, &cnext, &cerr), cerr); err != nil {
		return nil, "", err
	}
	return takeList(list), takeString(cnext), nil
}

// CatalogPage lists one page of the catalog: at most n repositories (0: the registry's
// default page size), after the repository last ("": from the start). next is the last to pass
// for the following page, "" when this was the last page.
func (c *Client) CatalogPage(n int, last string) (repositories []string, next string, err error) {
	if n < 0 {
		return nil, "", invalidArgument("a page size cannot be negative")
	}
	var a cargs
	defer a.free()
	clast := a.opt("last", last)
	if a.err != nil {
		return nil, "", a.err
	}
	p := c.ref().acquire()
	defer c.ref().release()
	var list *C.ocireg_string_list
	var cnext *C.char
	var cerr *C.ocireg_error
	if err := check(C.ocireg_catalog_page(p, C.uint32_t(n), clast, &list, &cnext, &cerr), cerr); err != nil {
		return nil, "", err
	}
	return takeList(list), takeString(cnext), nil
}

// Manifest is a manifest as the registry sent it.
type Manifest struct {
	Bytes     []byte // the exact manifest bytes
	MediaType string
	Digest    string // "sha256:…"
}

// Manifest fetches a manifest by tag, digest or tag@digest, verified against the digest asked
// for, else against the registry's Docker-Content-Digest (ErrDigestMismatch).
func (c *Client) Manifest(repository, reference string) (*Manifest, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cref := a.str("reference", reference)
	if a.err != nil {
		return nil, a.err
	}
	p := c.ref().acquire()
	defer c.ref().release()
	var data *C.uint8_t
	var n C.size_t
	var mediaType, digest *C.char
	var cerr *C.ocireg_error
	if err := check(C.ocireg_manifest_get(p, crepo, cref, &data, &n, &mediaType, &digest, &cerr), cerr); err != nil {
		return nil, err
	}
	return &Manifest{Bytes: takeBytes(data, n), MediaType: takeString(mediaType), Digest: takeString(digest)}, nil
}

// ManifestDigest is the digest a tag (or digest) resolves to, by HEAD.
func (c *Client) ManifestDigest(repository, reference string) (string, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cref := a.str("reference", reference)
	if a.err != nil {
		return "", a.err
	}
	p := c.ref().acquire()
	defer c.ref().release()
	var digest *C.char
	var cerr *C.ocireg_error
	if err := check(C.ocireg_manifest_digest(p, crepo, cref, &digest, &cerr), cerr); err != nil {
		return "", err
	}
	return takeString(digest), nil
}

// PutManifest uploads manifest bytes as they are under reference (a tag, or the manifest's
// digest) and returns its digest. mediaType "" takes the manifest's mediaType field (or
// guesses from its shape). Push the blobs it references first.
func (c *Client) PutManifest(repository, reference, mediaType string, manifest []byte) (string, error) {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cref := a.str("reference", reference)
	cmt := a.opt("media type", mediaType)
	if a.err != nil {
		return "", a.err
	}
	p := c.ref().acquire()
	defer c.ref().release()
	var digest *C.char
	var cerr *C.ocireg_error
	st := C.ocireg_manifest_put(p, crepo, cref, cmt, bytesIn(manifest), C.size_t(len(manifest)), &digest, &cerr)
	if err := check(st, cerr); err != nil {
		return "", err
	}
	return takeString(digest), nil
}

// DeleteManifest deletes a manifest by digest (and with it every tag pointing at it).
func (c *Client) DeleteManifest(repository, digest string) error {
	var a cargs
	defer a.free()
	crepo := a.str("repository", repository)
	cdig := a.str("digest", digest)
	if a.err != nil {
		return a.err
	}
	p := c.ref().acquire()
	defer c.ref().release()
	var cerr *C.ocireg_error
	return check(C.ocireg_manifest_delete(p, crepo, cdig, &cerr), cerr)
}

// Login checks username / password against registry (GET /v2/ through the whole challenge),
// then stores them: in the credential helper the docker config names for the registry, else in
// the config's auths. opts supply the docker config (WithDockerConfig; else the default one),
// TLS, WithInsecure, timeouts and retries; their credentials are ignored. It returns where the
// credentials went, e.g. "config file /home/me/.docker/config.json". Nothing is stored when
// the registry refuses them (ErrAuthentication).
func Login(registry, username, password string, opts ...Option) (string, error) {
	if abiErr != nil {
		return "", abiErr
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
	var stored *C.char
	var cerr *C.ocireg_error
	if err := check(C.ocireg_login(creg, cuser, cpass, nil, s.p, &stored, &cerr), cerr); err != nil {
		return "", err
	}
	return takeString(stored), nil
}

// Logout removes the stored credentials of registry, from the credential helper and from every
// auths entry of the docker config dockerConfig ("" for the default one). It reports whether
// something was removed; logging out when not logged in is not an error.
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
