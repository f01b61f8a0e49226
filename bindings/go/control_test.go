package ocireg_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	ocireg "github.com/ocireg/ocireg/bindings/go"
)

// settledGoroutines waits (briefly) for the goroutine count to come back to at most want.
func settledGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 100 && n > want; i++ {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// A call on a registry that stops answering mid-body, cancelled from another goroutine.
func TestCancelFromAnotherGoroutine(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	_, err := reg.AddImage("team/app", "v1", []byte(imageConfig), []byte("layer"))
	must(t, err)
	blob := bytes.Repeat([]byte("x"), 10_000)
	bd, err := reg.AddBlob("team/app", blob)
	must(t, err)
	c := newClient(t, reg.URL())
	must(t, reg.SetHostile("slow-drip:2000"))
	far := startRegistry(t, ocireg.AuthNone, nil)
	dst := newClient(t, far.URL())
	before := runtime.NumGoroutine()

	calls := map[string]func(ctx context.Context) error{
		"Manifest": func(ctx context.Context) error { _, err := c.Manifest(ctx, "team/app", "v1"); return err },
		"Tags":     func(ctx context.Context) error { _, err := c.Tags(ctx, "team/app"); return err },
		"CopyTo": func(ctx context.Context) error {
			_, err := c.CopyTo(ctx, "team/app", "v1", dst, "copied/app", "v1", nil, nil)
			return err
		},
		"PullBlobToFile": func(ctx context.Context) error {
			_, err := c.PullBlobToFile(ctx, "team/app", bd, filepath.Join(t.TempDir(), "blob"))
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(300 * time.Millisecond)
				cancel()
			}()
			start := time.Now()
			err := call(ctx)
			elapsed := time.Since(start)
			wg.Wait()
			if elapsed > 1500*time.Millisecond {
				t.Fatalf("returned after %v", elapsed)
			}
			if !errors.Is(err, context.Canceled) || !errors.Is(err, ocireg.ErrCancelled) {
				t.Fatalf("want a cancellation, got %v", err)
			}
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ocireg.ErrTimeout) {
				t.Fatalf("a cancellation is not a timeout: %v", err)
			}
		})
	}
	// Nothing half-written: the cancelled download left no file.
	entries, _ := filepath.Glob(filepath.Join(t.TempDir(), "*"))
	if len(entries) != 0 {
		t.Fatalf("files left: %v", entries)
	}
	// No goroutine outlives its call.
	if n := settledGoroutines(before); n > before {
		t.Fatalf("%d goroutines, %d before", n, before)
	}
	// The client itself is not cancelled; the cancelled copy tagged nothing.
	must(t, reg.SetHostile("none"))
	if _, err := c.Tags(ctx, "team/app"); err != nil {
		t.Fatal(err)
	}
	_, err = dst.ManifestDigest(ctx, "copied/app", "v1")
	wantErr(t, err, ocireg.ErrNotFound)
	// A copy onto the same client.
	pushed, err := c.CopyTo(ctx, "team/app", "v1", c, "team/again", "v1", nil, nil)
	must(t, err)
	pushed.Close()
}

func TestContextDoneBeforeTheCall(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	c := newClient(t, reg.URL())
	must(t, c.Ping(ctx))
	sent := c.RequestCount()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Ping(cancelled)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ocireg.ErrCancelled) {
		t.Fatalf("Ping(cancelled) = %v", err)
	}
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	_, err = c.Tags(expired, "team/app")
	var e *ocireg.Error
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ocireg.ErrTimeout) || !errors.As(err, &e) || !e.Timeout() {
		t.Fatalf("Tags(expired) = %v", err)
	}
	_, err = c.BlobReader(cancelled, "team/app", digestOf([]byte("x")))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("BlobReader(cancelled) = %v", err)
	}
	why := errors.New("shutting down")
	withCause, cancel3 := context.WithCancelCause(context.Background())
	cancel3(why)
	err = c.Ping(withCause)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, why) {
		t.Fatalf("Ping(cause) = %v", err)
	}
	if c.RequestCount() != sent || reg.RequestCount() == 0 {
		t.Fatal("a call under a done context was sent")
	}

	// A context that is never done, and one with a far deadline, work as usual.
	far, cancel4 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel4()
	must(t, c.Ping(far))
	must(t, c.Ping(context.TODO()))
	//lint:ignore SA1012 a nil context is taken as context.Background()
	must(t, c.Ping(nil))
}

