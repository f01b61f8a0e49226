package ocireg_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	ocireg "github.com/ocireg/ocireg/bindings/go"
)

// Tests talk to 127.0.0.1 only, never through a proxy.
func TestMain(m *testing.M) {
	for _, v := range []string{"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"} {
		os.Unsetenv(v)
	}
	os.Exit(m.Run())
}

var alice = map[string]string{"alice": "secret"}

// ctx is the context of the calls whose cancellation is not what a test is about.
var ctx = context.Background()

const (
	ociManifest = "application/vnd.oci.image.manifest.v1+json"
	ociConfig   = "application/vnd.oci.image.config.v1+json"
	ociLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
	imageConfig = `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`
)

func startRegistry(t *testing.T, mode ocireg.AuthMode, users map[string]string) *ocireg.TestRegistry {
	t.Helper()
	reg, err := ocireg.StartTestRegistry(mode, users)
	if err != nil {
		t.Fatalf("StartTestRegistry: %v", err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

// newClient is a client without retries (so that injected failures surface), anonymous
// unless options say otherwise.
func newClient(t *testing.T, url string, opts ...ocireg.Option) *ocireg.Client {
	t.Helper()
	all := append([]ocireg.Option{ocireg.WithAnonymous(), ocireg.WithMaxRetries(0)}, opts...)
	c, err := ocireg.NewClient(url, all...)
	if err != nil {
		t.Fatalf("NewClient(%s): %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// wantErr checks that err is an *Error matching sentinel, and returns it.
func wantErr(t *testing.T, err error, sentinel error) *ocireg.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("want %v, got no error", sentinel)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("want %v, got %v", sentinel, err)
	}
	var e *ocireg.Error
	if !errors.As(err, &e) {
		t.Fatalf("want an *ocireg.Error, got %T: %v", err, err)
	}
	if e.Message == "" || e.Error() == "" {
		t.Fatalf("an error without a message: %#v", e)
	}
	if e.Status.Sentinel() != sentinel {
		t.Fatalf("status %v does not map to %v", e.Status, sentinel)
	}
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// buildImage builds a small OCI image: a config, one layer in memory, one in a file.
func buildImage(t *testing.T, layers ...string) *ocireg.Image {
	t.Helper()
	b, err := ocireg.NewImageBuilder()
	must(t, err)
	defer b.Close()
	must(t, b.SetConfig([]byte(imageConfig), ""))
	for i, l := range layers {
		if i%2 == 0 {
			must(t, b.AddLayer([]byte(l), ociLayer))
		} else {
			path := filepath.Join(t.TempDir(), "layer.tar.gz")
			must(t, os.WriteFile(path, []byte(l), 0o644))
			must(t, b.AddLayerFile(path, ociLayer))
		}
	}
	img, err := b.Build()
	must(t, err)
	t.Cleanup(func() { img.Close() })
	return img
}

// ---------------------------------------------------------------------------------------------

func TestVersionAndStatuses(t *testing.T) {
	if got := ocireg.ABIVersion(); got != ocireg.ABIVersionSupported {
		t.Fatalf("ABI version %d, want %d", got, ocireg.ABIVersionSupported)
	}
	if ocireg.Version() == "" {
		t.Fatal("empty library version")
	}
	if s := ocireg.StatusNotFound.String(); s != "OCIREG_NOT_FOUND" {
		t.Fatalf("StatusNotFound.String() = %q", s)
	}
	if s := ocireg.Status(12345).String(); s != "OCIREG_UNKNOWN_STATUS" {
		t.Fatalf("unknown status name %q", s)
	}
	if ocireg.StatusOK != 0 || ocireg.StatusVerifyFailed != 16 || ocireg.StatusProtocol != 17 || ocireg.StatusPanic != 99 {
		t.Fatal("status numbers changed")
	}
	// Every status but OK has its own sentinel.
	seen := map[error]bool{}
	for s := ocireg.Status(1); s <= 99; s++ {
		if e := s.Sentinel(); e != nil {
			if seen[e] {
				t.Fatalf("sentinel %v used twice", e)
			}
			seen[e] = true
		}
	}
	if len(seen) != 18 || ocireg.StatusOK.Sentinel() != nil {
		t.Fatalf("%d sentinels, want 18", len(seen))
	}
}

func TestPingAllAuthModes(t *testing.T) {
	for _, mode := range []ocireg.AuthMode{ocireg.AuthNone, ocireg.AuthBasic, ocireg.AuthBearer} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			reg := startRegistry(t, mode, alice)
			if !strings.HasPrefix(reg.URL(), "http://127.0.0.1:") || reg.URL() != "http://"+reg.Host() {
				t.Fatalf("URL %q, host %q", reg.URL(), reg.Host())
			}
			c := newClient(t, reg.URL(), ocireg.WithBasicAuth("alice", "secret"))
			must(t, c.Ping(ctx))
			if c.Registry() != reg.Host() || c.BaseURL() != reg.URL() || c.CredentialSource() != "explicit" {
				t.Fatalf("registry %q, base URL %q, credentials %q", c.Registry(), c.BaseURL(), c.CredentialSource())
			}
			if c.RequestCount() == 0 || reg.RequestCount() == 0 {
				t.Fatal("no request counted")
			}
			if mode == ocireg.AuthNone {
				return
			}
			bad := newClient(t, reg.URL(), ocireg.WithBasicAuth("alice", "wrong"))
			e := wantErr(t, bad.Ping(ctx), ocireg.ErrAuthentication)
			if e.Status != ocireg.StatusAuthentication || e.HTTPStatus != 401 {
				t.Fatalf("wrong password: %#v", e)
			}
			if strings.Contains(e.Error(), "wrong") {
				t.Fatalf("the password leaked into the message: %v", e)
			}
			// Anonymous: refused by Basic; Bearer hands out anonymous tokens, but no pushes.
			anon := newClient(t, reg.URL())
			if mode == ocireg.AuthBasic {
				wantErr(t, anon.Ping(ctx), ocireg.ErrAuthentication)
			} else if _, err := anon.PushBlob(ctx, "anon/app", []byte("x")); err == nil {
				t.Fatal("an anonymous push was accepted")
			}
		})
	}
}

func TestLoginIsCancelledByItsContextAndStoresNothing(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthBasic, alice)
	config := filepath.Join(t.TempDir(), "docker", "config.json")
	must(t, reg.SetDelay(60*time.Second)) // the credential check never gets its answer
	t.Cleanup(func() { _ = reg.SetDelay(0) })
	cctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	started := time.Now()
	_, err := ocireg.Login(cctx, reg.URL(), "alice", "secret", ocireg.WithDockerConfig(config),
		ocireg.WithTimeout(ocireg.TimeoutResponse, 0), ocireg.WithTimeout(ocireg.TimeoutRead, 0))
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ocireg.ErrCancelled) {
		t.Fatalf("want a cancelled login, got %v", err)
	}
	if took := time.Since(started); took > 1500*time.Millisecond {
		t.Fatalf("the cancelled login took %v", took)
	}
	if _, err := os.Stat(config); !os.IsNotExist(err) {
		t.Fatalf("a cancelled login wrote the config: %v", err)
	}
}

