package ocireg_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

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
