package ocireg_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	ocireg "github.com/ocireg/ocireg/bindings/go"
)

const ociIndex = "application/vnd.oci.image.index.v1+json"

// addIndex stores two images (linux/amd64 and linux/arm64/v8) and an index of both tagged tag
// in repository; it returns the index digest and the digests of the two images.
func addIndex(t *testing.T, reg *ocireg.TestRegistry, repository, tag string) (index, amd64, arm64 string) {
	t.Helper()
	amdConfig := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	armConfig := []byte(`{"architecture":"arm64","os":"linux","variant":"v8","rootfs":{"type":"layers","diff_ids":[]}}`)
	amd64, err := reg.AddImage(repository, "amd64-only", amdConfig, []byte("amd64 layer"))
	must(t, err)
	arm64, err = reg.AddImage(repository, "arm64-only", armConfig, []byte("arm64 layer"), []byte("arm64 second layer"))
	must(t, err)
	c := newClient(t, reg.URL())
	amdManifest, err := c.Manifest(ctx, repository, amd64)
	must(t, err)
	armManifest, err := c.Manifest(ctx, repository, arm64)
	must(t, err)
	idx, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     ociIndex,
		"manifests": []map[string]any{
			{"mediaType": ociManifest, "digest": amd64, "size": len(amdManifest.Bytes),
				"platform": map[string]string{"architecture": "amd64", "os": "linux"}},
			{"mediaType": ociManifest, "digest": arm64, "size": len(armManifest.Bytes),
				"platform": map[string]string{"architecture": "arm64", "os": "linux", "variant": "v8"}},
		},
	})
	must(t, err)
	index, err = reg.AddManifest(repository, tag, ociIndex, idx)
	must(t, err)
	return index, amd64, arm64
}

func TestCopyAndRetag(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	digest, err := reg.AddImage("ops/src", "v1", []byte(imageConfig), []byte("ops layer"), []byte("second"))
	must(t, err)
	c := newClient(t, reg.URL())

	// Within the registry: blobs mounted, manifest put, same digest; verified.
	var events []ocireg.Progress
	pushed, err := c.Copy(ctx, "ops/src", "v1", "ops/dst", "copied", nil, func(p ocireg.Progress) error {
		events = append(events, p)
		return nil
	})
	must(t, err)
	defer pushed.Close()
	if pushed.Digest() != digest || pushed.Reference() != "ops/dst:copied@"+digest {
		t.Fatalf("copied %s (%s), want %s", pushed.Digest(), pushed.Reference(), digest)
	}
	report, err := c.Verify(ctx, "ops/dst", pushed)
	must(t, err)
	report.Close()
	if len(events) == 0 {
		t.Fatal("no progress for the copy")
	}
	if got, err := c.ManifestDigest(ctx, "ops/dst", "copied"); err != nil || got != digest {
		t.Fatalf("ops/dst:copied = %s, %v", got, err)
	}

	// To another registry (Bearer), streamed; the destination verifies it.
	far := startRegistry(t, ocireg.AuthBearer, alice)
	dst := newClient(t, far.URL(), ocireg.WithBasicAuth("alice", "secret"))
	pushed2, err := c.CopyTo(ctx, "ops/src", "v1", dst, "far/app", "v2", &ocireg.CopyOptions{Threads: 2}, nil)
	must(t, err)
	defer pushed2.Close()
	if pushed2.Digest() != digest {
		t.Fatalf("copied across registries: %s, want %s", pushed2.Digest(), digest)
	}
	report, err = dst.Verify(ctx, "far/app", pushed2)
	must(t, err)
	if report.Outcome() != ocireg.OutcomeVerified {
		t.Fatalf("verify: %v", report.Outcome())
	}
	report.Close()
	layer := digestOf([]byte("ops layer"))
	got, err := dst.PullBlobBytes(ctx, "far/app", layer)
	must(t, err)
	if string(got) != "ops layer" {
		t.Fatalf("layer %q", got)
	}

	// One platform of an index, to another registry.
	index, amd64, _ := addIndex(t, reg, "ops/multi", "all")
	one, err := c.CopyTo(ctx, "ops/multi", "all", dst, "far/multi", "amd", &ocireg.CopyOptions{Platform: "linux/amd64"}, nil)
	must(t, err)
	if one.Digest() != amd64 {
		t.Fatalf("one platform copied: %s, want %s", one.Digest(), amd64)
	}
	one.Close()
	all, err := c.Copy(ctx, "ops/multi", "all", "ops/multi-copy", "all", nil, nil)
	must(t, err)
	if all.Digest() != index {
		t.Fatalf("index copied: %s, want %s", all.Digest(), index)
	}
	all.Close()

	// Errors.
	_, err = c.Copy(ctx, "ops/src", "nope", "ops/dst", "x", nil, nil)
	wantErr(t, err, ocireg.ErrNotFound)
	_, err = c.Copy(ctx, "ops/src", "v1", "ops/dst", "x", &ocireg.CopyOptions{Threads: 65}, nil)
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, err = c.Copy(ctx, "ops/src", "v1", "ops/dst", "x", &ocireg.CopyOptions{Threads: -1}, nil)
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, err = c.CopyTo(ctx, "ops/src", "v1", nil, "ops/dst", "x", nil, nil)
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, err = c.Copy(ctx, "ops/src", "v1", "Bad/Name", "x", nil, nil)
	wantErr(t, err, ocireg.ErrInvalidReference)

	// Retag in the same repository, and into another one.
	tagged, err := c.Retag(ctx, "ops/src", "v1", "ops/src", "v1-again")
	must(t, err)
	if tagged.Digest() != digest {
		t.Fatalf("retagged %s", tagged.Digest())
	}
	tagged.Close()
	tagged, err = c.Retag(ctx, "ops/src", "v1", "ops/elsewhere", "moved")
	must(t, err)
	tagged.Close()
	for _, ref := range [][2]string{{"ops/src", "v1-again"}, {"ops/elsewhere", "moved"}} {
		if d, err := c.ManifestDigest(ctx, ref[0], ref[1]); err != nil || d != digest {
			t.Fatalf("%s:%s = %s, %v", ref[0], ref[1], d, err)
		}
	}
	_, err = c.Retag(ctx, "ops/src", "missing", "ops/src", "x")
	wantErr(t, err, ocireg.ErrNotFound)
	_, err = c.Retag(ctx, "ops/src", "v1", "ops/src", "bad tag")
	wantErr(t, err, ocireg.ErrInvalidReference)
}

