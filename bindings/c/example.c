/*
 * A small tour of the ocireg C ABI: start the in-memory test registry, push a tiny image
 * (two blobs and a manifest), list the tags, fetch the manifest back and print it.
 *
 *   cargo cinstall --release --features capi,test-server --prefix="$HOME/.local" --libdir=lib
 *   cc example.c $(PKG_CONFIG_PATH="$HOME/.local/lib/pkgconfig" pkg-config --cflags --libs ocireg)
 *   LD_LIBRARY_PATH="$HOME/.local/lib" ./a.out
 *
 * (bindings/c/run.sh does this, plus ASan, UBSan and valgrind runs.)
 *
 * Every fallible call returns an ocireg_status and, on failure, hands back an ocireg_error
 * that the caller frees. Everything the library allocates has a matching _free.
 */
#include <stdio.h>
#include <string.h>

#include "ocireg.h"

/* Prints the error (if any), frees it, and returns non-zero on failure. */
static int failed(ocireg_status st, ocireg_error *err, const char *what) {
    if (st == OCIREG_OK) {
        return 0;
    }
    fprintf(stderr, "%s failed: %s (%s)\n", what, ocireg_error_message(err), ocireg_status_name((uint32_t)st));
    ocireg_error_free(err);
    return 1;
}

int main(void) {
    ocireg_error *err = NULL;
    ocireg_test_registry *reg = NULL;
    ocireg_options *opts = NULL;
    ocireg_client *client = NULL;
    ocireg_string_list *tags = NULL;
    char *config_digest = NULL, *layer_digest = NULL, *digest = NULL, *media_type = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = 1;

    printf("ocireg %s (ABI %u)\n", ocireg_version(), ocireg_abi_version());
    if (ocireg_abi_version() != OCIREG_ABI_VERSION) {
        fprintf(stderr, "header and library disagree on the ABI version\n");
        return 1;
    }

    /* 1. A registry of our own, with Basic authentication. */
    if (failed(ocireg_test_registry_start(OCIREG_TEST_AUTH_BASIC, "alice:s3cret", &reg, &err), err, "start"))
        goto out;
    printf("registry at %s\n", ocireg_test_registry_url(reg));

    /* 2. A client with explicit credentials. */
    if (failed(ocireg_options_new(&opts, &err), err, "options") ||
        failed(ocireg_options_set_username_password(opts, "alice", "s3cret", &err), err, "credentials") ||
        failed(ocireg_options_set_user_agent(opts, "ocireg-example/1.0", &err), err, "user agent") ||
        failed(ocireg_client_new(ocireg_test_registry_url(reg), opts, &client, &err), err, "client"))
        goto out;
    if (failed(ocireg_ping(client, &err), err, "ping"))
        goto out;

    /* 3. Push a tiny image: the config and the layer, then the manifest that names them. */
    static const char config[] = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
    static const char layer[] = "hello from a layer";
    if (failed(ocireg_blob_push_bytes(client, "demo/hello", (const uint8_t *)config, sizeof config - 1,
                                      &config_digest, &err), err, "push config") ||
        failed(ocireg_blob_push_bytes(client, "demo/hello", (const uint8_t *)layer, sizeof layer - 1,
                                      &layer_digest, &err), err, "push layer"))
        goto out;
    char manifest[1024];
    int n = snprintf(manifest, sizeof manifest,
                     "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                     "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
                     "\"digest\":\"%s\",\"size\":%zu},"
                     "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                     "\"digest\":\"%s\",\"size\":%zu}]}",
                     config_digest, sizeof config - 1, layer_digest, sizeof layer - 1);
    if (n < 0 || (size_t)n >= sizeof manifest)
        goto out;
    if (failed(ocireg_manifest_put(client, "demo/hello", "v1", NULL, (const uint8_t *)manifest, (size_t)n,
                                   &digest, &err), err, "push manifest"))
        goto out;
    printf("pushed demo/hello:v1 = %s\n", digest);

    /* 4. List the tags. */
    if (failed(ocireg_tags(client, "demo/hello", &tags, &err), err, "tags"))
        goto out;
    for (size_t i = 0; i < ocireg_string_list_len(tags); i++) {
        printf("tag: %s\n", ocireg_string_list_get(tags, i));
    }

    /* 5. Fetch the manifest back (digest-verified). */
    if (failed(ocireg_manifest_get(client, "demo/hello", "v1", &bytes, &len, &media_type, NULL, &err), err,
               "get manifest"))
        goto out;
    printf("manifest (%s, %zu bytes):\n%.*s\n", media_type, len, (int)len, (const char *)bytes);

    /* 6. What an error looks like. */
    ocireg_string_list *none = NULL;
    ocireg_status st = ocireg_tags(client, "demo/missing", &none, &err);
    printf("tags of demo/missing: %s, HTTP %u, code %s: %s\n", ocireg_status_name((uint32_t)st),
           (unsigned)ocireg_error_http_status(err),
           ocireg_error_registry_code(err) ? ocireg_error_registry_code(err) : "-", ocireg_error_message(err));
    ocireg_error_free(err);
    err = NULL;

    printf("%llu requests sent\n", (unsigned long long)ocireg_client_request_count(client));
    rc = 0;

out:
    ocireg_bytes_free(bytes, len);
    ocireg_string_free(media_type);
    ocireg_string_free(digest);
    ocireg_string_free(layer_digest);
    ocireg_string_free(config_digest);
    ocireg_string_list_free(tags);
    ocireg_client_free(client);
    ocireg_options_free(opts);
    ocireg_test_registry_free(reg);
    return rc;
}