// A per-call deadline of 0.5 s with retries: on a registry failing with 503 (each answer
// 300 ms late), and on one that asks for a 1 s wait.
func TestDeadlineWithRetries(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	_, err := reg.AddImage("team/app", "v1", []byte(imageConfig), []byte("layer"))
	must(t, err)
	var retries int
	c := newClient(t, reg.URL(), ocireg.WithMaxRetries(10),
		ocireg.WithBackOff(50*time.Millisecond, 1, 50*time.Millisecond, 0, 0),
		ocireg.WithRetryNotify(func(error, time.Duration) { retries++ }))
	must(t, reg.FailNext(100, 503, -1))
	must(t, reg.SetDelay(300*time.Millisecond))

	deadline, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Tags(deadline, "team/app")
	elapsed := time.Since(start)
	if elapsed > time.Second {
		t.Fatalf("returned after %v", elapsed)
	}
	var e *ocireg.Error
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ocireg.ErrTimeout) ||
		!errors.Is(err, ocireg.ErrCancelled) || !errors.As(err, &e) || !e.Timeout() {
		t.Fatalf("want the deadline, got %v", err)
	}
	if retries == 0 {
		t.Fatal("no retry before the deadline")
	}

	// Retry-After beyond the deadline: no waiting past it.
	must(t, reg.SetDelay(0))
	must(t, reg.FailNext(100, 503, time.Second))
	deadline2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	start = time.Now()
	_, err = c.Tags(deadline2, "team/app")
	if elapsed := time.Since(start); elapsed > time.Second || err == nil {
		t.Fatalf("Retry-After past the deadline: %v after %v", err, elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ocireg.ErrRegistry) {
		t.Fatalf("Retry-After past the deadline: %v", err)
	}

	// A silent registry (slow drip) and a deadline.
	must(t, reg.FailNext(0, 503, -1))
	must(t, reg.SetHostile("slow-drip:2000"))
	deadline3, cancel3 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel3()
	start = time.Now()
	_, err = c.Manifest(deadline3, "team/app", "v1")
	if elapsed := time.Since(start); elapsed > time.Second || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow drip with a deadline: %v after %v", err, elapsed)
	}
}

func TestBlobReader(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	c := newClient(t, reg.URL())

	// 64 MiB, streamed into a hash: the same digest.
	data := make([]byte, 64<<20)
	for i := range data {
		data[i] = byte((uint32(i) * 2654435761) >> 24)
	}
	digest, err := reg.AddBlob("team/app", data)
	must(t, err)
	data = nil
	rc, err := c.BlobReader(ctx, "team/app", digest)
	must(t, err)
	if s, ok := rc.(*ocireg.BlobStream); !ok || s.Size() != 64<<20 {
		t.Fatalf("%T size", rc)
	}
	h := sha256.New()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, err := io.Copy(h, rc)
	runtime.ReadMemStats(&after)
	must(t, err)
	// Bounded memory: the bytes pass through io.Copy's buffer, nothing gathers them.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Fatalf("streaming 64 MiB allocated %d bytes", alloc)
	}
	if n != 64<<20 || "sha256:"+hex.EncodeToString(h.Sum(nil)) != digest {
		t.Fatalf("streamed %d bytes hashing to another digest", n)
	}
	if k, err := rc.Read(make([]byte, 10)); k != 0 || err != io.EOF {
		t.Fatalf("read after EOF: %d, %v", k, err)
	}
	must(t, rc.Close())
	must(t, rc.Close())
	if _, err := rc.Read(make([]byte, 10)); err != io.EOF {
		t.Fatalf("read after close: %v", err)
	}

	// Small reads; a missing blob; bad arguments.
	small, err := reg.AddBlob("team/app", []byte("streamed blob content"))
	must(t, err)
	rc, err = c.BlobReader(ctx, "team/app", small)
	must(t, err)
	var got bytes.Buffer
	buf := make([]byte, 5)
	for {
		k, err := rc.Read(buf)
		got.Write(buf[:k])
		if err == io.EOF {
			break
		}
		must(t, err)
	}
	rc.Close()
	if got.String() != "streamed blob content" {
		t.Fatalf("got %q", got.String())
	}
	_, err = c.BlobReader(ctx, "team/app", digestOf([]byte("absent")))
	wantErr(t, err, ocireg.ErrNotFound)
	_, err = c.BlobReader(ctx, "team/app", "sha256:short")
	wantErr(t, err, ocireg.ErrInvalidReference)
	rc, err = c.BlobReader(ctx, "team/app", small)
	must(t, err)
	must(t, rc.Close())
	if _, err := rc.Read(buf); !errors.Is(err, ocireg.ErrInvalidArgument) {
		t.Fatalf("read from a closed stream: %v", err)
	}

	// A stream cut mid-way by the registry is resumed with Range (a retry), whole and verified.
	must(t, reg.SetHostile("cut-midway"))
	retrying := newClient(t, reg.URL(), ocireg.WithMaxRetries(3))
	rc, err = retrying.BlobReader(ctx, "team/app", small)
	must(t, err)
	all, err := io.ReadAll(rc)
	must(t, err)
	rc.Close()
	if string(all) != "streamed blob content" {
		t.Fatalf("resumed %q", all)
	}
	must(t, reg.SetHostile("none"))
}

