package ocireg

/*
#include "ocireg.h"
*/
import "C"

import "unsafe"

// Image is an image (or an index with its child images) ready to push: its manifest bytes and
// where each blob comes from. Immutable and safe for concurrent use. Close it when done.
type Image struct {
	r cref[*C.ocireg_image]
}

func newImage(p *C.ocireg_image) *Image {
	img := &Image{}
	return wrap(img, &img.r, p, func(p *C.ocireg_image) { C.ocireg_image_free(p) }, (*Image).Close)
}

func (img *Image) ref() *cref[*C.ocireg_image] {
	if img == nil {
		return nil
	}
	return &img.r
}

// ImageFromLayout reads an image from the OCI image layout in directory dir: the manifest
// tagged tag (its org.opencontainers.image.ref.name, a full reference ending in ":tag", or a
// digest), or the only one when tag is "". Blobs stay on disk and are streamed when pushed.
func ImageFromLayout(dir, tag string) (*Image, error) {
	if abiErr != nil {
		return nil, abiErr
	}
	var a cargs
	defer a.free()
	cdir := a.str("layout directory", dir)
	ctag := a.opt("tag", tag)
	if a.err != nil {
		return nil, a.err
	}
	var p *C.ocireg_image
	var cerr *C.ocireg_error
	if err := check(C.ocireg_image_from_layout(cdir, ctag, &p, &cerr), cerr); err != nil {
		return nil, err
	}
	return newImage(p), nil
}

// Close frees the image. Closing twice is fine.
func (img *Image) Close() error { return img.ref().close(img) }

// Digest is the image's manifest digest ("sha256:…").
func (img *Image) Digest() string {
	p := img.ref().acquire()
	defer img.ref().release()
	return C.GoString(C.ocireg_image_digest(p))
}

// MediaType is the image's manifest media type.
func (img *Image) MediaType() string {
	p := img.ref().acquire()
	defer img.ref().release()
	return C.GoString(C.ocireg_image_media_type(p))
}

// Manifest is a copy of the image's manifest bytes, exactly as they will be pushed.
func (img *Image) Manifest() []byte {
	p := img.ref().acquire()
	defer img.ref().release()
	var n C.size_t
	data := C.ocireg_image_manifest(p, &n)
	if data == nil {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(data), C.int(n))
}

// ImageBuilder builds an image from a config blob and layers (bytes or files) with their media
// types, in the OCI image manifest format unless SetDockerSchema2(true). Its methods may be
// called from several goroutines (they are serialized). Close it when done.
type ImageBuilder struct {
	r cref[*C.ocireg_image_builder]
}

func (b *ImageBuilder) ref() *cref[*C.ocireg_image_builder] {
	if b == nil {
		return nil
	}
	return &b.r
}

// NewImageBuilder creates an empty image builder.
func NewImageBuilder() (*ImageBuilder, error) {
	if abiErr != nil {
		return nil, abiErr
	}
	var p *C.ocireg_image_builder
	var cerr *C.ocireg_error
	if err := check(C.ocireg_image_builder_new(&p, &cerr), cerr); err != nil {
		return nil, err
	}
	b := &ImageBuilder{}
	free := func(p *C.ocireg_image_builder) { C.ocireg_image_builder_free(p) }
	return wrap(b, &b.r, p, free, (*ImageBuilder).Close), nil
}

// Close frees the builder (images it built live on). Closing twice is fine.
func (b *ImageBuilder) Close() error { return b.ref().close(b) }

// set runs one setter with the builder held exclusively (setters mutate it).
func (b *ImageBuilder) set(f func(p *C.ocireg_image_builder, cerr **C.ocireg_error) C.ocireg_status) error {
	p := b.ref().acquireExclusive()
	defer b.ref().releaseExclusive()
	var cerr *C.ocireg_error
	return check(f(p, &cerr), cerr)
}

// SetConfig sets the config blob (JSON bytes). mediaType "" is the OCI image config type (or
// Docker's, with SetDockerSchema2(true)). Required before Build.
func (b *ImageBuilder) SetConfig(config []byte, mediaType string) error {
	var a cargs
	defer a.free()
	cmt := a.opt("media type", mediaType)
	if a.err != nil {
		return a.err
	}
	return b.set(func(p *C.ocireg_image_builder, cerr **C.ocireg_error) C.ocireg_status {
		return C.ocireg_image_builder_set_config(p, bytesIn(config), C.size_t(len(config)), cmt, cerr)
	})
}

// AddLayer adds a layer held in memory (copied), e.g. of media type
// "application/vnd.oci.image.layer.v1.tar+gzip".
func (b *ImageBuilder) AddLayer(data []byte, mediaType string) error {
	var a cargs
	defer a.free()
	cmt := a.str("media type", mediaType)
	if a.err != nil {
		return a.err
	}
	return b.set(func(p *C.ocireg_image_builder, cerr **C.ocireg_error) C.ocireg_status {
		return C.ocireg_image_builder_add_layer_bytes(p, bytesIn(data), C.size_t(len(data)), cmt, cerr)
	})
}

// AddLayerFile adds a layer read from the file path; it is hashed by Build and streamed when
// pushed (never loaded into memory).
func (b *ImageBuilder) AddLayerFile(path, mediaType string) error {
	var a cargs
	defer a.free()
	cpath := a.str("path", path)
	cmt := a.str("media type", mediaType)
	if a.err != nil {
		return a.err
	}
	return b.set(func(p *C.ocireg_image_builder, cerr **C.ocireg_error) C.ocireg_status {
		return C.ocireg_image_builder_add_layer_file(p, cpath, cmt, cerr)
	})
}

// AddAnnotation adds a manifest annotation (OCI format only).
func (b *ImageBuilder) AddAnnotation(key, value string) error {
	var a cargs
	defer a.free()
	ckey := a.str("annotation key", key)
	cval := a.str("annotation value", value)
	if a.err != nil {
		return a.err
	}
	return b.set(func(p *C.ocireg_image_builder, cerr **C.ocireg_error) C.ocireg_status {
		return C.ocireg_image_builder_add_annotation(p, ckey, cval, cerr)
	})
}

// SetArtifactType sets the manifest's artifactType (OCI format only).
func (b *ImageBuilder) SetArtifactType(mediaType string) error {
	var a cargs
	defer a.free()
	cmt := a.str("artifact type", mediaType)
	if a.err != nil {
		return a.err
	}
	return b.set(func(p *C.ocireg_image_builder, cerr **C.ocireg_error) C.ocireg_status {
		return C.ocireg_image_builder_set_artifact_type(p, cmt, cerr)
	})
}

// SetDockerSchema2 true writes a Docker image manifest, schema 2 (OCI config and layer media
// types mapped to Docker's); false an OCI image manifest (the default).
func (b *ImageBuilder) SetDockerSchema2(on bool) error {
	return b.set(func(p *C.ocireg_image_builder, cerr **C.ocireg_error) C.ocireg_status {
		return C.ocireg_image_builder_set_docker_schema2(p, cbool(on), cerr)
	})
}

// Build builds the image: hashes the layer files and serializes the manifest. The builder is
// left as it was, to build again or be changed.
func (b *ImageBuilder) Build() (*Image, error) {
	p := b.ref().acquire()
	defer b.ref().release()
	var out *C.ocireg_image
	var cerr *C.ocireg_error
	if err := check(C.ocireg_image_builder_build(p, &out, &cerr), cerr); err != nil {
		return nil, err
	}
	return newImage(out), nil
}