func TestLoginLogout(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthBasic, alice)
	config := filepath.Join(t.TempDir(), "docker", "config.json")

	_, err := ocireg.Login(ctx, reg.URL(), "alice", "wrong", ocireg.WithDockerConfig(config), ocireg.WithMaxRetries(0))
	wantErr(t, err, ocireg.ErrAuthentication)
	if _, err := os.Stat(config); !os.IsNotExist(err) {
		t.Fatalf("a refused login wrote the config: %v", err)
	}

	stored, err := ocireg.Login(ctx, reg.URL(), "alice", "secret", ocireg.WithDockerConfig(config), ocireg.WithMaxRetries(0))
	must(t, err)
	if !strings.HasPrefix(stored, "config file ") || !strings.Contains(stored, config) {
		t.Fatalf("stored in %q", stored)
	}
	text, err := os.ReadFile(config)
	must(t, err)
	if !strings.Contains(string(text), `"auths"`) || !strings.Contains(string(text), reg.Host()) ||
		strings.Contains(string(text), "secret") {
		t.Fatalf("config: %s", text)
	}

	c := newClientNoAnon(t, reg.URL(), ocireg.WithDockerConfig(config))
	if !strings.HasPrefix(c.CredentialSource(), "config file ") {
		t.Fatalf("credential source %q", c.CredentialSource())
	}
	must(t, c.Ping(ctx))

	out, err := ocireg.Logout(reg.URL(), config)
	must(t, err)
	if !out {
		t.Fatal("logout removed nothing")
	}
	out, err = ocireg.Logout(reg.URL(), config)
	must(t, err)
	if out {
		t.Fatal("second logout removed something")
	}
	c2 := newClientNoAnon(t, reg.URL(), ocireg.WithDockerConfig(config))
	if c2.CredentialSource() != "anonymous" {
		t.Fatalf("credential source after logout %q", c2.CredentialSource())
	}
	wantErr(t, c2.Ping(ctx), ocireg.ErrAuthentication)

	// A corrupt config file is a credentials error.
	must(t, os.WriteFile(config, []byte("{ not json"), 0o600))
	_, err = ocireg.NewClient(reg.URL(), ocireg.WithDockerConfig(config))
	wantErr(t, err, ocireg.ErrCredentials)
	_, err = ocireg.Logout(reg.URL(), config)
	wantErr(t, err, ocireg.ErrCredentials)

	_, err = ocireg.Login(ctx, reg.URL(), "", "secret", ocireg.WithDockerConfig(config))
	wantErr(t, err, ocireg.ErrInvalidArgument)
}