// A registry that answers other bytes (same length) than the digest's.
func TestBlobReaderTamperedBlobFailsOnTheLastRead(t *testing.T) {
	genuine := bytes.Repeat([]byte("the real blob content. "), 20_000)
	fake := bytes.Repeat([]byte("the fake blob content. "), 20_000)
	digest := digestOf(genuine)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/":
			w.WriteHeader(http.StatusOK)
		case "/v2/team/app/blobs/" + digest:
			w.Header().Set("Content-Type", "application/octet-stream")
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(fake))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	rc, err := c.BlobReader(ctx, "team/app", digest)
	must(t, err)
	defer rc.Close()
	buf := make([]byte, 64<<10)
	var total int
	var last error
	reads := 0
	for {
		n, err := rc.Read(buf)
		total += n
		if err != nil {
			last = err
			break
		}
		reads++
	}
	// The read that reaches the end fails (the last bytes are withheld): every read before
	// it succeeded.
	if reads < 2 || total >= len(fake) || len(fake)-total > len(buf) {
		t.Fatalf("%d successful reads, %d bytes of %d before the failure", reads, total, len(fake))
	}
	wantErr(t, last, ocireg.ErrDigestMismatch)
	if _, err := rc.Read(buf); !errors.Is(err, ocireg.ErrDigestMismatch) {
		t.Fatalf("the failure is not sticky: %v", err)
	}
	// The same through PullBlobBytes.
	_, err = c.PullBlobBytes(ctx, "team/app", digest)
	wantErr(t, err, ocireg.ErrDigestMismatch)
}

func TestBlobReaderCancelled(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	digest, err := reg.AddBlob("team/app", bytes.Repeat([]byte("y"), 1000))
	must(t, err)
	c := newClient(t, reg.URL())
	must(t, reg.SetHostile("slow-drip:2000"))

	// Cancelling the context ends a Read waiting on a silent registry.
	cctx, cancel := context.WithCancel(context.Background())
	rc, err := c.BlobReader(cctx, "team/app", digest)
	must(t, err)
	go func() {
		time.Sleep(300 * time.Millisecond)
		cancel()
	}()
	start := time.Now()
	_, err = io.ReadAll(rc)
	if elapsed := time.Since(start); elapsed > 1500*time.Millisecond {
		t.Fatalf("returned after %v", elapsed)
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ocireg.ErrCancelled) {
		t.Fatalf("want a cancellation, got %v", err)
	}
	must(t, rc.Close())

	// Close from another goroutine ends a pending Read too.
	rc, err = c.BlobReader(ctx, "team/app", digest)
	must(t, err)
	go func() {
		time.Sleep(300 * time.Millisecond)
		rc.Close()
	}()
	start = time.Now()
	_, err = io.ReadAll(rc)
	if elapsed := time.Since(start); elapsed > 1500*time.Millisecond || err == nil {
		t.Fatalf("Close did not end the Read: %v after %v", err, elapsed)
	}
}

// goroutineID is the calling goroutine's number (for the test of where callbacks run).
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	return strings.Fields(string(buf))[1]
}