func TestTagsWithDigestsAndDeleteTag(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	v1, err := reg.AddImage("ops/app", "v1", []byte(imageConfig), []byte("one"))
	must(t, err)
	v2, err := reg.AddImage("ops/app", "v2", []byte(imageConfig), []byte("two"))
	must(t, err)
	c := newClient(t, reg.URL())
	tagged, err := c.Retag(ctx, "ops/app", "v1", "ops/app", "stable")
	must(t, err)
	tagged.Close()

	got, err := c.TagsWithDigests(ctx, "ops/app")
	must(t, err)
	want := map[string]string{"v1": v1, "v2": v2, "stable": v1}
	if len(got) != len(want) {
		t.Fatalf("tags with digests %v", got)
	}
	for _, td := range got {
		if want[td.Tag] != td.Digest {
			t.Fatalf("%s -> %s, want %s", td.Tag, td.Digest, want[td.Tag])
		}
	}
	_, err = c.TagsWithDigests(ctx, "no/such/repo")
	wantErr(t, err, ocireg.ErrNotFound)

	// Delete one tag, listing the others on the same manifest.
	deleted, err := c.DeleteTag(ctx, "ops/app", "stable", &ocireg.DeleteTagOptions{ListOtherTags: true})
	must(t, err)
	if deleted.Repository != "ops/app" || deleted.Tag != "stable" || deleted.Digest != v1 {
		t.Fatalf("deleted %+v", deleted)
	}
	if len(deleted.OtherTags) != 1 || deleted.OtherTags[0] != "v1" {
		t.Fatalf("other tags %v", deleted.OtherTags)
	}
	if !contains(deleted.RemovedTags, "stable") {
		t.Fatalf("removed tags %v", deleted.RemovedTags)
	}
	_, err = c.ManifestDigest(ctx, "ops/app", "stable")
	wantErr(t, err, ocireg.ErrNotFound)
	if deleted.ManifestDeleted {
		// Every tag on the manifest went with it.
		_, err = c.ManifestDigest(ctx, "ops/app", "v1")
		wantErr(t, err, ocireg.ErrNotFound)
	} else if d, err := c.ManifestDigest(ctx, "ops/app", "v1"); err != nil || d != v1 {
		t.Fatalf("v1 after deleting the tag stable alone: %s, %v", d, err)
	}

	// By digest straight away: the manifest goes, with every tag on it.
	deleted, err = c.DeleteTag(ctx, "ops/app", "v2", &ocireg.DeleteTagOptions{ByDigest: true})
	must(t, err)
	if !deleted.ManifestDeleted || deleted.Digest != v2 || deleted.OtherTags != nil {
		t.Fatalf("deleted by digest %+v", deleted)
	}
	_, err = c.Manifest(ctx, "ops/app", v2)
	wantErr(t, err, ocireg.ErrNotFound)

	_, err = c.DeleteTag(ctx, "ops/app", "never-there", nil)
	wantErr(t, err, ocireg.ErrNotFound)
	tags, err := c.Tags(ctx, "ops/app")
	must(t, err)
	sort.Strings(tags)
	if contains(tags, "v2") || contains(tags, "stable") {
		t.Fatalf("tags left %v", tags)
	}
}

