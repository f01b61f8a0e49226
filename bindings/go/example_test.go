package ocireg_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	ocireg "github.com/ocireg/ocireg/bindings/go"
)

// Start the built-in registry with Bearer auth, push an image, list, verify, pull it back.
func Example() {
	ctx := context.Background()
	reg, err := ocireg.StartTestRegistry(ocireg.AuthBearer, map[string]string{"alice": "secret"})
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Close()

	client, err := ocireg.NewClient(reg.URL(), ocireg.WithBasicAuth("alice", "secret"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	b, err := ocireg.NewImageBuilder()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	if err := b.SetConfig([]byte(`{"architecture":"amd64","os":"linux"}`), ""); err != nil {
		log.Fatal(err)
	}
	if err := b.AddLayer([]byte("pretend this is a gzipped tarball"), "application/vnd.oci.image.layer.v1.tar+gzip"); err != nil {
		log.Fatal(err)
	}
	img, err := b.Build()
	if err != nil {
		log.Fatal(err)
	}
	defer img.Close()

	pushed, err := client.PushImage(ctx, "team/app", "v1", img, nil, func(p ocireg.Progress) error {
		if p.Event == ocireg.ProgressUploaded {
			fmt.Println("uploaded a blob of", p.Total, "bytes")
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	defer pushed.Close()

	tags, _ := client.Tags(ctx, "team/app")
	fmt.Println("tags:", tags)

	report, err := client.Verify(ctx, "team/app", pushed)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verify:", report.Outcome())
	report.Close()

	dir, _ := os.MkdirTemp("", "ocireg-example")
	defer os.RemoveAll(dir)
	pulled, err := client.PullImage(ctx, "team/app", "v1", filepath.Join(dir, "layout"), nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pulled the same image:", pulled.Digest() == pushed.Digest())
	pulled.Close()

	_, err = client.Tags(ctx, "no/such/repo")
	var e *ocireg.Error
	if errors.Is(err, ocireg.ErrNotFound) && errors.As(err, &e) {
		fmt.Println("not found:", e.HTTPStatus, e.RegistryCode)
	}
	// Unordered output:
	// uploaded a blob of 37 bytes
	// uploaded a blob of 33 bytes
	// tags: [v1]
	// verify: verified
	// pulled the same image: true
	// not found: 404 NAME_UNKNOWN
}

// Cancel a call from another goroutine, or give it a deadline: the call returns promptly, even
// while the registry is silent mid-answer.
func Example_cancel() {
	reg, err := ocireg.StartTestRegistry(ocireg.AuthNone, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Close()
	if _, err := reg.AddImage("team/app", "v1", []byte(`{"architecture":"amd64","os":"linux"}`), []byte("layer")); err != nil {
		log.Fatal(err)
	}
	client, err := ocireg.NewClient(reg.URL(), ocireg.WithAnonymous())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	reg.SetHostile("slow-drip:2000") // one byte of each answer every 2 s

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(200 * time.Millisecond)
		cancel()
	}()
	_, err = client.Manifest(ctx, "team/app", "v1")
	fmt.Println("cancelled:", errors.Is(err, context.Canceled), errors.Is(err, ocireg.ErrCancelled))

	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = client.Tags(ctx, "team/app")
	fmt.Println("deadline:", errors.Is(err, context.DeadlineExceeded), errors.Is(err, ocireg.ErrTimeout))
	// Output:
	// cancelled: true true
	// deadline: true true
}

// Read a blob as a stream: the bytes are verified as they come, and the read that reaches the
// end fails with ErrDigestMismatch if they are not the blob's.
func ExampleClient_BlobReader() {
	reg, err := ocireg.StartTestRegistry(ocireg.AuthNone, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Close()
	digest, err := reg.AddBlob("team/app", []byte("some blob content"))
	if err != nil {
		log.Fatal(err)
	}
	client, err := ocireg.NewClient(reg.URL(), ocireg.WithAnonymous())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	r, err := client.BlobReader(context.Background(), "team/app", digest)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "bytes, digest matches:", "sha256:"+hex.EncodeToString(h.Sum(nil)) == digest)
	// Output:
	// 17 bytes, digest matches: true
}

// Errors as data: every entry of the registry's errors[], its status and body.
func ExampleClientError() {
	reg, err := ocireg.StartTestRegistry(ocireg.AuthNone, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Close()
	client, err := ocireg.NewClient(reg.URL(), ocireg.WithAnonymous())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	_, err = client.Tags(context.Background(), "no/such/repo")
	var ce *ocireg.ClientError
	if errors.As(err, &ce) {
		fmt.Println(ce.StatusCode, ce.Errors[0].Code, errors.Is(err, ocireg.ErrNotFound))
	}
	// Output:
	// 404 NAME_UNKNOWN true
}

// Be told of each retry, with the wait before the next attempt.
func ExampleWithRetryNotify() {
	reg, err := ocireg.StartTestRegistry(ocireg.AuthNone, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Close()
	if _, err := reg.AddImage("team/app", "v1", []byte(`{"architecture":"amd64","os":"linux"}`), []byte("layer")); err != nil {
		log.Fatal(err)
	}
	client, err := ocireg.NewClient(reg.URL(), ocireg.WithAnonymous(),
		ocireg.WithBackOff(10*time.Millisecond, 2, time.Second, 30*time.Second, 0),
		ocireg.WithRetryNotify(func(err error, next time.Duration) {
			var re *ocireg.RetryError
			errors.As(err, &re)
			fmt.Println("retry", re.Attempt, "after HTTP", re.StatusCode, "in", next)
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	reg.FailNext(2, 503, -1)
	tags, err := client.Tags(context.Background(), "team/app")
	fmt.Println(tags, err)
	// Output:
	// retry 1 after HTTP 503 in 10ms
	// retry 2 after HTTP 503 in 20ms
	// [v1] <nil>
}