func newClientNoAnon(t *testing.T, url string, opts ...ocireg.Option) *ocireg.Client {
	t.Helper()
	c, err := ocireg.NewClient(url, append(opts, ocireg.WithMaxRetries(0))...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTagsCatalogSearch(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	for _, ref := range []struct{ repo, tag string }{
		{"team/app", "v1"}, {"team/app", "v2"}, {"team/other", "latest"}, {"library/base", "1.0"},
	} {
		_, err := reg.AddImage(ref.repo, ref.tag, []byte(imageConfig), []byte("layer of "+ref.repo+":"+ref.tag))
		must(t, err)
	}
	c := newClient(t, reg.URL())

	tags, err := c.Tags(ctx, "team/app")
	must(t, err)
	sort.Strings(tags)
	if strings.Join(tags, ",") != "v1,v2" {
		t.Fatalf("tags %v", tags)
	}
	page, next, err := c.TagsPage(ctx, "team/app", 1, "")
	must(t, err)
	if len(page) != 1 || page[0] != "v1" || next != "v1" {
		t.Fatalf("first page %v, next %q", page, next)
	}
	page, _, err = c.TagsPage(ctx, "team/app", 1, next)
	must(t, err)
	if len(page) != 1 || page[0] != "v2" {
		t.Fatalf("second page %v", page)
	}
	page, next, err = c.TagsPage(ctx, "team/app", 0, "")
	must(t, err)
	if len(page) != 2 || next != "" {
		t.Fatalf("whole page %v, next %q", page, next)
	}

	repos, err := c.Catalog(ctx)
	must(t, err)
	for _, r := range []string{"team/app", "team/other", "library/base"} {
		if !contains(repos, r) {
			t.Fatalf("catalog %v lacks %s", repos, r)
		}
	}
	cpage, cnext, err := c.CatalogPage(ctx, 2, "")
	must(t, err)
	if len(cpage) != 2 || cnext == "" {
		t.Fatalf("catalog page %v, next %q", cpage, cnext)
	}
	rest, _, err := c.CatalogPage(ctx, 100, cnext)
	must(t, err)
	if len(cpage)+len(rest) != len(repos) {
		t.Fatalf("pages %v + %v, catalog %v", cpage, rest, repos)
	}

	found, err := c.Search(ctx, "team/")
	must(t, err)
	sort.Strings(found)
	if strings.Join(found, ",") != "team/app,team/other" {
		t.Fatalf("search %v", found)
	}
	none, err := c.Search(ctx, "zzz-nothing")
	must(t, err)
	if none == nil || len(none) != 0 {
		t.Fatalf("search for nothing: %#v", none)
	}

	// Errors: unknown repository, bad names.
	_, err = c.Tags(ctx, "no/such/repo")
	e := wantErr(t, err, ocireg.ErrNotFound)
	if e.HTTPStatus != 404 || e.RegistryCode != "NAME_UNKNOWN" || e.RetryAfter != ocireg.NoRetryAfter ||
		!strings.Contains(e.Message, "no/such/repo") {
		t.Fatalf("unknown repository: %#v", e)
	}
	_, err = c.Tags(ctx, "Bad/UPPER")
	wantErr(t, err, ocireg.ErrInvalidReference)
	_, err = c.Tags(ctx, "caf\xe9")
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, err = c.Tags(ctx, "team\x00app")
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, _, err = c.TagsPage(ctx, "team/app", -1, "")
	wantErr(t, err, ocireg.ErrInvalidArgument)
}

func TestManifests(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	v1, err := reg.AddImage("team/app", "v1", []byte(imageConfig), []byte("layer one"), []byte("layer two"))
	must(t, err)
	c := newClient(t, reg.URL())

	m, err := c.Manifest(ctx, "team/app", "v1")
	must(t, err)
	if m.Digest != v1 || m.MediaType != ociManifest || digestOf(m.Bytes) != v1 || m.Bytes[0] != '{' {
		t.Fatalf("manifest %q %q %d bytes", m.Digest, m.MediaType, len(m.Bytes))
	}
	byDigest, err := c.Manifest(ctx, "team/app", v1)
	must(t, err)
	if !bytes.Equal(byDigest.Bytes, m.Bytes) {
		t.Fatal("by digest: different bytes")
	}
	_, err = c.Manifest(ctx, "team/app", "v1@sha256:"+strings.Repeat("0", 64))
	wantErr(t, err, ocireg.ErrDigestMismatch)
	_, err = c.Manifest(ctx, "team/app", "nope")
	e := wantErr(t, err, ocireg.ErrNotFound)
	if e.HTTPStatus != 404 || e.RegistryCode != "MANIFEST_UNKNOWN" {
		t.Fatalf("unknown tag: %#v", e)
	}

	d, err := c.ManifestDigest(ctx, "team/app", "v1")
	must(t, err)
	if d != v1 {
		t.Fatalf("digest %s, want %s", d, v1)
	}
	_, err = c.ManifestDigest(ctx, "team/app", "-bad-tag")
	wantErr(t, err, ocireg.ErrInvalidReference)

	// Put the same manifest under other names (its blobs are in team/app).
	put, err := c.PutManifest(ctx, "team/app", "v1-copy", "", m.Bytes)
	must(t, err)
	if put != v1 {
		t.Fatalf("put digest %s, want %s", put, v1)
	}
	_, err = c.PutManifest(ctx, "team/app", "v1-typed", ociManifest, m.Bytes)
	must(t, err)
	_, err = c.PutManifest(ctx, "team/app", "junk", ociManifest, []byte("not json"))
	if err == nil {
		t.Fatal("a manifest that is not JSON was accepted")
	}
	tags, err := c.Tags(ctx, "team/app")
	must(t, err)
	if !contains(tags, "v1-copy") || !contains(tags, "v1-typed") {
		t.Fatalf("tags %v", tags)
	}

	// Manifests referencing blobs pushed by hand.
	cfg, err := reg.AddBlob("team/pushed", []byte(imageConfig))
	must(t, err)
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[]}`,
		ociManifest, ociConfig, cfg, len(imageConfig))
	md, err := reg.AddManifest("team/pushed", "hand", ociManifest, []byte(manifest))
	must(t, err)
	if md != digestOf([]byte(manifest)) {
		t.Fatalf("AddManifest digest %s", md)
	}

	must(t, c.DeleteManifest(ctx, "team/app", v1))
	_, err = c.Manifest(ctx, "team/app", "v1")
	wantErr(t, err, ocireg.ErrNotFound)
	_, err = c.ManifestDigest(ctx, "team/app", v1)
	wantErr(t, err, ocireg.ErrNotFound)
}

func TestBlobs(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthBasic, alice)
	c := newClient(t, reg.URL(), ocireg.WithBasicAuth("alice", "secret"))
	data := bytes.Repeat([]byte("ocireg blob data "), 10000) // 170 kB

	// Bytes.
	d, err := c.PushBlob(ctx, "blobs/app", data)
	must(t, err)
	if d != digestOf(data) {
		t.Fatalf("digest %s", d)
	}
	ok, size, err := c.BlobExists(ctx, "blobs/app", d)
	must(t, err)
	if !ok || size != int64(len(data)) {
		t.Fatalf("exists %v size %d", ok, size)
	}
	ok, size, err = c.BlobExists(ctx, "blobs/app", digestOf([]byte("absent")))
	must(t, err)
	if ok || size != 0 {
		t.Fatal("an absent blob exists")
	}
	empty, err := c.PushBlob(ctx, "blobs/app", nil)
	must(t, err)
	if empty != digestOf(nil) {
		t.Fatalf("empty blob digest %s", empty)
	}

	// File.
	path := filepath.Join(t.TempDir(), "blob.bin")
	fileData := append([]byte("file: "), data...)
	must(t, os.WriteFile(path, fileData, 0o644))
	fd, err := c.PushBlobFile(ctx, "blobs/app", path)
	must(t, err)
	if fd != digestOf(fileData) {
		t.Fatalf("file digest %s", fd)
	}
	_, err = c.PushBlobFile(ctx, "blobs/app", filepath.Join(t.TempDir(), "missing"))
	wantErr(t, err, ocireg.ErrIO)

	// Reader, digest unknown then known.
	streamData := append([]byte("stream: "), data...)
	sd, err := c.PushBlobReader(ctx, "blobs/stream", bytes.NewReader(streamData), int64(len(streamData)), "")
	must(t, err)
	if sd != digestOf(streamData) {
		t.Fatalf("stream digest %s", sd)
	}
	sd2, err := c.PushBlobReader(ctx, "blobs/stream", iotestOneByte{bytes.NewReader(streamData)}, int64(len(streamData)), sd)
	must(t, err)
	if sd2 != sd {
		t.Fatalf("stream digest %s", sd2)
	}
	// A reader shorter than announced is an error, never a corrupted blob.
	_, err = c.PushBlobReader(ctx, "blobs/short", bytes.NewReader(data[:100]), 200, "")
	if err == nil {
		t.Fatal("a short reader was accepted")
	}
	ok, _, err = c.BlobExists(ctx, "blobs/short", digestOf(data[:100]))
	must(t, err)
	if ok {
		t.Fatal("a short upload left a blob")
	}
	// A reader's error cancels, and comes back.
	boom := errors.New("reader exploded")
	_, err = c.PushBlobReader(ctx, "blobs/fail", io.MultiReader(bytes.NewReader(data[:10]), errReader{boom}), 100, "")
	wantErr(t, err, ocireg.ErrCancelled)
	if !errors.Is(err, boom) {
		t.Fatalf("the reader's error is lost: %v", err)
	}
	_, err = c.PushBlobReader(ctx, "blobs/fail", bytes.NewReader(nil), -1, "")
	wantErr(t, err, ocireg.ErrInvalidArgument)

	// Pull: to a writer, to a file, to bytes.
	var buf bytes.Buffer
	n, err := c.PullBlob(ctx, "blobs/app", d, &buf)
	must(t, err)
	if n != int64(len(data)) || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("pulled %d bytes", n)
	}
	out := filepath.Join(t.TempDir(), "pulled.bin")
	n, err = c.PullBlobToFile(ctx, "blobs/app", fd, out)
	must(t, err)
	got, err := os.ReadFile(out)
	must(t, err)
	if n != int64(len(fileData)) || !bytes.Equal(got, fileData) {
		t.Fatal("pulled file differs")
	}
	got, err = c.PullBlobBytes(ctx, "blobs/stream", sd)
	must(t, err)
	if !bytes.Equal(got, streamData) {
		t.Fatal("pulled bytes differ")
	}
	got, err = c.PullBlobBytes(ctx, "blobs/app", empty)
	must(t, err)
	if got == nil || len(got) != 0 {
		t.Fatalf("empty blob: %#v", got)
	}
	_, err = c.PullBlobBytes(ctx, "blobs/app", digestOf([]byte("absent")))
	e := wantErr(t, err, ocireg.ErrNotFound)
	if e.HTTPStatus != 404 {
		t.Fatalf("absent blob: %#v", e)
	}

	// A writer's error cancels, and comes back; so does a short write.
	wboom := errors.New("disk full")
	_, err = c.PullBlob(ctx, "blobs/app", d, errWriter{wboom})
	wantErr(t, err, ocireg.ErrCancelled)
	if !errors.Is(err, wboom) {
		t.Fatalf("the writer's error is lost: %v", err)
	}
	_, err = c.PullBlob(ctx, "blobs/app", d, shortWriter{})
	if !errors.Is(err, io.ErrShortWrite) || !errors.Is(err, ocireg.ErrCancelled) {
		t.Fatalf("short write: %v", err)
	}

	// Mount and delete.
	mounted, err := c.MountBlob(ctx, "blobs/other", "blobs/app", d)
	must(t, err)
	if !mounted {
		t.Fatal("not mounted")
	}
	ok, _, err = c.BlobExists(ctx, "blobs/other", d)
	must(t, err)
	if !ok {
		t.Fatal("the mounted blob is absent")
	}
	mounted, err = c.MountBlob(ctx, "blobs/other", "blobs/app", digestOf([]byte("absent")))
	must(t, err)
	if mounted {
		t.Fatal("mounted a blob that does not exist")
	}
	must(t, c.DeleteBlob(ctx, "blobs/other", d))
	ok, _, err = c.BlobExists(ctx, "blobs/other", d)
	must(t, err)
	if ok {
		t.Fatal("deleted blob still there")
	}
	ok, _, err = c.BlobExists(ctx, "blobs/app", d)
	must(t, err)
	if !ok {
		t.Fatal("deleting in one repository deleted in another")
	}
	found, err := reg.DeleteBlob("blobs/app", d)
	must(t, err)
	if !found {
		t.Fatal("test registry: blob not found")
	}
	found, err = reg.DeleteBlob("blobs/app", d)
	must(t, err)
	if found {
		t.Fatal("test registry: blob found twice")
	}
}

func TestCallbackPanicsAreReRaised(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	c := newClient(t, reg.URL())
	d, err := c.PushBlob(ctx, "panic/app", []byte("some data"))
	must(t, err)

	expectPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			r := recover()
			if r != name {
				t.Fatalf("%s: recovered %v", name, r)
			}
		}()
		f()
		t.Fatalf("%s: no panic", name)
	}
	expectPanic("writer", func() { c.PullBlob(ctx, "panic/app", d, panicWriter{"writer"}) })
	expectPanic("reader", func() { c.PushBlobReader(ctx, "panic/app", panicReader{"reader"}, 10, "") })
	img := buildImage(t, "panic layer")
	expectPanic("progress", func() {
		c.PushImage(ctx, "panic/app", "v1", img, nil, func(ocireg.Progress) error { panic("progress") })
	})
	// The client goes on working, and nothing was tagged.
	must(t, c.Ping(ctx))
	_, err = c.ManifestDigest(ctx, "panic/app", "v1")
	wantErr(t, err, ocireg.ErrNotFound)
}

func TestImagePushVerifyPullLayout(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthBearer, alice)
	c := newClient(t, reg.URL(), ocireg.WithBasicAuth("alice", "secret"))

	b, err := ocireg.NewImageBuilder()
	must(t, err)
	defer b.Close()
	must(t, b.SetConfig([]byte(imageConfig), ""))
	must(t, b.AddLayer([]byte("first layer"), ociLayer))
	layerFile := filepath.Join(t.TempDir(), "layer.tar.gz")
	must(t, os.WriteFile(layerFile, []byte("second layer, from a file"), 0o644))
	must(t, b.AddLayerFile(layerFile, ociLayer))
	must(t, b.AddAnnotation("org.opencontainers.image.title", "go binding test"))
	img, err := b.Build()
	must(t, err)
	defer img.Close()
	if img.MediaType() != ociManifest || digestOf(img.Manifest()) != img.Digest() ||
		!strings.Contains(string(img.Manifest()), "go binding test") {
		t.Fatalf("image %s %s", img.MediaType(), img.Digest())
	}

	// Push with progress: every event on this goroutine, before the push returns.
	var events []ocireg.Progress
	pushed, err := c.PushImage(ctx, "push/app", "v1", img, nil, func(p ocireg.Progress) error {
		events = append(events, p)
		return nil
	})
	must(t, err)
	defer pushed.Close()
	if pushed.Digest() != img.Digest() || pushed.MediaType() != ociManifest ||
		pushed.Size() != int64(len(img.Manifest())) || pushed.Reference() != "push/app:v1@"+img.Digest() {
		t.Fatalf("pushed %s %s %d %s", pushed.Digest(), pushed.MediaType(), pushed.Size(), pushed.Reference())
	}
	uploaded := 0
	for _, ev := range events {
		if ev.Event == ocireg.ProgressUploaded {
			uploaded++
		}
		if !strings.HasPrefix(ev.Digest, "sha256:") || ev.Done > ev.Total || ev.Event.String() == "unknown" {
			t.Fatalf("bad event %+v", ev)
		}
	}
	if uploaded != 3 {
		t.Fatalf("%d blobs uploaded, want 3 (events %+v)", uploaded, events)
	}
	js, err := pushed.JSON()
	must(t, err)
	var stats struct {
		Stats struct {
			BlobsUploaded int `json:"blobsUploaded"`
		} `json:"stats"`
	}
	must(t, json.Unmarshal([]byte(js), &stats))
	if stats.Stats.BlobsUploaded != 3 {
		t.Fatalf("push JSON: %s", js)
	}

	// Push again with options: chunked, one thread, no HEAD; then mounted from push/app.
	again, err := c.PushImage(ctx, "push/chunked", "v1", img, &ocireg.PushOptions{Threads: 1, ChunkSize: 8, ForceUpload: true}, nil)
	must(t, err)
	again.Close()
	mounted, err := c.PushImage(ctx, "push/mounted", "v1", img, &ocireg.PushOptions{MountFrom: "push/app"}, nil)
	must(t, err)
	js, err = mounted.JSON()
	must(t, err)
	mounted.Close()
	if !strings.Contains(js, `"blobsMounted":3`) {
		t.Fatalf("mounted push JSON: %s", js)
	}
	_, err = c.PushImage(ctx, "push/app", "v1", img, &ocireg.PushOptions{Threads: 65}, nil)
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, err = c.PushImage(ctx, "push/app", "bad tag", img, nil, nil)
	wantErr(t, err, ocireg.ErrInvalidReference)
	_, err = c.PushImage(ctx, "push/app", "v1", nil, nil, nil)
	wantErr(t, err, ocireg.ErrInvalidArgument)

	// Cancelled from the progress func: the func's error comes back, nothing is tagged.
	stop := errors.New("stop right there")
	_, err = c.PushImage(ctx, "push/cancelled", "v1", img, nil, func(ocireg.Progress) error { return stop })
	wantErr(t, err, ocireg.ErrCancelled)
	if !errors.Is(err, stop) {
		t.Fatalf("the progress error is lost: %v", err)
	}
	_, err = c.ManifestDigest(ctx, "push/cancelled", "v1")
	wantErr(t, err, ocireg.ErrNotFound)

	// Verify: good.
	report, err := c.Verify(ctx, "push/app", pushed)
	must(t, err)
	if report.Outcome() != ocireg.OutcomeVerified || report.Outcome().String() != "verified" {
		t.Fatalf("outcome %v", report.Outcome())
	}
	rj, err := report.JSON()
	must(t, err)
	text, err := report.Text()
	must(t, err)
	if !strings.Contains(rj, `"outcome":"verified"`) || !strings.HasPrefix(text, "Verified") {
		t.Fatalf("report %s / %s", rj, text)
	}
	report.Close()
	report.Close() // twice is fine
	if report.Outcome() != ocireg.OutcomeFailed {
		t.Fatal("a closed report has an outcome")
	}
	_, err = report.JSON()
	wantErr(t, err, ocireg.ErrInvalidArgument)

	// Verify what would have been pushed elsewhere: failed, with a report.
	expected, err := ocireg.PushedFromImage(img, "push/elsewhere", "")
	must(t, err)
	defer expected.Close()
	report, err = c.Verify(ctx, "push/elsewhere", expected)
	wantErr(t, err, ocireg.ErrVerifyFailed)
	if report == nil || report.Outcome() != ocireg.OutcomeFailed {
		t.Fatal("a failed verification without its report")
	}
	report.Close()

	// Verify after a layer vanished from the registry.
	broken, err := c.PushImage(ctx, "push/broken", "v1", img, nil, nil)
	must(t, err)
	defer broken.Close()
	layer := digestOf([]byte("first layer"))
	found, err := reg.DeleteBlob("push/broken", layer)
	must(t, err)
	if !found {
		t.Fatal("layer not found in the test registry")
	}
	report, err = c.Verify(ctx, "push/broken", broken)
	e := wantErr(t, err, ocireg.ErrVerifyFailed)
	if report == nil || report.Outcome() != ocireg.OutcomeFailed {
		t.Fatalf("verify after deletion: %v", e)
	}
	rj, err = report.JSON()
	must(t, err)
	if !strings.Contains(rj, `"status":"failed"`) || !strings.Contains(rj, layer) {
		t.Fatalf("report %s", rj)
	}
	report.Close()
	_, err = c.Verify(ctx, "push/app", nil)
	wantErr(t, err, ocireg.ErrInvalidArgument)

	// Pull into a layout, with progress.
	dir := filepath.Join(t.TempDir(), "layout")
	downloaded := 0
	pulled, err := c.PullImage(ctx, "push/app", "v1", dir, nil, func(p ocireg.Progress) error {
		if p.Event == ocireg.ProgressDownloaded {
			downloaded++
		}
		return nil
	})
	must(t, err)
	defer pulled.Close()
	if downloaded != 3 || pulled.Digest() != img.Digest() || pulled.MediaType() != ociManifest ||
		pulled.Size() != int64(len(img.Manifest())) || !strings.Contains(pulled.Path(), "layout") {
		t.Fatalf("pulled %d: %s %s %d %s", downloaded, pulled.Digest(), pulled.MediaType(), pulled.Size(), pulled.Path())
	}
	pj, err := pulled.JSON()
	must(t, err)
	if !strings.Contains(pj, `"blobsDownloaded":3`) {
		t.Fatalf("pull JSON %s", pj)
	}
	asPushed, err := pulled.Pushed()
	must(t, err)
	report, err = c.Verify(ctx, "push/app", asPushed)
	must(t, err)
	report.Close()
	asPushed.Close()
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		t.Fatalf("no OCI layout: %v", err)
	}

	// Pull again: everything reused. Other platforms and bad arguments.
	reused := 0
	p2, err := c.PullImage(ctx, "push/app", "v1", dir, &ocireg.PullOptions{Threads: 2}, func(p ocireg.Progress) error {
		if p.Event == ocireg.ProgressReused {
			reused++
		}
		return nil
	})
	must(t, err)
	p2.Close()
	if reused != 3 {
		t.Fatalf("%d blobs reused", reused)
	}
	dir2 := filepath.Join(t.TempDir(), "layout2")
	_, err = c.PullImage(ctx, "push/app", "v1", dir2, &ocireg.PullOptions{Platform: "linux"}, nil)
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, err = c.PullImage(ctx, "push/app", "nope", dir2, nil, nil)
	wantErr(t, err, ocireg.ErrNotFound)
	p3, err := c.PullImage(ctx, "push/app", "v1", dir2, &ocireg.PullOptions{Platform: "linux/amd64"}, nil)
	must(t, err)
	p3.Close()

	// The layout, read back and pushed to another repository: the same image.
	fromLayout, err := ocireg.ImageFromLayout(dir, "v1")
	must(t, err)
	if fromLayout.Digest() != img.Digest() {
		t.Fatalf("layout image %s", fromLayout.Digest())
	}
	fromLayout.Close()
	_, err = ocireg.ImageFromLayout(dir, "nope")
	wantErr(t, err, ocireg.ErrInvalidArgument)
	layoutEvents := 0
	lp, err := c.PushLayout(ctx, "push/from-layout", "v2", dir, nil, func(ocireg.Progress) error {
		layoutEvents++
		return nil
	})
	must(t, err)
	if lp.Digest() != img.Digest() || layoutEvents == 0 {
		t.Fatalf("layout push %s, %d events", lp.Digest(), layoutEvents)
	}
	report, err = c.Verify(ctx, "push/from-layout", lp)
	must(t, err)
	report.Close()
	lp.Close()
	lp, err = c.PushLayout(ctx, "push/from-layout", "v1", dir, nil, nil)
	must(t, err)
	lp.Close()
	// The layout with push options: one thread, blobs mounted from push/app.
	lp, err = c.PushLayout(ctx, "push/layout-mounted", "v1", dir, &ocireg.PushOptions{Threads: 1, MountFrom: "push/app"}, nil)
	must(t, err)
	js, err = lp.JSON()
	must(t, err)
	if lp.Digest() != img.Digest() || !strings.Contains(js, `"blobsMounted":3`) {
		t.Fatalf("layout push with options: %s", js)
	}
	lp.Close()
	tags, err := c.Tags(ctx, "push/from-layout")
	must(t, err)
	sort.Strings(tags)
	if strings.Join(tags, ",") != "v1,v2" {
		t.Fatalf("layout tags %v", tags)
	}
}

func TestImageBuilderVariants(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	c := newClient(t, reg.URL())
	b, err := ocireg.NewImageBuilder()
	must(t, err)
	defer b.Close()
	_, err = b.Build()
	wantErr(t, err, ocireg.ErrInvalidArgument) // no config yet
	must(t, b.SetConfig([]byte(imageConfig), ""))
	must(t, b.AddLayer([]byte("docker layer"), ociLayer))
	must(t, b.SetDockerSchema2(true))
	docker, err := b.Build()
	must(t, err)
	defer docker.Close()
	if docker.MediaType() != "application/vnd.docker.distribution.manifest.v2+json" {
		t.Fatalf("docker media type %s", docker.MediaType())
	}
	// Pushed untagged, by digest.
	dp, err := c.PushImage(ctx, "push/docker", docker.Digest(), docker, nil, nil)
	must(t, err)
	if !strings.HasPrefix(dp.Reference(), "push/docker@sha256:") {
		t.Fatalf("reference %s", dp.Reference())
	}
	dp.Close()

	must(t, b.SetDockerSchema2(false))
	must(t, b.SetArtifactType("application/vnd.example.thing"))
	art, err := b.Build()
	must(t, err)
	defer art.Close()
	if !strings.Contains(string(art.Manifest()), "application/vnd.example.thing") {
		t.Fatalf("artifact manifest %s", art.Manifest())
	}
	_, err = c.PushImage(ctx, "push/docker", art.Digest(), docker, nil, nil)
	wantErr(t, err, ocireg.ErrDigestMismatch)

	must(t, b.Close())
	must(t, b.Close())
	wantErr(t, b.AddLayer([]byte("x"), ociLayer), ocireg.ErrInvalidArgument)
	_, err = b.Build()
	wantErr(t, err, ocireg.ErrInvalidArgument)
	wantErr(t, b.AddLayerFile("x\x00y", ociLayer), ocireg.ErrInvalidArgument)
}

func TestErrorMapping(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	_, err := reg.AddImage("team/app", "v1", []byte(imageConfig), []byte("layer"))
	must(t, err)
	c := newClient(t, reg.URL())

	// Rate limited, with Retry-After; a registry error; both with their HTTP status.
	must(t, reg.FailNext(1, 429, 7*time.Second))
	_, err = c.Tags(ctx, "team/app")
	e := wantErr(t, err, ocireg.ErrRateLimited)
	if e.HTTPStatus != 429 || e.RetryAfter != 7*time.Second {
		t.Fatalf("429: %#v", e)
	}
	must(t, reg.FailNext(1, 500, -1))
	_, err = c.Tags(ctx, "team/app")
	e = wantErr(t, err, ocireg.ErrRegistry)
	if e.HTTPStatus != 500 || e.RetryAfter != ocireg.NoRetryAfter {
		t.Fatalf("500: %#v", e)
	}
	wantErr(t, reg.FailNext(1, 200, -1), ocireg.ErrInvalidArgument)
	must(t, reg.FailNext(0, 500, -1))

	// With retries a transient failure is invisible.
	retrying, err := ocireg.NewClient(reg.URL(), ocireg.WithAnonymous(), ocireg.WithMaxRetries(2))
	must(t, err)
	defer retrying.Close()
	must(t, reg.FailNext(1, 503, 0))
	_, err = retrying.Tags(ctx, "team/app")
	must(t, err)

	// A slow registry and a short timeout.
	impatient := newClient(t, reg.URL(), ocireg.WithTimeout(ocireg.TimeoutResponse, 200*time.Millisecond))
	must(t, reg.SetDelay(time.Second))
	e = wantErr(t, impatient.Ping(ctx), ocireg.ErrTimeout)
	if !e.Timeout() {
		t.Fatal("Timeout() is false")
	}
	must(t, reg.SetDelay(0))
	must(t, impatient.Ping(ctx))

	// A download cut in the middle; blobs redirected; the request log.
	blob := []byte("0123456789abcdef")
	bd, err := reg.AddBlob("team/app", blob)
	must(t, err)
	must(t, reg.DropNext(1))
	_, err = c.PullBlobBytes(ctx, "team/app", bd)
	if !errors.Is(err, ocireg.ErrNetwork) && !errors.Is(err, ocireg.ErrDigestMismatch) {
		t.Fatalf("cut download: %v", err)
	}
	must(t, reg.ClearRequests())
	if reg.RequestCount() != 0 {
		t.Fatal("requests not cleared")
	}
	must(t, reg.RedirectBlobs(true))
	got, err := c.PullBlobBytes(ctx, "team/app", bd)
	must(t, err)
	if !bytes.Equal(got, blob) {
		t.Fatal("redirected blob differs")
	}
	must(t, reg.RedirectBlobs(false))
	log, err := reg.RequestsJSON()
	must(t, err)
	var requests []map[string]any
	must(t, json.Unmarshal([]byte(log), &requests))
	if len(requests) == 0 || !strings.Contains(log, `"status":307`) {
		t.Fatalf("request log %s", log)
	}

	// Bad references and arguments.
	_, err = c.Manifest(ctx, "team/app", "bad tag!")
	wantErr(t, err, ocireg.ErrInvalidReference)
	_, err = c.Manifest(ctx, "team/app", "sha256:short")
	wantErr(t, err, ocireg.ErrInvalidReference)
	_, err = ocireg.NewClient("ftp://example.com")
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, err = ocireg.NewClient("caf\xe9")
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, err = ocireg.NewClient("127.0.0.1\x00:5000")
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, err = ocireg.NewClient(reg.URL(), ocireg.WithUserAgent("a\r\nX-Evil: 1"))
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, err = ocireg.NewClient(reg.URL(), ocireg.WithTimeout(ocireg.TimeoutKind(42), time.Second))
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, err = ocireg.NewClient(reg.URL(), ocireg.WithDockerConfig(""))
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, err = ocireg.NewClient("127.0.0.1:1", ocireg.WithProxy("::not a url::"))
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, err = ocireg.NewClient("https://127.0.0.1:1", ocireg.WithCACert([]byte("not a certificate")))
	wantErr(t, err, ocireg.ErrTLS)
	_, err = ocireg.NewClient("https://127.0.0.1:1", ocireg.WithClientCert([]byte("junk"), []byte("junk")))
	wantErr(t, err, ocireg.ErrTLS)
	_, err = ocireg.NewClient("https://127.0.0.1:1", ocireg.WithCACert(nil))
	wantErr(t, err, ocireg.ErrInvalidArgument)

	// Every other option is accepted.
	other, err := ocireg.NewClient("registry.example.com",
		ocireg.WithIdentityToken("refresh"), ocireg.WithBearerToken("token"), ocireg.WithInsecure(),
		ocireg.WithProxyFromEnv(), ocireg.WithProxy("http://127.0.0.1:3128"), ocireg.WithUserAgent("go-test/1.0"),
		ocireg.WithTimeout(ocireg.TimeoutConnect, time.Second), ocireg.WithTimeout(ocireg.TimeoutRead, time.Second),
		ocireg.WithTimeout(ocireg.TimeoutWrite, time.Second), ocireg.WithTimeout(ocireg.TimeoutOverall, 0))
	must(t, err)
	if other.Registry() != "registry.example.com" || other.BaseURL() != "http://registry.example.com" ||
		other.RequestCount() != 0 {
		t.Fatalf("client %s %s", other.Registry(), other.BaseURL())
	}
	other.Close()

	// Credentials in the URL's userinfo.
	basic := startRegistry(t, ocireg.AuthBasic, alice)
	userinfo, err := ocireg.NewClient("http://alice:secret@" + basic.Host())
	must(t, err)
	must(t, userinfo.Ping(ctx))
	userinfo.Close()

	// A closed client, a nil client: ErrInvalidArgument, never a crash.
	closed := newClient(t, reg.URL())
	must(t, closed.Close())
	must(t, closed.Close())
	wantErr(t, closed.Ping(ctx), ocireg.ErrInvalidArgument)
	_, err = closed.Tags(ctx, "team/app")
	wantErr(t, err, ocireg.ErrInvalidArgument)
	if closed.Registry() != "" || closed.RequestCount() != 0 {
		t.Fatal("a closed client answers")
	}
	var nilClient *ocireg.Client
	wantErr(t, nilClient.Ping(ctx), ocireg.ErrInvalidArgument)

	// The test registry's own errors, and a stopped registry.
	_, err = ocireg.StartTestRegistry(ocireg.AuthMode(7), nil)
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, err = ocireg.StartTestRegistry(ocireg.AuthBasic, nil)
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, err = reg.AddBlob("A/B", []byte("x"))
	wantErr(t, err, ocireg.ErrInvalidReference)
	stopped := startRegistry(t, ocireg.AuthNone, nil)
	sc := newClient(t, stopped.URL())
	must(t, stopped.Stop())
	must(t, stopped.Stop())
	wantErr(t, sc.Ping(ctx), ocireg.ErrNetwork)
	_, err = stopped.AddBlob("a/b", []byte("x"))
	wantErr(t, err, ocireg.ErrInvalidArgument)
	if !strings.HasPrefix(stopped.URL(), "http://127.0.0.1:") {
		t.Fatal("URL unreadable after Stop")
	}

	// A panic inside the library comes back as ErrPanic, and the process goes on.
	e = wantErr(t, ocireg.TriggerTestPanic("boom"), ocireg.ErrPanic)
	if !strings.Contains(e.Message, "boom") {
		t.Fatalf("panic message %q", e.Message)
	}
	wantErr(t, ocireg.TriggerTestPanic("caf\xe9"), ocireg.ErrInvalidArgument)
	must(t, c.Ping(ctx))
}

// One client, many goroutines at once, callbacks included: reads, pushes, pulls and
// verification. No retries, and a response timeout that turns a stranded connection into a
// failure instead of a wait.
func TestConcurrentUseOfOneClient(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthBearer, alice)
	c, err := ocireg.NewClient(reg.URL(), ocireg.WithBasicAuth("alice", "secret"),
		ocireg.WithTimeout(ocireg.TimeoutResponse, 10*time.Second), ocireg.WithMaxRetries(0))
	must(t, err)
	defer c.Close()

	const workers = 8
	const rounds = 5
	img := buildImage(t, "shared layer one", "shared layer two")
	pushed, err := c.PushImage(ctx, "concurrent/app", "v1", img, nil, nil)
	must(t, err)
	defer pushed.Close()
	blobs := make([][]byte, workers)
	digests := make([]string, workers)
	for w := range blobs {
		blobs[w] = bytes.Repeat([]byte(fmt.Sprintf("worker %d ", w)), 5000)
		digests[w], err = c.PushBlob(ctx, "concurrent/app", blobs[w])
		must(t, err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := 0; w < workers; w++ {
		dir := t.TempDir()
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				if err := func() error {
					if err := c.Ping(ctx); err != nil {
						return err
					}
					tags, err := c.Tags(ctx, "concurrent/app")
					if err != nil {
						return err
					}
					if !contains(tags, "v1") {
						return fmt.Errorf("worker %d: tags %v", w, tags)
					}
					m, err := c.Manifest(ctx, "concurrent/app", "v1")
					if err != nil {
						return err
					}
					if m.Digest != img.Digest() {
						return fmt.Errorf("worker %d: manifest %s", w, m.Digest)
					}
					if ok, _, err := c.BlobExists(ctx, "concurrent/app", digests[w]); err != nil || !ok {
						return fmt.Errorf("worker %d: blob exists %v: %v", w, ok, err)
					}
					var buf bytes.Buffer
					if _, err := c.PullBlob(ctx, "concurrent/app", digests[w], &buf); err != nil {
						return err
					}
					if !bytes.Equal(buf.Bytes(), blobs[w]) {
						return fmt.Errorf("worker %d: blob differs", w)
					}
					own := []byte(fmt.Sprintf("worker %d round %d", w, i))
					if _, err := c.PushBlob(ctx, fmt.Sprintf("concurrent/w%d", w), own); err != nil {
						return err
					}
					events := 0
					pulled, err := c.PullImage(ctx, "concurrent/app", "v1", filepath.Join(dir, fmt.Sprint(i)), nil,
						func(ocireg.Progress) error {
							events++
							runtime.Gosched() // let the goroutine move between threads
							return nil
						})
					if err != nil {
						return err
					}
					defer pulled.Close()
					if events == 0 || pulled.Digest() != img.Digest() {
						return fmt.Errorf("worker %d: pulled %s with %d events", w, pulled.Digest(), events)
					}
					report, err := c.Verify(ctx, "concurrent/app", pushed)
					if err != nil {
						return err
					}
					return report.Close()
				}(); err != nil {
					errs <- err
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Close while other goroutines use the client: they finish first, or fail cleanly afterwards.
func TestCloseWhileInUse(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	c, err := ocireg.NewClient(reg.URL(), ocireg.WithAnonymous(), ocireg.WithMaxRetries(0))
	must(t, err)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if err := c.Ping(ctx); err != nil && !errors.Is(err, ocireg.ErrInvalidArgument) {
					t.Error(err)
				}
			}
		}()
	}
	time.Sleep(10 * time.Millisecond)
	must(t, c.Close())
	wg.Wait()
}

// Forgotten handles are freed by their finalizers.
func TestFinalizers(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	for i := 0; i < 20; i++ {
		c, err := ocireg.NewClient(reg.URL(), ocireg.WithAnonymous())
		must(t, err)
		must(t, c.Ping(ctx))
		b, err := ocireg.NewImageBuilder()
		must(t, err)
		must(t, b.SetConfig([]byte(imageConfig), ""))
		img, err := b.Build()
		must(t, err)
		_ = img.Digest()
	}
	runtime.GC()
	runtime.GC()
}

// --------------------------------------------------------------------------------------------- helpers

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

type iotestOneByte struct{ r io.Reader }

func (r iotestOneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return r.r.Read(p[:1])
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

type panicWriter struct{ msg string }

func (w panicWriter) Write([]byte) (int, error) { panic(w.msg) }

type panicReader struct{ msg string }

func (r panicReader) Read([]byte) (int, error) { panic(r.msg) }