func TestPlatformDescriptorAndSizes(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	index, amd64, arm64 := addIndex(t, reg, "ops/multi", "latest")
	c := newClient(t, reg.URL())

	d, err := c.PlatformDescriptor(ctx, "ops/multi", "latest", "linux/arm64/v8")
	must(t, err)
	if d.Digest != arm64 || d.MediaType != ociManifest || d.Size <= 0 || d.Platform == nil ||
		d.Platform.String() != "linux/arm64/v8" {
		t.Fatalf("arm64 descriptor %+v", d)
	}
	got, err := c.PlatformDigest(ctx, "ops/multi", index, "linux/amd64")
	must(t, err)
	if got != amd64 {
		t.Fatalf("amd64 digest %s, want %s", got, amd64)
	}
	// A plain manifest answers its own digest when its config matches.
	got, err = c.PlatformDigest(ctx, "ops/multi", "amd64-only", "linux/amd64")
	must(t, err)
	if got != amd64 {
		t.Fatalf("plain manifest: %s, want %s", got, amd64)
	}
	// Else ErrNotFound naming the platforms there are.
	_, err = c.PlatformDescriptor(ctx, "ops/multi", "latest", "windows/amd64")
	e := wantErr(t, err, ocireg.ErrNotFound)
	if !strings.Contains(e.Message, "linux/amd64") || !strings.Contains(e.Message, "linux/arm64") {
		t.Fatalf("not found without the platforms there are: %s", e.Message)
	}
	_, err = c.PlatformDescriptor(ctx, "ops/multi", "latest", "linux")
	if err == nil {
		t.Fatal("a malformed platform was accepted")
	}

	// Sizes: config + layers.
	m, err := c.Manifest(ctx, "ops/multi", arm64)
	must(t, err)
	image, layers, err := m.Sizes()
	must(t, err)
	var doc struct {
		Config struct{ Size int64 }
		Layers []struct{ Size int64 }
	}
	must(t, json.Unmarshal(m.Bytes, &doc))
	wantLayers := int64(len("arm64 layer") + len("arm64 second layer"))
	if layers != wantLayers || image != wantLayers+doc.Config.Size || doc.Config.Size == 0 {
		t.Fatalf("sizes %d %d, want %d + %d", image, layers, wantLayers, doc.Config.Size)
	}
	image2, layers2, err := ocireg.ManifestSizes(m.Bytes, "")
	must(t, err)
	if image2 != image || layers2 != layers {
		t.Fatal("ManifestSizes differs from Manifest.Sizes")
	}
	idx, err := c.Manifest(ctx, "ops/multi", "latest")
	must(t, err)
	_, _, err = idx.Sizes()
	wantErr(t, err, ocireg.ErrInvalidArgument)
	_, _, err = ocireg.ManifestSizes([]byte("not json"), "")
	if err == nil {
		t.Fatal("sizes of garbage")
	}

	size, err := c.ImageSize(ctx, "ops/multi", "latest", "linux/arm64/v8")
	must(t, err)
	if size != image {
		t.Fatalf("image size %d, want %d", size, image)
	}
	_, err = c.ImageSize(ctx, "ops/multi", "latest", "")
	wantErr(t, err, ocireg.ErrInvalidArgument)
	size, err = c.ImageSize(ctx, "ops/multi", "arm64-only", "")
	must(t, err)
	if size != image {
		t.Fatalf("image size of a plain manifest %d, want %d", size, image)
	}
}

