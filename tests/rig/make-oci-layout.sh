#!/usr/bin/env bash
# Builds a tiny single-layer OCI image layout offline, with nothing but shell tools.
#
#   bash tests/rig/make-oci-layout.sh DIR [TAG] [TEXT]
#
# DIR gets oci-layout, index.json (one manifest, ref.name TAG, default "latest") and
# blobs/sha256/{layer (tar+gzip), config, manifest}. TEXT (default "hello from the ocireg rig")
# goes into /hello.txt in the layer, so different TEXTs give different digests.
# Prints the manifest digest on stdout. Usable as `skopeo copy oci:DIR:TAG docker://...`.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 DIR [TAG] [TEXT]" >&2; exit 2; }
dir="$1"
tag="${2:-latest}"
text="${3:-hello from the ocireg rig}"

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { wc -c <"$1" | tr -d ' '; }

mkdir -p "$dir/blobs/sha256"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/root"
printf '%s\n' "$text" >"$work/root/hello.txt"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work/root" -cf "$work/layer.tar" hello.txt
gzip -n -c "$work/layer.tar" >"$work/layer.tar.gz"
diff_id="$(sha "$work/layer.tar")"
layer_digest="$(sha "$work/layer.tar.gz")"
layer_size="$(size "$work/layer.tar.gz")"
cp "$work/layer.tar.gz" "$dir/blobs/sha256/$layer_digest"

printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/hello.txt"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"ocireg rig make-oci-layout.sh"}]}' \
    "$diff_id" >"$work/config.json"
config_digest="$(sha "$work/config.json")"
config_size="$(size "$work/config.json")"
cp "$work/config.json" "$dir/blobs/sha256/$config_digest"

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
manifest_digest="$(sha "$work/manifest.json")"
manifest_size="$(size "$work/manifest.json")"
cp "$work/manifest.json" "$dir/blobs/sha256/$manifest_digest"

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest_digest" "$manifest_size" "$tag" >"$dir/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"

echo "sha256:$manifest_digest"