// A retry callback sees each retry of a 503 storm, with its delay, on the calling goroutine.
func TestRetryNotifyAndBackOff(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	_, err := reg.AddImage("team/app", "v1", []byte(imageConfig), []byte("layer"))
	must(t, err)
	type retry struct {
		err       error
		next      time.Duration
		goroutine string
	}
	var seen []retry
	c := newClient(t, reg.URL(), ocireg.WithMaxRetries(5),
		ocireg.WithBackOff(10*time.Millisecond, 2, 50*time.Millisecond, 0, 0),
		ocireg.WithRetryNotify(func(err error, next time.Duration) {
			seen = append(seen, retry{err, next, goroutineID()})
		}))
	must(t, reg.FailNext(3, 503, -1))
	tags, err := c.Tags(ctx, "team/app")
	must(t, err)
	if len(tags) != 1 {
		t.Fatalf("tags %v", tags)
	}
	if len(seen) != 3 {
		t.Fatalf("%d retries seen, want 3: %v", len(seen), seen)
	}
	me := goroutineID()
	for i, r := range seen {
		var re *ocireg.RetryError
		if !errors.As(r.err, &re) || re.StatusCode != 503 || re.Attempt != i+1 || re.Method != "GET" ||
			!strings.Contains(re.Path, "team/app/tags/list") || re.Reason == "" || !errors.Is(r.err, ocireg.ErrRegistry) {
			t.Fatalf("retry %d: %#v", i, r.err)
		}
		if want := []time.Duration{10, 20, 40}[i] * time.Millisecond; r.next != want {
			t.Fatalf("retry %d waits %v, want %v", i, r.next, want)
		}
		if r.goroutine != me {
			t.Fatalf("retry callback on goroutine %s, the call on %s", r.goroutine, me)
		}
	}

	// Under a context (a bound client): the same callback; a Retry-After replaces the wait.
	seen = nil
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, reg.FailNext(1, 429, time.Second))
	_, err = c.Tags(cctx, "team/app")
	must(t, err)
	if len(seen) != 1 || seen[0].next != time.Second || !errors.Is(seen[0].err, ocireg.ErrRateLimited) {
		t.Fatalf("429 retry %v", seen)
	}

	// A panic in the callback does not cross C: the call completes, then the panic is raised
	// again on the calling goroutine; the client works on.
	panicky := newClient(t, reg.URL(), ocireg.WithMaxRetries(3),
		ocireg.WithBackOff(time.Millisecond, 1, time.Millisecond, 0, 0),
		ocireg.WithRetryNotify(func(error, time.Duration) { panic("retry callback panic") }))
	must(t, reg.FailNext(2, 503, -1))
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		panicky.Tags(ctx, "team/app")
	}()
	if recovered != "retry callback panic" {
		t.Fatalf("recovered %v", recovered)
	}
	must(t, panicky.Ping(ctx))

	// Bad policies; removing the callback.
	_, err = ocireg.NewClient(reg.URL(), ocireg.WithBackOff(time.Millisecond, 0.5, time.Second, 0, 0))
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, err = ocireg.NewClient(reg.URL(), ocireg.WithBackOff(time.Millisecond, 2, time.Second, 0, 1.5))
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, err = ocireg.NewClient(reg.URL(), ocireg.WithBackOff(-time.Millisecond, 2, time.Second, 0, 0))
	wantErr(t, err, ocireg.ErrInvalidArgument)
	seen = nil
	quiet := newClient(t, reg.URL(), ocireg.WithMaxRetries(2), ocireg.WithBackOff(time.Millisecond, 1, time.Millisecond, 0, 0),
		ocireg.WithRetryNotify(func(err error, next time.Duration) { seen = append(seen, retry{err, next, ""}) }),
		ocireg.WithRetryNotify(nil))
	must(t, reg.FailNext(1, 503, -1))
	_, err = quiet.Tags(ctx, "team/app")
	must(t, err)
	if len(seen) != 0 {
		t.Fatal("a removed callback was called")
	}
}