func TestPullLayers(t *testing.T) {
	reg := startRegistry(t, ocireg.AuthNone, nil)
	layerA, layerB := []byte("layer A content"), bytes.Repeat([]byte("B"), 100_000)
	digest, err := reg.AddImage("ops/pull", "v1", []byte(imageConfig), layerA, layerB)
	must(t, err)
	c := newClient(t, reg.URL())
	dir := filepath.Join(t.TempDir(), "layers")

	var downloaded int
	pl, err := c.PullLayers(ctx, "ops/pull", "v1", dir, &ocireg.PullOptions{Threads: 2}, func(p ocireg.Progress) error {
		if p.Event == ocireg.ProgressDownloaded {
			downloaded++
		}
		return nil
	})
	must(t, err)
	if pl.Repository != "ops/pull" || pl.Digest != digest || pl.MediaType != ociManifest ||
		len(pl.Layers) != 2 || pl.Config.Digest == "" || downloaded != 2 {
		t.Fatalf("pulled %+v (%d downloaded)", pl, downloaded)
	}
	for i, want := range [][]byte{layerA, layerB} {
		l := pl.Layers[i]
		wantDigest := digestOf(want)
		if l.Digest != wantDigest || l.Size != int64(len(want)) || !l.Downloaded ||
			filepath.Base(l.Path) != strings.Replace(wantDigest, ":", "-", 1) {
			t.Fatalf("layer %d: %+v", i, l)
		}
		got, err := os.ReadFile(l.Path)
		must(t, err)
		if !bytes.Equal(got, want) {
			t.Fatalf("layer %d file differs", i)
		}
	}
	if pl.Stats.BlobsDownloaded != 2 || pl.Stats.BytesDownloaded != int64(len(layerA)+len(layerB)) {
		t.Fatalf("stats %+v", pl.Stats)
	}

	// Again: the files are there with the right digest, nothing is downloaded.
	pl, err = c.PullLayers(ctx, "ops/pull", "v1", dir, nil, nil)
	must(t, err)
	if pl.Layers[0].Downloaded || pl.Layers[1].Downloaded || pl.Stats.BlobsReused != 2 {
		t.Fatalf("second pull %+v", pl)
	}

	// An index: the platform picks the image.
	_, _, arm64 := addIndex(t, reg, "ops/pull", "multi")
	pl, err = c.PullLayers(ctx, "ops/pull", "multi", t.TempDir(), &ocireg.PullOptions{Platform: "linux/arm64/v8"}, nil)
	must(t, err)
	if pl.Digest != arm64 || len(pl.Layers) != 2 || pl.Platform == nil || pl.Platform.Architecture != "arm64" {
		t.Fatalf("arm64 layers %+v", pl)
	}

	_, err = c.PullLayers(ctx, "ops/pull", "nope", t.TempDir(), nil, nil)
	wantErr(t, err, ocireg.ErrNotFound)
}

func TestNameRegexps(t *testing.T) {
	for _, ok := range []string{"a", "team/app", "my_app__v2/x--y.z", "a/b/c"} {
		if !ocireg.RepositoryRegexp.MatchString(ok) {
			t.Errorf("repository %q refused", ok)
		}
	}
	for _, bad := range []string{"", "Team/App", "a//b", "/a", "a/", "-a", "a..b"} {
		if ocireg.RepositoryRegexp.MatchString(bad) {
			t.Errorf("repository %q accepted", bad)
		}
	}
	for _, ok := range []string{"v1", "latest", "_x", "v1.2.3-rc_1", strings.Repeat("t", 128)} {
		if !ocireg.TagRegexp.MatchString(ok) {
			t.Errorf("tag %q refused", ok)
		}
	}
	for _, bad := range []string{"", "-bad", ".bad", "a b", strings.Repeat("t", 129)} {
		if ocireg.TagRegexp.MatchString(bad) {
			t.Errorf("tag %q accepted", bad)
		}
	}
	if !ocireg.DigestRegexp.MatchString(digestOf([]byte("x"))) || ocireg.DigestRegexp.MatchString("sha256") ||
		ocireg.DigestRegexp.MatchString("SHA256:abc") {
		t.Error("digest regexp")
	}
}

func TestNewTestRegistryFitsGoTest(t *testing.T) {
	var reg *ocireg.TestRegistry
	t.Run("inner", func(t *testing.T) {
		reg = ocireg.NewTestRegistry(t, ocireg.AuthBasic, alice)
		c := newClient(t, reg.URL(), ocireg.WithBasicAuth("alice", "secret"))
		must(t, c.Ping(ctx))
	})
	// The inner test's cleanup stopped and freed it.
	if reg.URL() != "" {
		t.Fatal("the test registry outlived its test")
	}
	fake := &fakeTB{}
	func() {
		defer func() { recover() }() // fakeTB.Fatalf stops the goroutine as testing does
		ocireg.NewTestRegistry(fake, ocireg.AuthBasic, nil)
	}()
	if !strings.Contains(fake.fatal, "test registry") {
		t.Fatalf("a registry that cannot start did not fail the test: %q", fake.fatal)
	}
}

type fakeTB struct{ fatal string }

func (f *fakeTB) Helper()        {}
func (f *fakeTB) Cleanup(func()) {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = strings.TrimSpace(format)
	panic("fatal")
}