// Every errors[] entry, the status, Retry-After and the raw body, as data.
func TestClientError(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	_, err := reg.AddImage("team/app", "v1", []byte(imageConfig), []byte("layer"))
	must(t, err)
	c := newClient(t, reg.URL())

	_, err = c.Manifest(ctx, "team/app", "no-such-tag")
	var ce *ocireg.ClientError
	if !errors.As(err, &ce) {
		t.Fatalf("no *ClientError in %v", err)
	}
	if ce.StatusCode != 404 || len(ce.Errors) != 1 || ce.Errors[0].Code != "MANIFEST_UNKNOWN" ||
		ce.Errors[0].Message == "" || !bytes.Contains(ce.RawBody, []byte("MANIFEST_UNKNOWN")) ||
		ce.RetryAfter != ocireg.NoRetryAfter {
		t.Fatalf("404: %#v", ce)
	}
	if !errors.Is(ce, ocireg.ErrNotFound) || !errors.Is(err, ocireg.ErrNotFound) || !strings.Contains(ce.Error(), "404") {
		t.Fatalf("sentinels: %v", ce)
	}

	// Two good entries around a malformed one: both are there, in order (the malformed one
	// shows as what could be read of it).
	must(t, reg.SetHostile("malformed-error-entry"))
	_, err = c.Manifest(ctx, "team/app", "no-such-tag")
	ce = nil
	if !errors.As(err, &ce) {
		t.Fatalf("no *ClientError in %v", err)
	}
	if n := len(ce.Errors); n < 2 || ce.Errors[0].Code != "MANIFEST_UNKNOWN" || ce.Errors[n-1].Code != "UNKNOWN" ||
		ce.Errors[n-1].Message != "the entry after a malformed one" || ce.Errors[0].Message != "manifest unknown" {
		t.Fatalf("entries %#v", ce.Errors)
	}
	if !strings.Contains(ce.Error(), "MANIFEST_UNKNOWN") || !strings.Contains(ce.Error(), "UNKNOWN: the entry after") {
		t.Fatalf("message %q", ce.Error())
	}
	if !bytes.Contains(ce.RawBody, []byte(`{"code":5}`)) {
		t.Fatalf("raw body %s", ce.RawBody)
	}
	must(t, reg.SetHostile("none"))

	// The detail, as JSON text.
	_, err = c.Tags(ctx, "no/such/repo")
	ce = nil
	if !errors.As(err, &ce) || len(ce.Errors) == 0 || ce.Errors[0].Code != "NAME_UNKNOWN" {
		t.Fatalf("NAME_UNKNOWN: %v", err)
	}
	if d := ce.Errors[0].Detail; d != nil && !json.Valid(d) {
		t.Fatalf("detail %s", d)
	}

	// Retry-After.
	must(t, reg.FailNext(1, 429, 7*time.Second))
	_, err = c.Tags(ctx, "team/app")
	ce = nil
	if !errors.As(err, &ce) || ce.StatusCode != 429 || ce.RetryAfter != 7*time.Second || ce.Errors[0].Code != "TOOMANYREQUESTS" {
		t.Fatalf("429: %v %#v", err, ce)
	}
	if !errors.Is(ce, ocireg.ErrRateLimited) {
		t.Fatal("429 is not ErrRateLimited")
	}

	// No HTTP answer, no ClientError.
	stopped := startRegistry(t, ocireg.AuthNone, nil)
	sc := newClient(t, stopped.URL())
	must(t, stopped.Stop())
	err = sc.Ping(ctx)
	ce = nil
	if errors.As(err, &ce) || !errors.Is(err, ocireg.ErrNetwork) {
		t.Fatalf("network error %v as %#v", err, ce)
	}
}

// Close of a client while a cancellable call runs on it waits for the call, as for any call.
func TestCloseAfterCancelledCalls(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	c, err := ocireg.NewClient(reg.URL(), ocireg.WithAnonymous())
	must(t, err)
	cctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				c.Ping(cctx)
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	cancel()
	wg.Wait()
	must(t, c.Close())
	if err := c.Ping(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ping(cancelled) on a closed client: %v", err)
	}
	if err := c.Ping(ctx); !errors.Is(err, ocireg.ErrInvalidArgument) {
		t.Fatalf("Ping on a closed client: %v", err)
	}
}

// What a context costs per call: none for context.Background(); a cancellable one binds a
// client (with connections of its own) for the call.
func BenchmarkTagsContext(b *testing.B) {
	reg, err := ocireg.StartTestRegistry(ocireg.AuthNone, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	if _, err := reg.AddImage("team/app", "v1", []byte(imageConfig), []byte("layer")); err != nil {
		b.Fatal(err)
	}
	c, err := ocireg.NewClient(reg.URL(), ocireg.WithAnonymous())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	cancellable, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for name, ctx := range map[string]context.Context{"background": context.Background(), "cancellable": cancellable} {
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := c.Tags(ctx, "team/app"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
