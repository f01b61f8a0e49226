/*
 * C test program for the ocireg C ABI: exercises every exported function, success and error
 * paths (NULL arguments, invalid UTF-8, bad references, wrong passwords, registry errors), against
 * the library's own in-memory test registry. Prints "N passed, M failed" last; exits 1 on any
 * failure. Built and run by bindings/c/run.sh (ASan + UBSan, then valgrind).
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocireg.h"

static int g_passed;
static int g_failed;

static void check(int ok, const char *what, int line) {
    if (ok) {
        g_passed++;
    } else {
        g_failed++;
        fprintf(stderr, "FAIL line %d: %s\n", line, what);
    }
}
#define CHECK(cond) check(!!(cond), #cond, __LINE__)

/* Checks a status and the error object that came with it, then frees the error. Every test
 * function declares `ocireg_error *err = NULL;` and passes `&err` to the call. */
static void expect_status(ocireg_status got, ocireg_status want, ocireg_error **err,
                          const char *what, int line) {
    int ok = got == want;
    if (want == OCIREG_OK) {
        ok = ok && *err == NULL;
    } else {
        ok = ok && *err != NULL && ocireg_error_status(*err) == want &&
             ocireg_error_message(*err) != NULL && ocireg_error_message(*err)[0] != '\0';
    }
    if (ok) {
        g_passed++;
    } else {
        g_failed++;
        fprintf(stderr, "FAIL line %d: %s\n  want %s, got %s: %s\n", line, what,
                ocireg_status_name((uint32_t)want), ocireg_status_name((uint32_t)got),
                *err ? ocireg_error_message(*err) : "(no error object)");
    }
    ocireg_error_free(*err);
    *err = NULL;
}
#define EXPECT(want, call) expect_status((call), (want), &err, #call, __LINE__)

static int streq(const char *a, const char *b) { return a != NULL && b != NULL && strcmp(a, b) == 0; }

static int list_contains(const ocireg_string_list *list, const char *s) {
    for (size_t i = 0; i < ocireg_string_list_len(list); i++) {
        if (streq(ocireg_string_list_get(list, i), s)) {
            return 1;
        }
    }
    return 0;
}

/* Not UTF-8: a Latin-1 e-acute. */
static const char BAD_UTF8[] = {'c', 'a', 'f', (char)0xe9, '\0'};

/* A client for `url` with explicit credentials (user NULL: anonymous) and no retries. */
static ocireg_client *make_client(const char *url, const char *user, const char *password) {
    ocireg_error *err = NULL;
    ocireg_options *opts = NULL;
    ocireg_client *client = NULL;
    EXPECT(OCIREG_OK, ocireg_options_new(&opts, &err));
    if (user) {
        EXPECT(OCIREG_OK, ocireg_options_set_username_password(opts, user, password, &err));
    } else {
        EXPECT(OCIREG_OK, ocireg_options_set_anonymous(opts, &err));
    }
    EXPECT(OCIREG_OK, ocireg_options_set_max_retries(opts, 0, &err));
    EXPECT(OCIREG_OK, ocireg_client_new(url, opts, &client, &err));
    ocireg_options_free(opts);
    return client;
}

/* ---------------------------------------------------------------- versions, errors, memory */

static void test_versions_and_statuses(void) {
    CHECK(ocireg_abi_version() == OCIREG_ABI_VERSION);
    CHECK(ocireg_version() != NULL && strlen(ocireg_version()) > 0);
    CHECK(streq(ocireg_status_name(OCIREG_OK), "OCIREG_OK"));
    CHECK(streq(ocireg_status_name(OCIREG_NOT_FOUND), "OCIREG_NOT_FOUND"));
    CHECK(streq(ocireg_status_name(OCIREG_PANIC), "OCIREG_PANIC"));
    CHECK(streq(ocireg_status_name(12345), "OCIREG_UNKNOWN_STATUS"));
    CHECK(OCIREG_OK == 0 && OCIREG_INVALID_ARGUMENT == 1 && OCIREG_VERIFY_FAILED == 16 &&
          OCIREG_PANIC == 99);
}

static void test_null_safety_of_accessors_and_frees(void) {
    CHECK(ocireg_error_status(NULL) == OCIREG_INVALID_ARGUMENT);
    CHECK(ocireg_error_message(NULL) == NULL);
    CHECK(ocireg_error_http_status(NULL) == 0);
    CHECK(ocireg_error_registry_code(NULL) == NULL);
    CHECK(ocireg_error_retry_after_secs(NULL) == -1);
    CHECK(ocireg_string_list_len(NULL) == 0);
    CHECK(ocireg_string_list_get(NULL, 0) == NULL);
    CHECK(ocireg_client_registry(NULL) == NULL);
    CHECK(ocireg_client_base_url(NULL) == NULL);
    CHECK(ocireg_client_credential_source(NULL) == NULL);
    CHECK(ocireg_client_request_count(NULL) == 0);
    CHECK(ocireg_test_registry_url(NULL) == NULL);
    CHECK(ocireg_test_registry_host(NULL) == NULL);
    CHECK(ocireg_test_registry_request_count(NULL) == 0);
    ocireg_error_free(NULL);
    ocireg_string_free(NULL);
    ocireg_bytes_free(NULL, 0);
    ocireg_bytes_free(NULL, 42);
    ocireg_string_list_free(NULL);
    ocireg_options_free(NULL);
    ocireg_client_free(NULL);
    ocireg_test_registry_free(NULL);
    CHECK(1); /* reached without crashing */
}

/* ---------------------------------------------------------------- options */

static void test_options(void) {
    ocireg_error *err = NULL;
    ocireg_options *opts = NULL;

    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_new(NULL, &err));
    EXPECT(OCIREG_OK, ocireg_options_new(&opts, &err));
    CHECK(opts != NULL);

    EXPECT(OCIREG_OK, ocireg_options_set_username_password(opts, "alice", "secret", &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_username_password(opts, NULL, "x", &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_username_password(opts, "x", NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_username_password(opts, BAD_UTF8, "x", &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_username_password(NULL, "a", "b", &err));
    EXPECT(OCIREG_OK, ocireg_options_set_identity_token(opts, "refresh-token", &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_identity_token(opts, NULL, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_bearer_token(opts, "token", &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_bearer_token(opts, BAD_UTF8, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_anonymous(opts, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_anonymous(NULL, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_docker_config(opts, "/nonexistent/config.json", &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_docker_config(opts, "", &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_docker_config(opts, NULL, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_user_agent(opts, "ocireg-c-test/1.0", &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_user_agent(opts, "a\r\nX-Evil: 1", &err));
    EXPECT(OCIREG_OK, ocireg_options_set_timeout_ms(opts, OCIREG_TIMEOUT_CONNECT, 5000, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_timeout_ms(opts, OCIREG_TIMEOUT_RESPONSE, 5000, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_timeout_ms(opts, OCIREG_TIMEOUT_READ, 5000, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_timeout_ms(opts, OCIREG_TIMEOUT_WRITE, 5000, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_timeout_ms(opts, OCIREG_TIMEOUT_OVERALL, 0, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_timeout_ms(opts, 5, 10, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_ca_cert_pem(opts, NULL, 10, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_ca_cert_pem(opts, NULL, 0, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT,
           ocireg_options_set_client_cert_pem(opts, (const uint8_t *)"x", 1, NULL, 0, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_insecure(opts, 1, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_insecure(opts, 0, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_proxy(opts, "http://127.0.0.1:3128", &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_proxy(opts, "", &err));
    EXPECT(OCIREG_OK, ocireg_options_set_proxy_from_env(opts, 0, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_max_retries(opts, 5, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_max_retries(NULL, 5, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_low_speed_limit(opts, 2048, 10000, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_low_speed_limit(opts, 0, 0, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_low_speed_limit(NULL, 1, 1, &err));

    /* err may be NULL: the status alone comes back. */
    CHECK(ocireg_options_set_user_agent(opts, NULL, NULL) == OCIREG_INVALID_ARGUMENT);

    /* A CA "certificate" that is not PEM, and a bad client certificate: OCIREG_TLS at build. */
    ocireg_client *client = NULL;
    ocireg_options *tls = NULL;
    EXPECT(OCIREG_OK, ocireg_options_new(&tls, &err));
    static const char junk[] = "not a certificate";
    EXPECT(OCIREG_OK, ocireg_options_set_ca_cert_pem(tls, (const uint8_t *)junk, sizeof junk - 1, &err));
    EXPECT(OCIREG_TLS, ocireg_client_new("https://127.0.0.1:1", tls, &client, &err));
    CHECK(client == NULL);
    ocireg_options_free(tls);
    EXPECT(OCIREG_OK, ocireg_options_new(&tls, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_client_cert_pem(tls, (const uint8_t *)junk, sizeof junk - 1,
                                                         (const uint8_t *)junk, sizeof junk - 1, &err));
    EXPECT(OCIREG_TLS, ocireg_client_new("https://127.0.0.1:1", tls, &client, &err));
    CHECK(client == NULL);
    ocireg_options_free(tls);

    /* A malformed proxy URL is refused when the client is built. */
    EXPECT(OCIREG_OK, ocireg_options_new(&tls, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_proxy(tls, "::not a url::", &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_client_new("127.0.0.1:1", tls, &client, &err));
    CHECK(client == NULL);
    ocireg_options_free(tls);

    ocireg_options_free(opts);
}

/* ---------------------------------------------------------------- client */

static void test_client_new(const char *url, const char *host) {
    ocireg_error *err = NULL;
    ocireg_client *client = NULL;

    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_client_new(NULL, NULL, &client, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_client_new(BAD_UTF8, NULL, &client, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_client_new(url, NULL, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_client_new("ftp://example.com", NULL, &client, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_client_new("host:99999", NULL, &client, &err));
    CHECK(client == NULL);

    /* Options may be NULL (defaults); the registry is not contacted. */
    EXPECT(OCIREG_OK, ocireg_client_new("registry.example.com", NULL, &client, &err));
    CHECK(streq(ocireg_client_registry(client), "registry.example.com"));
    CHECK(streq(ocireg_client_base_url(client), "https://registry.example.com"));
    CHECK(ocireg_client_credential_source(client) != NULL);
    CHECK(ocireg_client_request_count(client) == 0);
    ocireg_client_free(client);
    client = NULL;

    EXPECT(OCIREG_OK, ocireg_client_new("docker.io", NULL, &client, &err));
    CHECK(streq(ocireg_client_base_url(client), "https://registry-1.docker.io"));
    ocireg_client_free(client);

    client = make_client(url, NULL, NULL);
    CHECK(streq(ocireg_client_registry(client), host));
    CHECK(streq(ocireg_client_base_url(client), url));
    CHECK(streq(ocireg_client_credential_source(client), "anonymous"));
    EXPECT(OCIREG_OK, ocireg_ping(client, &err));
    CHECK(ocireg_client_request_count(client) >= 1);
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_ping(NULL, &err));
    CHECK(ocireg_ping(NULL, NULL) == OCIREG_INVALID_ARGUMENT);
    ocireg_client_free(client);
}

/* ---------------------------------------------------------------- listing */

static void test_listing(const char *url) {
    ocireg_error *err = NULL;
    ocireg_client *client = make_client(url, NULL, NULL);
    ocireg_string_list *list = NULL;

    EXPECT(OCIREG_OK, ocireg_tags(client, "team/app", &list, &err));
    CHECK(ocireg_string_list_len(list) == 2);
    CHECK(list_contains(list, "v1") && list_contains(list, "v2"));
    CHECK(ocireg_string_list_get(list, 2) == NULL);
    CHECK(ocireg_string_list_get(list, (size_t)-1) == NULL);
    ocireg_string_list_free(list);
    list = NULL;

    ocireg_string_list *untouched = (ocireg_string_list *)&err; /* a sentinel, never freed */
    list = untouched;
    EXPECT(OCIREG_NOT_FOUND, ocireg_tags(client, "no/such/repo", &list, &err));
    CHECK(list == untouched); /* outputs are written only on success */
    EXPECT(OCIREG_INVALID_REFERENCE, ocireg_tags(client, "Bad/UPPER", &list, &err));
    EXPECT(OCIREG_INVALID_REFERENCE, ocireg_tags(client, "", &list, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_tags(client, BAD_UTF8, &list, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_tags(client, NULL, &list, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_tags(client, "team/app", NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_tags(NULL, "team/app", &list, &err));
    CHECK(list == untouched);
    list = NULL;

    /* The error object's details for a 404 with an OCI error body. */
    ocireg_status st = ocireg_tags(client, "no/such/repo", &list, &err);
    CHECK(st == OCIREG_NOT_FOUND);
    CHECK(ocireg_error_http_status(err) == 404);
    CHECK(streq(ocireg_error_registry_code(err), "NAME_UNKNOWN"));
    CHECK(ocireg_error_retry_after_secs(err) == -1);
    CHECK(strstr(ocireg_error_message(err), "no/such/repo") != NULL);
    ocireg_error_free(err);
    err = NULL;

    EXPECT(OCIREG_OK, ocireg_catalog(client, &list, &err));
    CHECK(list_contains(list, "team/app") && list_contains(list, "team/other") &&
          list_contains(list, "library/base"));
    ocireg_string_list_free(list);
    list = NULL;
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_catalog(client, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_catalog(NULL, &list, &err));

    EXPECT(OCIREG_OK, ocireg_search(client, "team/", &list, &err));
    CHECK(list_contains(list, "team/app") && list_contains(list, "team/other") &&
          !list_contains(list, "library/base"));
    ocireg_string_list_free(list);
    list = NULL;
    EXPECT(OCIREG_OK, ocireg_search(client, "zzz-nothing", &list, &err));
    CHECK(list != NULL && ocireg_string_list_len(list) == 0);
    ocireg_string_list_free(list);
    list = NULL;
    EXPECT(OCIREG_OK, ocireg_search(client, "", &list, &err));
    CHECK(ocireg_string_list_len(list) >= 3);
    ocireg_string_list_free(list);
    list = NULL;
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_search(client, NULL, &list, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_search(client, BAD_UTF8, &list, &err));

    /* By page: one tag at a time, following the cursor. */
    char *next = NULL;
    EXPECT(OCIREG_OK, ocireg_tags_page(client, "team/app", 1, NULL, &list, &next, &err));
    CHECK(ocireg_string_list_len(list) == 1 && streq(ocireg_string_list_get(list, 0), "v1"));
    CHECK(streq(next, "v1"));
    ocireg_string_list_free(list);
    list = NULL;
    char *next2 = NULL;
    EXPECT(OCIREG_OK, ocireg_tags_page(client, "team/app", 1, next, &list, &next2, &err));
    CHECK(ocireg_string_list_len(list) == 1 && streq(ocireg_string_list_get(list, 0), "v2"));
    ocireg_string_list_free(list);
    list = NULL;
    ocireg_string_free(next);
    ocireg_string_free(next2);
    next = NULL;
    EXPECT(OCIREG_OK, ocireg_tags_page(client, "team/app", 0, NULL, &list, &next, &err));
    CHECK(ocireg_string_list_len(list) == 2 && next == NULL);
    ocireg_string_list_free(list);
    list = NULL;
    EXPECT(OCIREG_OK, ocireg_tags_page(client, "team/app", 0, NULL, &list, NULL, &err));
    ocireg_string_list_free(list);
    list = NULL;
    EXPECT(OCIREG_NOT_FOUND, ocireg_tags_page(client, "no/such/repo", 10, NULL, &list, &next, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_tags_page(client, "team/app", 10, BAD_UTF8, &list, &next, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_tags_page(client, "team/app", 10, NULL, NULL, &next, &err));
    EXPECT(OCIREG_OK, ocireg_catalog_page(client, 2, NULL, &list, &next, &err));
    CHECK(ocireg_string_list_len(list) == 2 && next != NULL);
    ocireg_string_list_free(list);
    list = NULL;
    EXPECT(OCIREG_OK, ocireg_catalog_page(client, 100, next, &list, NULL, &err));
    CHECK(ocireg_string_list_len(list) >= 1);
    ocireg_string_list_free(list);
    list = NULL;
    ocireg_string_free(next);
    next = NULL;
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_catalog_page(NULL, 2, NULL, &list, &next, &err));

    ocireg_client_free(client);
}

/* ---------------------------------------------------------------- manifests */

static void test_manifests(const ocireg_test_registry *reg, const char *url, const char *v1_digest) {
    ocireg_error *err = NULL;
    ocireg_client *client = make_client(url, NULL, NULL);
    uint8_t *bytes = NULL;
    size_t len = 0;
    char *media_type = NULL;
    char *digest = NULL;

    EXPECT(OCIREG_OK, ocireg_manifest_get(client, "team/app", "v1", &bytes, &len, &media_type, &digest, &err));
    CHECK(bytes != NULL && len > 0 && bytes[0] == '{');
    CHECK(streq(media_type, "application/vnd.oci.image.manifest.v1+json"));
    CHECK(streq(digest, v1_digest));
    ocireg_bytes_free(bytes, len);
    ocireg_string_free(media_type);

    /* By digest and by tag@digest; the optional outputs may be NULL. */
    bytes = NULL;
    EXPECT(OCIREG_OK, ocireg_manifest_get(client, "team/app", digest, &bytes, &len, NULL, NULL, &err));
    CHECK(bytes != NULL && len > 0);
    ocireg_bytes_free(bytes, len);
    char ref[256];
    snprintf(ref, sizeof ref, "v1@%s", digest);
    bytes = NULL;
    EXPECT(OCIREG_OK, ocireg_manifest_get(client, "team/app", ref, &bytes, &len, NULL, NULL, &err));
    ocireg_bytes_free(bytes, len);
    bytes = NULL;
    /* tag@digest where the digest is not the tag's: a digest mismatch. */
    snprintf(ref, sizeof ref, "v1@sha256:%064d", 0);
    EXPECT(OCIREG_DIGEST_MISMATCH, ocireg_manifest_get(client, "team/app", ref, &bytes, &len, NULL, NULL, &err));
    CHECK(bytes == NULL);

    char *d2 = NULL;
    EXPECT(OCIREG_OK, ocireg_manifest_digest(client, "team/app", "v1", &d2, &err));
    CHECK(streq(d2, digest));
    ocireg_string_free(d2);
    d2 = NULL;
    EXPECT(OCIREG_NOT_FOUND, ocireg_manifest_digest(client, "team/app", "nope", &d2, &err));
    EXPECT(OCIREG_INVALID_REFERENCE, ocireg_manifest_digest(client, "team/app", "-bad-tag", &d2, &err));
    EXPECT(OCIREG_INVALID_REFERENCE, ocireg_manifest_digest(client, "team/app", "sha256:short", &d2, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_manifest_digest(client, "team/app", "v1", NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_manifest_digest(client, "team/app", BAD_UTF8, &d2, &err));
    CHECK(d2 == NULL);

    ocireg_status st = ocireg_manifest_get(client, "team/app", "nope", &bytes, &len, NULL, NULL, &err);
    CHECK(st == OCIREG_NOT_FOUND);
    CHECK(ocireg_error_http_status(err) == 404);
    CHECK(streq(ocireg_error_registry_code(err), "MANIFEST_UNKNOWN"));
    ocireg_error_free(err);
    err = NULL;
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_manifest_get(client, "team/app", "v1", NULL, &len, NULL, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_manifest_get(client, "team/app", "v1", &bytes, NULL, NULL, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_manifest_get(client, NULL, "v1", &bytes, &len, NULL, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_manifest_get(client, "team/app", NULL, &bytes, &len, NULL, NULL, &err));

    /* Put: blobs first (through the test registry), then the manifest, media type detected. */
    static const char config[] = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
    static const char layer[] = "pretend this is a gzipped tarball";
    char *config_digest = NULL;
    char *layer_digest = NULL;
    EXPECT(OCIREG_OK, ocireg_test_registry_add_blob(reg, "team/pushed", (const uint8_t *)config,
                                                    sizeof config - 1, &config_digest, &err));
    EXPECT(OCIREG_OK, ocireg_test_registry_add_blob(reg, "team/pushed", (const uint8_t *)layer,
                                                    sizeof layer - 1, &layer_digest, &err));
    char manifest[1024];
    int n = snprintf(manifest, sizeof manifest,
                     "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                     "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
                     "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":%zu}]}",
                     config_digest, sizeof config - 1, layer_digest, sizeof layer - 1);
    CHECK(n > 0 && (size_t)n < sizeof manifest);
    char *put_digest = NULL;
    EXPECT(OCIREG_OK, ocireg_manifest_put(client, "team/pushed", "v1", NULL, (const uint8_t *)manifest,
                                          (size_t)n, &put_digest, &err));
    CHECK(put_digest != NULL && strncmp(put_digest, "sha256:", 7) == 0);
    EXPECT(OCIREG_OK, ocireg_manifest_put(client, "team/pushed", "v2",
                                          "application/vnd.oci.image.manifest.v1+json",
                                          (const uint8_t *)manifest, (size_t)n, NULL, &err));
    /* By digest. */
    EXPECT(OCIREG_OK, ocireg_manifest_put(client, "team/pushed", put_digest, NULL, (const uint8_t *)manifest,
                                          (size_t)n, NULL, &err));
    /* A media type that contradicts the manifest's, not JSON, a wrong digest, missing blobs. */
    EXPECT(OCIREG_INVALID_ARGUMENT,
           ocireg_manifest_put(client, "team/pushed", "v3", "application/vnd.oci.image.index.v1+json",
                               (const uint8_t *)manifest, (size_t)n, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT,
           ocireg_manifest_put(client, "team/pushed", "v3", NULL, (const uint8_t *)"nope", 4, NULL, &err));
    snprintf(ref, sizeof ref, "sha256:%064d", 0);
    EXPECT(OCIREG_DIGEST_MISMATCH, ocireg_manifest_put(client, "team/pushed", ref, NULL,
                                                       (const uint8_t *)manifest, (size_t)n, NULL, &err));
    st = ocireg_manifest_put(client, "team/missing", "v1", NULL, (const uint8_t *)manifest, (size_t)n, NULL, &err);
    CHECK(st == OCIREG_REGISTRY || st == OCIREG_NOT_FOUND);
    CHECK(ocireg_error_http_status(err) >= 400);
    CHECK(ocireg_error_registry_code(err) != NULL);
    ocireg_error_free(err);
    err = NULL;
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_manifest_put(client, "team/pushed", "v3", NULL, NULL, 10, NULL, &err));
    EXPECT(OCIREG_INVALID_REFERENCE, ocireg_manifest_put(client, "team/pushed", "bad tag", NULL,
                                                         (const uint8_t *)manifest, (size_t)n, NULL, &err));

    ocireg_string_list *tags = NULL;
    EXPECT(OCIREG_OK, ocireg_tags(client, "team/pushed", &tags, &err));
    CHECK(ocireg_string_list_len(tags) == 2 && list_contains(tags, "v1") && list_contains(tags, "v2"));
    ocireg_string_list_free(tags);

    /* The fetched bytes are exactly the pushed ones. */
    bytes = NULL;
    EXPECT(OCIREG_OK, ocireg_manifest_get(client, "team/pushed", "v2", &bytes, &len, NULL, NULL, &err));
    CHECK(len == (size_t)n && bytes != NULL && memcmp(bytes, manifest, len) == 0);
    ocireg_bytes_free(bytes, len);

    /* Delete by digest: every tag goes. */
    EXPECT(OCIREG_INVALID_REFERENCE, ocireg_manifest_delete(client, "team/pushed", "v1", &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_manifest_delete(client, "team/pushed", NULL, &err));
    EXPECT(OCIREG_OK, ocireg_manifest_delete(client, "team/pushed", put_digest, &err));
    bytes = NULL;
    EXPECT(OCIREG_NOT_FOUND, ocireg_manifest_get(client, "team/pushed", "v1", &bytes, &len, NULL, NULL, &err));
    EXPECT(OCIREG_NOT_FOUND, ocireg_manifest_delete(client, "team/pushed", put_digest, &err));

    ocireg_string_free(put_digest);
    ocireg_string_free(config_digest);
    ocireg_string_free(layer_digest);
    ocireg_string_free(digest);
    ocireg_client_free(client);
}

/* ---------------------------------------------------------------- auth */

static void test_auth(uint32_t mode) {
    ocireg_error *err = NULL;
    ocireg_test_registry *reg = NULL;
    EXPECT(OCIREG_OK, ocireg_test_registry_start(mode, "alice:secret,bob:pw", &reg, &err));
    const char *url = ocireg_test_registry_url(reg);
    static const uint8_t cfg[] = "{}";
    const uint8_t *layers[1] = {(const uint8_t *)"layer"};
    size_t lens[1] = {5};
    EXPECT(OCIREG_OK, ocireg_test_registry_add_image(reg, "team/app", "v1", cfg, 2, layers, lens, 1, NULL, &err));

    ocireg_string_list *list = NULL;
    ocireg_client *good = make_client(url, "alice", "secret");
    EXPECT(OCIREG_OK, ocireg_ping(good, &err));
    EXPECT(OCIREG_OK, ocireg_tags(good, "team/app", &list, &err));
    CHECK(list_contains(list, "v1"));
    ocireg_string_list_free(list);
    list = NULL;
    ocireg_client_free(good);

    ocireg_client *second = make_client(url, "bob", "pw");
    EXPECT(OCIREG_OK, ocireg_tags(second, "team/app", &list, &err));
    ocireg_string_list_free(list);
    list = NULL;
    ocireg_client_free(second);

    ocireg_client *wrong = make_client(url, "alice", "wrong-password");
    ocireg_status st = ocireg_tags(wrong, "team/app", &list, &err);
    CHECK(st == OCIREG_AUTHENTICATION);
    CHECK(ocireg_error_http_status(err) == 401);
    CHECK(ocireg_error_message(err) != NULL && strstr(ocireg_error_message(err), "wrong-password") == NULL);
    ocireg_error_free(err);
    err = NULL;
    EXPECT(OCIREG_AUTHENTICATION, ocireg_ping(wrong, &err));
    CHECK(list == NULL);
    ocireg_client_free(wrong);

    /* Anonymous: Basic refuses (401); a token service hands out a token without access (403). */
    ocireg_client *anon = make_client(url, NULL, NULL);
    EXPECT(mode == OCIREG_TEST_AUTH_BASIC ? OCIREG_AUTHENTICATION : OCIREG_AUTHORIZATION,
           ocireg_tags(anon, "team/app", &list, &err));
    ocireg_client_free(anon);

    /* A bearer token the registry never issued. */
    ocireg_options *opts = NULL;
    ocireg_client *tok = NULL;
    EXPECT(OCIREG_OK, ocireg_options_new(&opts, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_bearer_token(opts, "not-a-real-token", &err));
    EXPECT(OCIREG_OK, ocireg_options_set_max_retries(opts, 0, &err));
    EXPECT(OCIREG_OK, ocireg_client_new(url, opts, &tok, &err));
    EXPECT(OCIREG_AUTHENTICATION, ocireg_tags(tok, "team/app", &list, &err));
    ocireg_client_free(tok);
    ocireg_options_free(opts);

    /* Credentials in the URL's userinfo. */
    char with_user[256];
    snprintf(with_user, sizeof with_user, "http://alice:secret@%s", ocireg_test_registry_host(reg));
    ocireg_client *userinfo = NULL;
    EXPECT(OCIREG_OK, ocireg_client_new(with_user, NULL, &userinfo, &err));
    EXPECT(OCIREG_OK, ocireg_ping(userinfo, &err));
    ocireg_client_free(userinfo);

    ocireg_test_registry_free(reg);
}

/* ---------------------------------------------------------------- registry errors */

static void test_registry_errors(ocireg_test_registry *reg, const char *url) {
    ocireg_error *err = NULL;
    ocireg_client *client = make_client(url, NULL, NULL);
    ocireg_string_list *list = NULL;

    EXPECT(OCIREG_OK, ocireg_test_registry_fail_next(reg, 1, 429, 7, &err));
    ocireg_status st = ocireg_tags(client, "team/app", &list, &err);
    CHECK(st == OCIREG_RATE_LIMITED);
    CHECK(ocireg_error_http_status(err) == 429);
    CHECK(ocireg_error_retry_after_secs(err) == 7);
    ocireg_error_free(err);
    err = NULL;

    EXPECT(OCIREG_OK, ocireg_test_registry_fail_next(reg, 1, 500, -1, &err));
    st = ocireg_tags(client, "team/app", &list, &err);
    CHECK(st == OCIREG_REGISTRY);
    CHECK(ocireg_error_http_status(err) == 500);
    CHECK(ocireg_error_retry_after_secs(err) == -1);
    ocireg_error_free(err);
    err = NULL;
    CHECK(list == NULL);

    /* With retries, a transient failure is invisible. */
    ocireg_options *opts = NULL;
    ocireg_client *retrying = NULL;
    EXPECT(OCIREG_OK, ocireg_options_new(&opts, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_anonymous(opts, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_max_retries(opts, 2, &err));
    EXPECT(OCIREG_OK, ocireg_client_new(url, opts, &retrying, &err));
    ocireg_options_free(opts);
    EXPECT(OCIREG_OK, ocireg_test_registry_fail_next(reg, 1, 503, 0, &err));
    EXPECT(OCIREG_OK, ocireg_tags(retrying, "team/app", &list, &err));
    CHECK(list_contains(list, "v1"));
    ocireg_string_list_free(list);
    list = NULL;
    ocireg_client_free(retrying);

    /* A slow registry and a short response timeout: OCIREG_TIMEOUT. */
    ocireg_client *impatient = NULL;
    EXPECT(OCIREG_OK, ocireg_options_new(&opts, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_anonymous(opts, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_max_retries(opts, 0, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_timeout_ms(opts, OCIREG_TIMEOUT_RESPONSE, 200, &err));
    EXPECT(OCIREG_OK, ocireg_client_new(url, opts, &impatient, &err));
    ocireg_options_free(opts);
    EXPECT(OCIREG_OK, ocireg_test_registry_set_delay_ms(reg, 1000, &err));
    EXPECT(OCIREG_TIMEOUT, ocireg_ping(impatient, &err));
    EXPECT(OCIREG_OK, ocireg_test_registry_set_delay_ms(reg, 0, &err));
    EXPECT(OCIREG_OK, ocireg_ping(impatient, &err));
    ocireg_client_free(impatient);

    /* A download cut in the middle, and blobs redirected to another host. */
    char *blob = NULL;
    EXPECT(OCIREG_OK, ocireg_test_registry_add_blob(reg, "team/app", (const uint8_t *)"0123456789abcdef", 16, &blob, &err));
    uint8_t *bytes = NULL;
    size_t len = 0;
    EXPECT(OCIREG_OK, ocireg_test_registry_drop_next(reg, 1, &err));
    st = ocireg_blob_pull_bytes(client, "team/app", blob, &bytes, &len, &err);
    CHECK(st == OCIREG_NETWORK || st == OCIREG_DIGEST_MISMATCH);
    CHECK(bytes == NULL);
    ocireg_error_free(err);
    err = NULL;
    EXPECT(OCIREG_OK, ocireg_test_registry_clear_requests(reg, &err));
    CHECK(ocireg_test_registry_request_count(reg) == 0);
    EXPECT(OCIREG_OK, ocireg_test_registry_redirect_blobs(reg, 1, &err));
    EXPECT(OCIREG_OK, ocireg_blob_pull_bytes(client, "team/app", blob, &bytes, &len, &err));
    CHECK(len == 16 && bytes != NULL && memcmp(bytes, "0123456789abcdef", 16) == 0);
    ocireg_bytes_free(bytes, len);
    EXPECT(OCIREG_OK, ocireg_test_registry_redirect_blobs(reg, 0, &err));
    char *requests = NULL;
    EXPECT(OCIREG_OK, ocireg_test_registry_requests_json(reg, &requests, &err));
    CHECK(requests != NULL && requests[0] == '[' && strstr(requests, "\"objectStore\":true") != NULL &&
          strstr(requests, "\"status\":307") != NULL);
    ocireg_string_free(requests);
    ocireg_string_free(blob);
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_requests_json(reg, NULL, &err));

    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_fail_next(reg, 1, 200, -1, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_fail_next(NULL, 1, 500, -1, &err));
    EXPECT(OCIREG_OK, ocireg_test_registry_fail_next(reg, 0, 500, -1, &err));

    ocireg_client_free(client);
}

/* ---------------------------------------------------------------- test registry */

static void test_test_registry_api(void) {
    ocireg_error *err = NULL;
    ocireg_test_registry *reg = NULL;

    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_start(7, NULL, &reg, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_start(OCIREG_TEST_AUTH_BASIC, NULL, &reg, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_start(OCIREG_TEST_AUTH_BEARER, "nocolon", &reg, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_start(OCIREG_TEST_AUTH_BASIC, BAD_UTF8, &reg, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_start(OCIREG_TEST_AUTH_NONE, NULL, NULL, &err));
    CHECK(reg == NULL);

    EXPECT(OCIREG_OK, ocireg_test_registry_start(OCIREG_TEST_AUTH_NONE, NULL, &reg, &err));
    const char *url = ocireg_test_registry_url(reg);
    const char *host = ocireg_test_registry_host(reg);
    CHECK(url != NULL && strncmp(url, "http://127.0.0.1:", 17) == 0);
    CHECK(host != NULL && strcmp(url + 7, host) == 0);
    CHECK(ocireg_test_registry_request_count(reg) == 0);

    char *d = NULL;
    EXPECT(OCIREG_OK, ocireg_test_registry_add_blob(reg, "a/b", (const uint8_t *)"x", 1, &d, &err));
    CHECK(streq(d, "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"));
    EXPECT(OCIREG_OK, ocireg_test_registry_add_blob(reg, "a/b", NULL, 0, NULL, &err));
    EXPECT(OCIREG_INVALID_REFERENCE, ocireg_test_registry_add_blob(reg, "A/B", (const uint8_t *)"x", 1, NULL, &err));
    int found = -1;
    EXPECT(OCIREG_OK, ocireg_test_registry_delete_blob(reg, "a/b", d, &found, &err));
    CHECK(found == 1);
    EXPECT(OCIREG_OK, ocireg_test_registry_delete_blob(reg, "a/b", d, &found, &err));
    CHECK(found == 0);
    EXPECT(OCIREG_INVALID_REFERENCE, ocireg_test_registry_delete_blob(reg, "a/b", "nope", &found, &err));
    ocireg_string_free(d);
    d = NULL;

    static const char idx[] = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[]}";
    EXPECT(OCIREG_OK, ocireg_test_registry_add_manifest(reg, "a/b", "index", "application/vnd.oci.image.index.v1+json",
                                                        (const uint8_t *)idx, sizeof idx - 1, &d, &err));
    CHECK(d != NULL);
    ocireg_string_free(d);
    EXPECT(OCIREG_OK, ocireg_test_registry_add_manifest(reg, "a/b", NULL, "application/vnd.oci.image.index.v1+json",
                                                        (const uint8_t *)idx, sizeof idx - 1, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_add_manifest(reg, "a/b", "x", "application/vnd.oci.image.manifest.v1+json",
                                                                      (const uint8_t *)idx, sizeof idx - 1, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_add_manifest(reg, "a/b", "x", NULL,
                                                                      (const uint8_t *)idx, sizeof idx - 1, NULL, &err));

    const uint8_t *layers[2] = {(const uint8_t *)"one", (const uint8_t *)"two"};
    size_t lens[2] = {3, 3};
    EXPECT(OCIREG_OK, ocireg_test_registry_add_image(reg, "a/img", "latest", (const uint8_t *)"{}", 2, layers, lens, 2, NULL, &err));
    EXPECT(OCIREG_OK, ocireg_test_registry_add_image(reg, "a/img", "empty", (const uint8_t *)"{}", 2, NULL, NULL, 0, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_add_image(reg, "a/img", "x", (const uint8_t *)"{}", 2, NULL, lens, 2, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_add_image(reg, "a/img", "x", (const uint8_t *)"{}", 2, layers, NULL, 2, NULL, &err));
    EXPECT(OCIREG_INVALID_REFERENCE, ocireg_test_registry_add_image(reg, "a/img", "-x", (const uint8_t *)"{}", 2, NULL, NULL, 0, NULL, &err));

    ocireg_client *client = make_client(url, NULL, NULL);
    EXPECT(OCIREG_OK, ocireg_ping(client, &err));
    CHECK(ocireg_test_registry_request_count(reg) >= 1);

    /* Hostile mode, by spec string; a bad spec is refused with a message naming it. */
    EXPECT(OCIREG_OK, ocireg_test_registry_set_hostile(reg, "cut-midway:bad-range", &err));
    EXPECT(OCIREG_OK, ocireg_test_registry_set_hostile(reg, "none", &err));
    CHECK(ocireg_test_registry_set_hostile(reg, "slow-drip:soon", &err) == OCIREG_INVALID_ARGUMENT);
    CHECK(err != NULL && strstr(ocireg_error_message(err), "\"slow-drip:soon\"") != NULL);
    ocireg_error_free(err);
    err = NULL;
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_set_hostile(reg, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_set_hostile(reg, BAD_UTF8, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_set_hostile(NULL, "none", &err));
    EXPECT(OCIREG_OK, ocireg_ping(client, &err));

    /* Stopped: clients get a network error; the URL stays readable; stopping twice is fine. */
    EXPECT(OCIREG_OK, ocireg_test_registry_stop(reg, &err));
    EXPECT(OCIREG_OK, ocireg_test_registry_stop(reg, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_stop(NULL, &err));
    CHECK(streq(ocireg_test_registry_url(reg), url));
    CHECK(ocireg_test_registry_request_count(reg) == 0);
    EXPECT(OCIREG_NETWORK, ocireg_ping(client, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_add_blob(reg, "a/b", (const uint8_t *)"x", 1, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_registry_set_hostile(reg, "none", &err));
    ocireg_client_free(client);
    ocireg_test_registry_free(reg);
}

/* ---------------------------------------------------------------- threads */

struct thread_arg {
    const ocireg_client *client;
    int failures;
};

static void *tags_worker(void *p) {
    struct thread_arg *a = p;
    for (int i = 0; i < 10; i++) {
        ocireg_string_list *list = NULL;
        ocireg_error *err = NULL;
        if (ocireg_tags(a->client, "team/app", &list, &err) != OCIREG_OK || !list_contains(list, "v1")) {
            a->failures++;
        }
        ocireg_string_list_free(list);
        ocireg_error_free(err);
    }
    return NULL;
}

static void test_one_client_many_threads(const char *url) {
    ocireg_client *client = make_client(url, NULL, NULL);
    enum { N = 4 };
    pthread_t threads[N];
    struct thread_arg args[N];
    for (int i = 0; i < N; i++) {
        args[i].client = client;
        args[i].failures = 0;
        CHECK(pthread_create(&threads[i], NULL, tags_worker, &args[i]) == 0);
    }
    int failures = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        failures += args[i].failures;
    }
    CHECK(failures == 0);
    CHECK(ocireg_client_request_count(client) >= N * 10);
    ocireg_client_free(client);
}

/* ---------------------------------------------------------------- files */

static char g_tmp[64];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static void tmp_path(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", g_tmp, name); }

static int write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        return 0;
    }
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* Reads a whole (small) file; returns its length or -1. */
static long read_file(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return -1;
    }
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return (long)n;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---------------------------------------------------------------- callbacks */

struct mem_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
    size_t max_chunk;
    int fail_at_call; /* return -1 on this call (1-based); 0: never */
    int calls;
    pthread_t thread;
    int wrong_thread;
};

static ptrdiff_t read_cb(void *userdata, uint8_t *buf, size_t cap) {
    struct mem_reader *r = userdata;
    r->calls++;
    if (!pthread_equal(pthread_self(), r->thread)) {
        r->wrong_thread = 1;
    }
    if (r->fail_at_call && r->calls >= r->fail_at_call) {
        return -1;
    }
    size_t n = r->len - r->pos;
    if (n > cap) {
        n = cap;
    }
    if (n > r->max_chunk) {
        n = r->max_chunk;
    }
    memcpy(buf, r->data + r->pos, n);
    r->pos += n;
    return (ptrdiff_t)n;
}

struct mem_writer {
    uint8_t buf[4096];
    size_t len;
    int stop_after; /* return non-zero after this many calls; 0: never */
    int calls;
    pthread_t thread;
    int wrong_thread;
};

static int write_cb(void *userdata, const uint8_t *buf, size_t len) {
    struct mem_writer *w = userdata;
    w->calls++;
    if (!pthread_equal(pthread_self(), w->thread)) {
        w->wrong_thread = 1;
    }
    if (w->stop_after && w->calls >= w->stop_after) {
        return 1;
    }
    if (w->len + len > sizeof w->buf) {
        return 1;
    }
    memcpy(w->buf + w->len, buf, len);
    w->len += len;
    return 0;
}

struct progress_log {
    int events;
    int by_kind[7];
    int bad_event;
    int cancel_after; /* return non-zero on this event (1-based); 0: never */
    pthread_t thread;
    int wrong_thread;
};

static int progress_cb(void *userdata, const char *digest, uint64_t done, uint64_t total, uint32_t event) {
    struct progress_log *p = userdata;
    p->events++;
    if (!pthread_equal(pthread_self(), p->thread)) {
        p->wrong_thread = 1;
    }
    if (event > OCIREG_PROGRESS_DOWNLOADED || digest == NULL || strncmp(digest, "sha256:", 7) != 0 || done > total) {
        p->bad_event = 1;
    } else {
        p->by_kind[event]++;
    }
    return p->cancel_after && p->events >= p->cancel_after;
}

/* ---------------------------------------------------------------- blobs */

static void test_blobs(const char *url) {
    ocireg_error *err = NULL;
    ocireg_client *client = make_client(url, NULL, NULL);
    static const char content[] = "the quick brown fox jumps over the lazy dog, twice: the quick brown fox";
    const size_t clen = sizeof content - 1;
    char *d1 = NULL, *d2 = NULL, *d3 = NULL;
    int exists = -1;
    uint64_t size = 0;

    EXPECT(OCIREG_OK, ocireg_blob_push_bytes(client, "blobs/a", (const uint8_t *)content, clen, &d1, &err));
    CHECK(d1 != NULL && strncmp(d1, "sha256:", 7) == 0);
    EXPECT(OCIREG_OK, ocireg_blob_exists(client, "blobs/a", d1, &exists, &size, &err));
    CHECK(exists == 1 && size == clen);
    EXPECT(OCIREG_OK, ocireg_blob_exists(client, "blobs/a", d1, &exists, NULL, &err));
    EXPECT(OCIREG_OK, ocireg_blob_push_bytes(client, "blobs/a", (const uint8_t *)content, clen, NULL, &err));
    char missing[80];
    snprintf(missing, sizeof missing, "sha256:%064d", 7);
    EXPECT(OCIREG_OK, ocireg_blob_exists(client, "blobs/a", missing, &exists, &size, &err));
    CHECK(exists == 0 && size == 0);
    EXPECT(OCIREG_INVALID_REFERENCE, ocireg_blob_exists(client, "blobs/a", "sha256:xyz", &exists, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_blob_exists(client, "blobs/a", d1, NULL, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_blob_push_bytes(client, "blobs/a", NULL, 3, NULL, &err));
    EXPECT(OCIREG_INVALID_REFERENCE, ocireg_blob_push_bytes(client, "Blobs", (const uint8_t *)"x", 1, NULL, &err));

    /* A file. */
    char path[128];
    tmp_path(path, sizeof path, "blob.bin");
    CHECK(write_file(path, content, clen));
    EXPECT(OCIREG_OK, ocireg_blob_push_file(client, "blobs/file", path, &d2, &err));
    CHECK(streq(d1, d2));
    tmp_path(path, sizeof path, "no-such-file");
    EXPECT(OCIREG_IO, ocireg_blob_push_file(client, "blobs/file", path, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_blob_push_file(client, "blobs/file", NULL, NULL, &err));

    /* A stream, in chunks of 5 bytes, digest unknown then known. */
    struct mem_reader r = {(const uint8_t *)content, clen, 0, 5, 0, 0, pthread_self(), 0};
    EXPECT(OCIREG_OK, ocireg_blob_push_stream(client, "blobs/stream", read_cb, &r, clen, NULL, &d3, &err));
    CHECK(streq(d1, d3));
    CHECK(r.calls > 1 && !r.wrong_thread);
    struct mem_reader r2 = {(const uint8_t *)content, clen, 0, 64, 0, 0, pthread_self(), 0};
    EXPECT(OCIREG_OK, ocireg_blob_push_stream(client, "blobs/stream2", read_cb, &r2, clen, d1, NULL, &err));
    /* Fewer bytes than announced: an error, never a corrupted blob. */
    struct mem_reader r3 = {(const uint8_t *)content, clen, 0, 64, 0, 0, pthread_self(), 0};
    ocireg_status st = ocireg_blob_push_stream(client, "blobs/short", read_cb, &r3, clen + 10, NULL, NULL, &err);
    CHECK(st != OCIREG_OK && st != OCIREG_PANIC);
    ocireg_error_free(err);
    err = NULL;
    /* The callback aborts. */
    struct mem_reader r4 = {(const uint8_t *)content, clen, 0, 5, 3, 0, pthread_self(), 0};
    EXPECT(OCIREG_CANCELLED, ocireg_blob_push_stream(client, "blobs/abort", read_cb, &r4, clen, NULL, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_blob_push_stream(client, "blobs/abort", NULL, NULL, clen, NULL, NULL, &err));
    EXPECT(OCIREG_OK, ocireg_blob_exists(client, "blobs/abort", d1, &exists, NULL, &err));
    CHECK(exists == 0);

    /* Pull through a write callback, to a file, into memory. */
    struct mem_writer w;
    memset(&w, 0, sizeof w);
    w.thread = pthread_self();
    uint64_t n = 0;
    EXPECT(OCIREG_OK, ocireg_blob_pull(client, "blobs/a", d1, write_cb, &w, &n, &err));
    CHECK(n == clen && w.len == clen && memcmp(w.buf, content, clen) == 0 && !w.wrong_thread);
    memset(&w, 0, sizeof w);
    w.thread = pthread_self();
    w.stop_after = 1;
    EXPECT(OCIREG_CANCELLED, ocireg_blob_pull(client, "blobs/a", d1, write_cb, &w, NULL, &err));
    EXPECT(OCIREG_NOT_FOUND, ocireg_blob_pull(client, "blobs/a", missing, write_cb, &w, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_blob_pull(client, "blobs/a", d1, NULL, NULL, NULL, &err));

    tmp_path(path, sizeof path, "pulled.bin");
    EXPECT(OCIREG_OK, ocireg_blob_pull_to_path(client, "blobs/a", d1, path, &n, &err));
    char back[256];
    CHECK(n == clen && read_file(path, back, sizeof back) == (long)clen && memcmp(back, content, clen) == 0);
    tmp_path(path, sizeof path, "never.bin");
    EXPECT(OCIREG_NOT_FOUND, ocireg_blob_pull_to_path(client, "blobs/a", missing, path, NULL, &err));
    CHECK(!file_exists(path));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_blob_pull_to_path(client, "blobs/a", d1, "", NULL, &err));

    uint8_t *bytes = NULL;
    size_t len = 0;
    EXPECT(OCIREG_OK, ocireg_blob_pull_bytes(client, "blobs/a", d1, &bytes, &len, &err));
    CHECK(len == clen && bytes != NULL && memcmp(bytes, content, clen) == 0);
    ocireg_bytes_free(bytes, len);
    bytes = NULL;
    EXPECT(OCIREG_NOT_FOUND, ocireg_blob_pull_bytes(client, "blobs/a", missing, &bytes, &len, &err));
    CHECK(bytes == NULL);
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_blob_pull_bytes(client, "blobs/a", d1, NULL, &len, &err));

    /* Mount, delete. */
    int mounted = -1;
    EXPECT(OCIREG_OK, ocireg_blob_mount(client, "blobs/mounted", "blobs/a", d1, &mounted, &err));
    CHECK(mounted == 1);
    EXPECT(OCIREG_OK, ocireg_blob_exists(client, "blobs/mounted", d1, &exists, NULL, &err));
    CHECK(exists == 1);
    EXPECT(OCIREG_OK, ocireg_blob_mount(client, "blobs/mounted2", "blobs/a", missing, &mounted, &err));
    CHECK(mounted == 0);
    EXPECT(OCIREG_OK, ocireg_blob_delete(client, "blobs/mounted", d1, &err));
    EXPECT(OCIREG_OK, ocireg_blob_exists(client, "blobs/mounted", d1, &exists, NULL, &err));
    CHECK(exists == 0);
    EXPECT(OCIREG_NOT_FOUND, ocireg_blob_delete(client, "blobs/mounted", d1, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_blob_delete(NULL, "blobs/mounted", d1, &err));

    ocireg_string_free(d1);
    ocireg_string_free(d2);
    ocireg_string_free(d3);
    ocireg_client_free(client);
}

/* ---------------------------------------------------------------- images, push, verify, pull */

static void test_push_verify_pull(ocireg_test_registry *reg, const char *url) {
    ocireg_error *err = NULL;
    ocireg_client *client = make_client(url, NULL, NULL);
    ocireg_image_builder *b = NULL;
    ocireg_image *image = NULL;
    ocireg_pushed *pushed = NULL;
    ocireg_verify_report *report = NULL;
    char *json = NULL;

    /* Build: config, a layer in memory, a layer from a file, an annotation. */
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_image_builder_new(NULL, &err));
    EXPECT(OCIREG_OK, ocireg_image_builder_new(&b, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_image_builder_build(b, &image, &err)); /* no config yet */
    CHECK(image == NULL);
    static const char cfg[] = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
    EXPECT(OCIREG_OK, ocireg_image_builder_set_config(b, (const uint8_t *)cfg, sizeof cfg - 1, NULL, &err));
    static const char layer1[] = "layer one, in memory";
    EXPECT(OCIREG_OK, ocireg_image_builder_add_layer_bytes(b, (const uint8_t *)layer1, sizeof layer1 - 1,
                                                           "application/vnd.oci.image.layer.v1.tar", &err));
    char path[128];
    tmp_path(path, sizeof path, "layer2.tar.gz");
    static const char layer2[] = "layer two, from a file, a little longer than the first one";
    CHECK(write_file(path, layer2, sizeof layer2 - 1));
    EXPECT(OCIREG_OK, ocireg_image_builder_add_layer_file(b, path, "application/vnd.oci.image.layer.v1.tar+gzip", &err));
    /* A Docker schema 2 variant first (Docker manifests have no annotations). */
    ocireg_image *docker = NULL;
    EXPECT(OCIREG_OK, ocireg_image_builder_set_docker_schema2(b, 1, &err));
    EXPECT(OCIREG_OK, ocireg_image_builder_build(b, &docker, &err));
    CHECK(streq(ocireg_image_media_type(docker), "application/vnd.docker.distribution.manifest.v2+json"));
    EXPECT(OCIREG_OK, ocireg_image_builder_set_docker_schema2(b, 0, &err));
    EXPECT(OCIREG_OK, ocireg_image_builder_add_annotation(b, "org.opencontainers.image.title", "c test", &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_image_builder_add_layer_bytes(b, NULL, 4, "x", &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_image_builder_add_layer_file(b, path, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_image_builder_add_annotation(b, "k", BAD_UTF8, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_image_builder_set_config(NULL, (const uint8_t *)cfg, 2, NULL, &err));
    EXPECT(OCIREG_OK, ocireg_image_builder_build(b, &image, &err));
    CHECK(streq(ocireg_image_media_type(image), "application/vnd.oci.image.manifest.v1+json"));
    CHECK(ocireg_image_digest(image) != NULL && strncmp(ocireg_image_digest(image), "sha256:", 7) == 0);
    size_t mlen = 0;
    const uint8_t *mbytes = ocireg_image_manifest(image, &mlen);
    CHECK(mbytes != NULL && mlen > 0 && mbytes[0] == '{');
    size_t nolen = 1;
    CHECK(ocireg_image_manifest(NULL, &nolen) == NULL && nolen == 0);
    CHECK(ocireg_image_digest(NULL) == NULL && ocireg_image_media_type(NULL) == NULL);

    /* Docker schema 2 with annotations is refused; the builder keeps its state. */
    ocireg_image *refused = NULL;
    EXPECT(OCIREG_OK, ocireg_image_builder_set_docker_schema2(b, 1, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_image_builder_build(b, &refused, &err));
    CHECK(refused == NULL);
    EXPECT(OCIREG_OK, ocireg_image_builder_set_docker_schema2(b, 0, &err));
    /* An artifact type gives another manifest. */
    EXPECT(OCIREG_OK, ocireg_image_builder_set_artifact_type(b, "application/vnd.example.thing", &err));
    ocireg_image *artifact = NULL;
    EXPECT(OCIREG_OK, ocireg_image_builder_build(b, &artifact, &err));
    CHECK(!streq(ocireg_image_digest(artifact), ocireg_image_digest(image)));
    ocireg_image_free(artifact);

    /* Push with progress: every callback on this thread, before the call returns. */
    struct progress_log log;
    memset(&log, 0, sizeof log);
    log.thread = pthread_self();
    EXPECT(OCIREG_OK, ocireg_push_image(client, "push/app", "v1", image, NULL, progress_cb, &log, &pushed, &err));
    CHECK(log.events >= 3 && !log.bad_event && !log.wrong_thread);
    CHECK(log.by_kind[OCIREG_PROGRESS_UPLOADED] == 3);
    CHECK(streq(ocireg_pushed_digest(pushed), ocireg_image_digest(image)));
    CHECK(streq(ocireg_pushed_media_type(pushed), ocireg_image_media_type(image)));
    CHECK(ocireg_pushed_size(pushed) == mlen);
    CHECK(ocireg_pushed_reference(pushed) != NULL && strncmp(ocireg_pushed_reference(pushed), "push/app:v1@sha256:", 19) == 0);
    EXPECT(OCIREG_OK, ocireg_pushed_to_json(pushed, &json, &err));
    CHECK(json != NULL && strstr(json, "\"blobsUploaded\":3") != NULL && strstr(json, ocireg_image_digest(image)) != NULL);
    ocireg_string_free(json);
    json = NULL;
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_pushed_to_json(NULL, &json, &err));
    CHECK(ocireg_pushed_digest(NULL) == NULL && ocireg_pushed_size(NULL) == 0);

    /* Again, without progress: the tag names this manifest already, nothing is uploaded. */
    ocireg_pushed *again = NULL;
    EXPECT(OCIREG_OK, ocireg_push_image(client, "push/app", "v1", image, NULL, NULL, NULL, &again, &err));
    EXPECT(OCIREG_OK, ocireg_pushed_to_json(again, &json, &err));
    CHECK(json != NULL && strstr(json, "\"manifestsExisting\":1") != NULL && strstr(json, "\"blobsUploaded\":0") != NULL);
    ocireg_string_free(json);
    json = NULL;
    ocireg_pushed_free(again);

    /* Options: one thread, chunked uploads, no existence check, mounts. */
    ocireg_push_options *po = NULL;
    EXPECT(OCIREG_OK, ocireg_push_options_new(&po, &err));
    EXPECT(OCIREG_OK, ocireg_push_options_set_threads(po, 1, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_push_options_set_threads(po, 0, &err));
    EXPECT(OCIREG_OK, ocireg_push_options_set_chunked(po, 16, &err));
    EXPECT(OCIREG_OK, ocireg_push_options_set_skip_existing(po, 0, &err));
    EXPECT(OCIREG_OK, ocireg_push_options_set_mount_from(po, "push/app", &err));
    EXPECT(OCIREG_INVALID_REFERENCE, ocireg_push_options_set_mount_from(po, "Bad Repo", &err));
    EXPECT(OCIREG_OK, ocireg_push_options_set_mount_from(po, NULL, &err));
    ocireg_pushed *chunked = NULL;
    EXPECT(OCIREG_OK, ocireg_push_image(client, "push/chunked", "v1", image, po, NULL, NULL, &chunked, &err));
    CHECK(streq(ocireg_pushed_digest(chunked), ocireg_image_digest(image)));
    ocireg_pushed_free(chunked);
    chunked = NULL;
    EXPECT(OCIREG_OK, ocireg_push_options_set_chunked(po, 0, &err));
    EXPECT(OCIREG_OK, ocireg_push_options_set_skip_existing(po, 1, &err));
    EXPECT(OCIREG_OK, ocireg_push_options_set_mount_from(po, "push/app", &err));
    EXPECT(OCIREG_OK, ocireg_push_image(client, "push/mounted", "v1", image, po, NULL, NULL, &chunked, &err));
    EXPECT(OCIREG_OK, ocireg_pushed_to_json(chunked, &json, &err));
    CHECK(json != NULL && strstr(json, "\"blobsMounted\":3") != NULL);
    ocireg_string_free(json);
    json = NULL;
    ocireg_pushed_free(chunked);
    ocireg_push_options_free(po);
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_push_options_set_threads(NULL, 1, &err));

    /* The Docker image by digest (untagged); a digest that is not the image's. */
    ocireg_pushed *dp = NULL;
    EXPECT(OCIREG_OK, ocireg_push_image(client, "push/docker", ocireg_image_digest(docker), docker, NULL, NULL, NULL, &dp, &err));
    CHECK(dp != NULL && strncmp(ocireg_pushed_reference(dp), "push/docker@sha256:", 19) == 0);
    ocireg_pushed_free(dp);
    dp = NULL;
    EXPECT(OCIREG_DIGEST_MISMATCH, ocireg_push_image(client, "push/docker", ocireg_image_digest(image), docker, NULL, NULL, NULL, &dp, &err));
    CHECK(dp == NULL);
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_push_image(client, "push/app", "v1", NULL, NULL, NULL, NULL, &dp, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_push_image(client, "push/app", "v1", image, NULL, NULL, NULL, NULL, &err));
    EXPECT(OCIREG_INVALID_REFERENCE, ocireg_push_image(client, "push/app", "bad tag", image, NULL, NULL, NULL, &dp, &err));

    /* Cancelled from the progress callback: nothing tagged. */
    memset(&log, 0, sizeof log);
    log.thread = pthread_self();
    log.cancel_after = 1;
    EXPECT(OCIREG_CANCELLED, ocireg_push_image(client, "push/cancelled", "v1", image, NULL, progress_cb, &log, &dp, &err));
    CHECK(dp == NULL && log.events >= 1 && !log.wrong_thread);
    char *d = NULL;
    EXPECT(OCIREG_NOT_FOUND, ocireg_manifest_digest(client, "push/cancelled", "v1", &d, &err));

    /* Verify: all good. */
    EXPECT(OCIREG_OK, ocireg_verify(client, "push/app", pushed, &report, &err));
    CHECK(ocireg_verify_report_outcome(report) == OCIREG_OUTCOME_VERIFIED);
    EXPECT(OCIREG_OK, ocireg_verify_report_to_json(report, &json, &err));
    CHECK(json != NULL && strstr(json, "\"outcome\":\"verified\"") != NULL && strstr(json, "\"kind\":\"layer\"") != NULL);
    ocireg_string_free(json);
    json = NULL;
    EXPECT(OCIREG_OK, ocireg_verify_report_to_text(report, &json, &err));
    CHECK(json != NULL && strncmp(json, "Verified", 8) == 0);
    ocireg_string_free(json);
    json = NULL;
    ocireg_verify_report_free(report);
    report = NULL;
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_verify(client, "push/app", NULL, &report, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_verify(client, "push/app", pushed, NULL, &err));
    EXPECT(OCIREG_INVALID_REFERENCE, ocireg_verify(client, "Push/App", pushed, &report, &err));
    CHECK(report == NULL);
    CHECK(ocireg_verify_report_outcome(NULL) == OCIREG_OUTCOME_FAILED);
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_verify_report_to_json(NULL, &json, &err));

    /* Verify what would have been pushed, against another repository: it is not there. */
    ocireg_pushed *expected = NULL;
    EXPECT(OCIREG_OK, ocireg_pushed_from_image(image, "push/app", "v1", &expected, &err));
    EXPECT(OCIREG_OK, ocireg_verify(client, "push/app", expected, &report, &err));
    ocireg_verify_report_free(report);
    report = NULL;
    EXPECT(OCIREG_INVALID_REFERENCE, ocireg_pushed_from_image(image, "push/app", "-bad", &expected, &err));
    ocireg_pushed_free(expected);
    expected = NULL;
    EXPECT(OCIREG_OK, ocireg_pushed_from_image(image, "push/elsewhere", NULL, &expected, &err));
    ocireg_status st = ocireg_verify(client, "push/elsewhere", expected, &report, &err);
    CHECK(st == OCIREG_VERIFY_FAILED);
    CHECK(err != NULL && ocireg_error_status(err) == OCIREG_VERIFY_FAILED && strstr(ocireg_error_message(err), "FAILED") != NULL);
    CHECK(report != NULL && ocireg_verify_report_outcome(report) == OCIREG_OUTCOME_FAILED);
    ocireg_error_free(err);
    err = NULL;
    ocireg_verify_report_free(report);
    report = NULL;
    ocireg_pushed_free(expected);

    /* Verify after a layer vanished from the registry. */
    ocireg_pushed *second = NULL;
    EXPECT(OCIREG_OK, ocireg_push_image(client, "push/broken", "v1", image, NULL, NULL, NULL, &second, &err));
    char *layer_digest = NULL;
    EXPECT(OCIREG_OK, ocireg_test_registry_add_blob(reg, "push/scratch", (const uint8_t *)layer1, sizeof layer1 - 1, &layer_digest, &err));
    int found = 0;
    EXPECT(OCIREG_OK, ocireg_test_registry_delete_blob(reg, "push/broken", layer_digest, &found, &err));
    CHECK(found == 1);
    EXPECT(OCIREG_VERIFY_FAILED, ocireg_verify(client, "push/broken", second, &report, &err));
    CHECK(report != NULL && ocireg_verify_report_outcome(report) == OCIREG_OUTCOME_FAILED);
    EXPECT(OCIREG_OK, ocireg_verify_report_to_json(report, &json, &err));
    CHECK(json != NULL && strstr(json, "\"status\":\"failed\"") != NULL && strstr(json, layer_digest) != NULL);
    ocireg_string_free(json);
    json = NULL;
    ocireg_verify_report_free(report);
    report = NULL;
    ocireg_pushed_free(second);
    ocireg_string_free(layer_digest);

    /* Pull into a layout, with progress; verify what was pulled; read the layout back. */
    char dir[128];
    tmp_path(dir, sizeof dir, "layout");
    ocireg_pulled *pulled = NULL;
    memset(&log, 0, sizeof log);
    log.thread = pthread_self();
    EXPECT(OCIREG_OK, ocireg_pull_image(client, "push/app", "v1", dir, NULL, 0, progress_cb, &log, &pulled, &err));
    CHECK(!log.bad_event && !log.wrong_thread && log.by_kind[OCIREG_PROGRESS_DOWNLOADED] == 3);
    CHECK(streq(ocireg_pulled_digest(pulled), ocireg_image_digest(image)));
    CHECK(streq(ocireg_pulled_media_type(pulled), ocireg_image_media_type(image)));
    CHECK(ocireg_pulled_size(pulled) == mlen);
    CHECK(ocireg_pulled_path(pulled) != NULL && strstr(ocireg_pulled_path(pulled), "layout") != NULL);
    EXPECT(OCIREG_OK, ocireg_pulled_to_json(pulled, &json, &err));
    CHECK(json != NULL && strstr(json, "\"blobsDownloaded\":3") != NULL);
    ocireg_string_free(json);
    json = NULL;
    ocireg_pushed *as_pushed = NULL;
    EXPECT(OCIREG_OK, ocireg_pulled_to_pushed(pulled, &as_pushed, &err));
    EXPECT(OCIREG_OK, ocireg_verify(client, "push/app", as_pushed, &report, &err));
    ocireg_verify_report_free(report);
    report = NULL;
    ocireg_pushed_free(as_pushed);
    ocireg_pulled_free(pulled);
    pulled = NULL;
    CHECK(ocireg_pulled_digest(NULL) == NULL && ocireg_pulled_size(NULL) == 0 && ocireg_pulled_path(NULL) == NULL);

    /* Pull again (everything reused, result not wanted), then errors. */
    memset(&log, 0, sizeof log);
    log.thread = pthread_self();
    EXPECT(OCIREG_OK, ocireg_pull_image(client, "push/app", "v1", dir, NULL, 2, progress_cb, &log, NULL, &err));
    CHECK(log.by_kind[OCIREG_PROGRESS_REUSED] == 3);
    char dir2[128];
    tmp_path(dir2, sizeof dir2, "layout2");
    memset(&log, 0, sizeof log);
    log.thread = pthread_self();
    log.cancel_after = 1;
    EXPECT(OCIREG_CANCELLED, ocireg_pull_image(client, "push/app", "v1", dir2, NULL, 1, progress_cb, &log, &pulled, &err));
    CHECK(pulled == NULL);
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_pull_image(client, "push/app", "v1", dir2, "linux", 0, NULL, NULL, &pulled, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_pull_image(client, "push/app", "v1", dir2, NULL, 65, NULL, NULL, &pulled, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_pull_image(client, "push/app", "v1", NULL, NULL, 0, NULL, NULL, &pulled, &err));
    EXPECT(OCIREG_NOT_FOUND, ocireg_pull_image(client, "push/app", "nope", dir2, NULL, 0, NULL, NULL, &pulled, &err));
    EXPECT(OCIREG_OK, ocireg_pull_image(client, "push/app", "v1", dir2, "linux/amd64", 0, NULL, NULL, NULL, &err));

    /* The pulled layout, read back and pushed elsewhere: the same digest. */
    ocireg_image *from_layout = NULL;
    EXPECT(OCIREG_OK, ocireg_image_from_layout(dir, "v1", &from_layout, &err));
    CHECK(streq(ocireg_image_digest(from_layout), ocireg_image_digest(image)));
    ocireg_image_free(from_layout);
    from_layout = NULL;
    EXPECT(OCIREG_OK, ocireg_image_from_layout(dir, NULL, &from_layout, &err));
    ocireg_image_free(from_layout);
    from_layout = NULL;
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_image_from_layout(dir, "nope", &from_layout, &err));
    tmp_path(path, sizeof path, "not-a-layout");
    st = ocireg_image_from_layout(path, NULL, &from_layout, &err);
    CHECK(st != OCIREG_OK && from_layout == NULL);
    ocireg_error_free(err);
    err = NULL;
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_image_from_layout(NULL, NULL, &from_layout, &err));

    ocireg_pushed *lp = NULL;
    memset(&log, 0, sizeof log);
    log.thread = pthread_self();
    EXPECT(OCIREG_OK, ocireg_push_layout(client, "push/from-layout", "v2", dir, NULL, progress_cb, &log, &lp, &err));
    CHECK(streq(ocireg_pushed_digest(lp), ocireg_image_digest(image)) && !log.wrong_thread);
    ocireg_pushed_free(lp);
    lp = NULL;
    EXPECT(OCIREG_OK, ocireg_push_layout(client, "push/from-layout", "v1", dir, NULL, NULL, NULL, &lp, &err));
    ocireg_pushed_free(lp);
    lp = NULL;
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_push_layout(client, "push/from-layout", "v1", NULL, NULL, NULL, NULL, &lp, &err));
    /* A layout with push options: one thread, blobs mounted from another repository. */
    EXPECT(OCIREG_OK, ocireg_push_options_new(&po, &err));
    EXPECT(OCIREG_OK, ocireg_push_options_set_threads(po, 1, &err));
    EXPECT(OCIREG_OK, ocireg_push_options_set_mount_from(po, "push/app", &err));
    EXPECT(OCIREG_OK, ocireg_push_layout(client, "push/layout-mounted", "v1", dir, po, NULL, NULL, &lp, &err));
    CHECK(streq(ocireg_pushed_digest(lp), ocireg_image_digest(image)));
    EXPECT(OCIREG_OK, ocireg_pushed_to_json(lp, &json, &err));
    CHECK(json != NULL && strstr(json, "\"blobsMounted\":3") != NULL);
    ocireg_string_free(json);
    json = NULL;
    ocireg_pushed_free(lp);
    lp = NULL;
    ocireg_push_options_free(po);
    po = NULL;
    ocireg_string_list *tags = NULL;
    EXPECT(OCIREG_OK, ocireg_tags(client, "push/from-layout", &tags, &err));
    CHECK(ocireg_string_list_len(tags) == 2);
    ocireg_string_list_free(tags);

    ocireg_pushed_free(pushed);
    ocireg_image_free(docker);
    ocireg_image_free(image);
    ocireg_image_builder_free(b);
    ocireg_image_builder_free(NULL);
    ocireg_image_free(NULL);
    ocireg_pushed_free(NULL);
    ocireg_pulled_free(NULL);
    ocireg_verify_report_free(NULL);
    ocireg_push_options_free(NULL);
    ocireg_client_free(client);
}

/* ---------------------------------------------------------------- login, logout */

/* Retries seen by the retry callback, on the calling thread. */
struct retry_log {
    pthread_t thread;
    int calls;
    int wrong_thread;
    uint16_t last_status;
    uint64_t last_delay_ms;
};

static void retry_cb(void *userdata, const char *method, const char *path, uint32_t attempt,
                     uint16_t status, const char *reason, uint64_t delay_ms) {
    struct retry_log *log = userdata;
    log->calls++;
    if (!pthread_equal(log->thread, pthread_self())) log->wrong_thread = 1;
    if (method == NULL || path == NULL || reason == NULL || attempt == 0) log->wrong_thread = 1;
    log->last_status = status;
    log->last_delay_ms = delay_ms;
}

static void test_cancel_stream_retry_and_error_data(ocireg_test_registry *reg, const char *url) {
    ocireg_error *err = NULL;
    ocireg_client *client = make_client(url, NULL, NULL);
    ocireg_string_list *list = NULL;

    /* A triggered handle cancels every call of a client bound to it. */
    ocireg_cancel *cancel = NULL;
    EXPECT(OCIREG_OK, ocireg_cancel_new(&cancel, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_cancel_new(NULL, &err));
    CHECK(ocireg_cancel_is_triggered(cancel) == 0 && ocireg_cancel_is_triggered(NULL) == 0);
    ocireg_client *bound = NULL;
    EXPECT(OCIREG_OK, ocireg_client_bind(client, cancel, 0, &bound, &err));
    EXPECT(OCIREG_OK, ocireg_tags(bound, "team/app", &list, &err));
    ocireg_string_list_free(list);
    list = NULL;
    ocireg_cancel_trigger(cancel);
    ocireg_cancel_trigger(NULL);
    CHECK(ocireg_cancel_is_triggered(cancel) == 1);
    EXPECT(OCIREG_CANCELLED, ocireg_tags(bound, "team/app", &list, &err));
    CHECK(streq(ocireg_client_registry(bound), ocireg_client_registry(client)));
    EXPECT(OCIREG_OK, ocireg_tags(client, "team/app", &list, &err)); /* the original is untouched */
    ocireg_string_list_free(list);
    list = NULL;
    ocireg_client_free(bound);
    bound = NULL;
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_client_bind(NULL, NULL, 0, &bound, &err));
    /* A deadline: bound calls still work well within it. */
    EXPECT(OCIREG_OK, ocireg_client_bind(client, NULL, 60000, &bound, &err));
    EXPECT(OCIREG_OK, ocireg_tags(bound, "team/app", &list, &err));
    ocireg_string_list_free(list);
    list = NULL;
    ocireg_client_free(bound);
    ocireg_cancel_free(cancel);
    ocireg_cancel_free(NULL);

    /* A client built from options bound to a handle: cancelled with it. */
    ocireg_options *bound_opts = NULL;
    ocireg_client *from_opts = NULL;
    EXPECT(OCIREG_OK, ocireg_cancel_new(&cancel, &err));
    EXPECT(OCIREG_OK, ocireg_options_new(&bound_opts, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_anonymous(bound_opts, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_cancel(bound_opts, cancel, &err));
    EXPECT(OCIREG_OK, ocireg_client_new(url, bound_opts, &from_opts, &err));
    ocireg_options_free(bound_opts);
    EXPECT(OCIREG_OK, ocireg_tags(from_opts, "team/app", &list, &err));
    ocireg_string_list_free(list);
    list = NULL;
    ocireg_cancel_trigger(cancel);
    EXPECT(OCIREG_CANCELLED, ocireg_tags(from_opts, "team/app", &list, &err));
    ocireg_client_free(from_opts);
    ocireg_cancel_free(cancel);

    /* A blob read as a stream, verified at its end. */
    static const char data[] = "streamed blob content, read in small pieces";
    char *digest = NULL;
    EXPECT(OCIREG_OK, ocireg_test_registry_add_blob(reg, "team/app", (const uint8_t *)data, sizeof data - 1, &digest, &err));
    ocireg_blob_reader *reader = NULL;
    EXPECT(OCIREG_OK, ocireg_blob_reader_open(client, "team/app", digest, NULL, &reader, &err));
    CHECK(ocireg_blob_reader_size(reader) == sizeof data - 1 && ocireg_blob_reader_size(NULL) == 0);
    char got[128];
    size_t total = 0, n = 0;
    do {
        EXPECT(OCIREG_OK, ocireg_blob_reader_read(reader, (uint8_t *)got + total, 5, &n, &err));
        total += n;
    } while (n > 0 && total + 5 < sizeof got);
    CHECK(total == sizeof data - 1 && memcmp(got, data, total) == 0);
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_blob_reader_read(reader, NULL, 5, &n, &err));
    ocireg_blob_reader_free(reader);
    ocireg_blob_reader_free(NULL);
    reader = NULL;
    EXPECT(OCIREG_NOT_FOUND, ocireg_blob_reader_open(client, "team/app", "sha256:0000000000000000000000000000000000000000000000000000000000000000", NULL, &reader, &err));
    CHECK(reader == NULL);
    ocireg_string_free(digest);

    /* Every registry error entry, and the body, as data. */
    uint8_t *manifest = NULL;
    size_t mlen = 0;
    ocireg_status st = ocireg_manifest_get(client, "team/app", "no-such-tag", &manifest, &mlen, NULL, NULL, &err);
    CHECK(st == OCIREG_NOT_FOUND);
    CHECK(ocireg_error_registry_error_count(err) >= 1);
    CHECK(streq(ocireg_error_registry_error_code(err, 0), "MANIFEST_UNKNOWN"));
    CHECK(ocireg_error_registry_error_message(err, 0) != NULL);
    CHECK(ocireg_error_registry_error_code(err, 99) == NULL && ocireg_error_registry_error_message(err, 99) == NULL);
    (void)ocireg_error_registry_error_detail(err, 0);
    CHECK(ocireg_error_registry_error_detail(err, 99) == NULL);
    CHECK(ocireg_error_body(err) != NULL && strstr(ocireg_error_body(err), "MANIFEST_UNKNOWN") != NULL);
    CHECK(ocireg_error_registry_error_count(NULL) == 0 && ocireg_error_body(NULL) == NULL);
    ocireg_error_free(err);
    err = NULL;

    /* The backoff policy and the retry callback, on this thread. */
    ocireg_options *opts = NULL;
    EXPECT(OCIREG_OK, ocireg_options_new(&opts, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_backoff(opts, 10, 2.0, 50, 0, 0.0, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_backoff(opts, 10, 0.5, 50, 0, 0.0, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_backoff(opts, 10, 2.0, 50, 0, 1.5, &err));
    struct retry_log log = {pthread_self(), 0, 0, 0, 0};
    EXPECT(OCIREG_OK, ocireg_options_set_retry_notify(opts, retry_cb, &log, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_retry_notify(NULL, retry_cb, &log, &err));
    ocireg_client *retrying = NULL;
    EXPECT(OCIREG_OK, ocireg_client_new(url, opts, &retrying, &err));
    EXPECT(OCIREG_OK, ocireg_test_registry_fail_next(reg, 2, 503, -1, &err));
    EXPECT(OCIREG_OK, ocireg_tags(retrying, "team/app", &list, &err));
    ocireg_string_list_free(list);
    list = NULL;
    CHECK(log.calls == 2 && !log.wrong_thread);
    CHECK(log.last_status == 503 && log.last_delay_ms == 20);
    ocireg_client_free(retrying);
    ocireg_options_free(opts);
    ocireg_client_free(client);
}

static void test_registry_operations(ocireg_test_registry *reg, const char *url) {
    ocireg_error *err = NULL;
    ocireg_client *client = make_client(url, NULL, NULL);
    static const uint8_t cfg[] = "{\"architecture\":\"amd64\",\"os\":\"linux\"}";
    const uint8_t *layers[1] = {(const uint8_t *)"ops layer"};
    size_t lens[1] = {9};
    char *digest = NULL;
    EXPECT(OCIREG_OK, ocireg_test_registry_add_image(reg, "ops/src", "v1", cfg, sizeof cfg - 1, layers, lens, 1, &digest, &err));

    /* Copy within the registry (mounts), then retag. */
    ocireg_pushed *copied = NULL;
    EXPECT(OCIREG_OK, ocireg_copy(client, "ops/src", "v1", NULL, "ops/dst", "v1", 0, NULL, NULL, NULL, &copied, &err));
    CHECK(streq(ocireg_pushed_digest(copied), digest));
    ocireg_pushed_free(copied);
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_copy(client, "ops/src", "v1", NULL, "ops/dst", "v1", 65, NULL, NULL, NULL, &copied, &err));
    /* To another client (streamed): the same registry through a second client. */
    ocireg_client *other = make_client(url, NULL, NULL);
    EXPECT(OCIREG_OK, ocireg_copy(client, "ops/src", "v1", other, "ops/far", "v2", 2, "linux/amd64", NULL, NULL, &copied, &err));
    CHECK(streq(ocireg_pushed_digest(copied), digest));
    ocireg_pushed_free(copied);
    ocireg_client_free(other);
    EXPECT(OCIREG_OK, ocireg_retag(client, "ops/src", "v1", "ops/src", "v1-again", NULL, &err));
    ocireg_pushed *tagged = NULL;
    EXPECT(OCIREG_OK, ocireg_retag(client, "ops/src", "v1", "ops/src", "v1-third", &tagged, &err));
    CHECK(streq(ocireg_pushed_digest(tagged), digest));
    ocireg_pushed_free(tagged);

    /* Tags with digests. */
    char *json = NULL;
    EXPECT(OCIREG_OK, ocireg_tags_with_digests(client, "ops/src", &json, &err));
    CHECK(json != NULL && strstr(json, "\"tag\":\"v1-again\"") != NULL && strstr(json, digest) != NULL);
    ocireg_string_free(json);
    json = NULL;

    /* The descriptor of a platform: the manifest itself, its config being linux/amd64. */
    EXPECT(OCIREG_OK, ocireg_platform_descriptor(client, "ops/src", "v1", "linux/amd64", &json, &err));
    CHECK(json != NULL && strstr(json, digest) != NULL);
    ocireg_string_free(json);
    json = NULL;
    EXPECT(OCIREG_NOT_FOUND, ocireg_platform_descriptor(client, "ops/src", "v1", "linux/s390x", &json, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_platform_descriptor(client, "ops/src", "v1", "linux", &json, &err));

    /* Sizes of a manifest. */
    uint8_t *manifest = NULL;
    size_t mlen = 0;
    EXPECT(OCIREG_OK, ocireg_manifest_get(client, "ops/src", "v1", &manifest, &mlen, NULL, NULL, &err));
    uint64_t image_size = 0, layers_size = 0;
    EXPECT(OCIREG_OK, ocireg_manifest_sizes(manifest, mlen, NULL, &image_size, &layers_size, &err));
    CHECK(layers_size == 9 && image_size == 9 + sizeof cfg - 1);
    EXPECT(OCIREG_OK, ocireg_manifest_sizes(manifest, mlen, NULL, NULL, NULL, &err));
    ocireg_bytes_free(manifest, mlen);
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_manifest_sizes((const uint8_t *)"nope", 4, NULL, &image_size, NULL, &err));

    /* Layers into a directory. */
    char dir[256];
    tmp_path(dir, sizeof dir, "layers");
    EXPECT(OCIREG_OK, ocireg_pull_layers(client, "ops/src", "v1", dir, NULL, 0, NULL, NULL, &json, &err));
    CHECK(json != NULL && strstr(json, "\"downloaded\":true") != NULL);
    ocireg_string_free(json);
    json = NULL;
    EXPECT(OCIREG_OK, ocireg_pull_layers(client, "ops/src", "v1", dir, "linux/amd64", 1, NULL, NULL, NULL, &err));

    /* Delete by tag: the test registry deletes the tag alone (OCI 1.1). */
    EXPECT(OCIREG_OK, ocireg_delete_tag(client, "ops/src", "v1-again", 1, 1, &json, &err));
    CHECK(json != NULL && strstr(json, "\"removedTags\":[\"v1-again\"") != NULL);
    ocireg_string_free(json);
    json = NULL;
    EXPECT(OCIREG_OK, ocireg_delete_tag(client, "ops/src", "v1-third", 1, 0, NULL, &err));
    EXPECT(OCIREG_NOT_FOUND, ocireg_delete_tag(client, "ops/src", "no-such-tag", 1, 0, NULL, &err));
    ocireg_string_free(digest);
    ocireg_client_free(client);
}

static void test_login_logout(void) {
    ocireg_error *err = NULL;
    ocireg_test_registry *reg = NULL;
    EXPECT(OCIREG_OK, ocireg_test_registry_start(OCIREG_TEST_AUTH_BASIC, "alice:secret", &reg, &err));
    const char *url = ocireg_test_registry_url(reg);
    char config[128];
    tmp_path(config, sizeof config, "docker/config.json");
    char *stored = NULL;

    EXPECT(OCIREG_AUTHENTICATION, ocireg_login(url, "alice", "wrong", config, NULL, &stored, &err));
    CHECK(stored == NULL && !file_exists(config));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_login(url, NULL, "secret", config, NULL, &stored, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_login(url, "alice", BAD_UTF8, config, NULL, &stored, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_login(url, "", "secret", config, NULL, &stored, &err));

    ocireg_options *opts = NULL;
    EXPECT(OCIREG_OK, ocireg_options_new(&opts, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_max_retries(opts, 0, &err));
    /* Options bound to a triggered cancel handle: the login's check is cancelled, nothing stored. */
    ocireg_cancel *cancel = NULL;
    EXPECT(OCIREG_OK, ocireg_cancel_new(&cancel, &err));
    ocireg_cancel_trigger(cancel);
    EXPECT(OCIREG_OK, ocireg_options_set_cancel(opts, cancel, &err));
    ocireg_cancel_free(cancel); /* the options keep what they need */
    EXPECT(OCIREG_CANCELLED, ocireg_login(url, "alice", "secret", config, opts, &stored, &err));
    CHECK(stored == NULL && !file_exists(config));
    EXPECT(OCIREG_OK, ocireg_options_set_cancel(opts, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_options_set_cancel(NULL, NULL, &err));
    EXPECT(OCIREG_OK, ocireg_login(url, "alice", "secret", config, opts, &stored, &err));
    CHECK(stored != NULL && strncmp(stored, "config file ", 12) == 0 && strstr(stored, "config.json") != NULL);
    ocireg_string_free(stored);
    stored = NULL;
    CHECK(file_exists(config));
    char text[4096];
    long n = read_file(config, text, sizeof text - 1);
    CHECK(n > 0);
    if (n > 0) {
        text[n] = '\0';
        CHECK(strstr(text, "\"auths\"") != NULL && strstr(text, "secret") == NULL); /* base64, not clear */
    }

    /* A client that finds the stored credentials. */
    ocireg_options *from_file = NULL;
    ocireg_client *client = NULL;
    EXPECT(OCIREG_OK, ocireg_options_new(&from_file, &err));
    EXPECT(OCIREG_OK, ocireg_options_set_docker_config(from_file, config, &err));
    EXPECT(OCIREG_OK, ocireg_client_new(url, from_file, &client, &err));
    CHECK(ocireg_client_credential_source(client) != NULL &&
          strncmp(ocireg_client_credential_source(client), "config file ", 12) == 0);
    EXPECT(OCIREG_OK, ocireg_ping(client, &err));
    ocireg_client_free(client);
    client = NULL;

    /* The docker config of the options is used when none is given explicitly. */
    EXPECT(OCIREG_OK, ocireg_login(url, "alice", "secret", NULL, from_file, NULL, &err));

    int out = -1;
    EXPECT(OCIREG_OK, ocireg_logout(url, config, &out, &err));
    CHECK(out == 1);
    EXPECT(OCIREG_OK, ocireg_logout(url, config, &out, &err));
    CHECK(out == 0);
    EXPECT(OCIREG_OK, ocireg_logout(url, config, NULL, &err));
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_logout(NULL, config, &out, &err));
    EXPECT(OCIREG_OK, ocireg_client_new(url, from_file, &client, &err));
    CHECK(streq(ocireg_client_credential_source(client), "anonymous"));
    EXPECT(OCIREG_AUTHENTICATION, ocireg_ping(client, &err));
    ocireg_client_free(client);
    client = NULL;

    /* A corrupt config file is a credentials error, and is left alone. */
    static const char corrupt[] = "{ this is not json";
    CHECK(write_file(config, corrupt, sizeof corrupt - 1));
    EXPECT(OCIREG_CREDENTIALS, ocireg_client_new(url, from_file, &client, &err));
    EXPECT(OCIREG_CREDENTIALS, ocireg_login(url, "alice", "secret", config, opts, NULL, &err));
    EXPECT(OCIREG_CREDENTIALS, ocireg_logout(url, config, &out, &err));
    n = read_file(config, text, sizeof text - 1);
    CHECK(n == (long)(sizeof corrupt - 1));

    ocireg_options_free(from_file);
    ocireg_options_free(opts);
    ocireg_test_registry_free(reg);
}

/* ---------------------------------------------------------------- panics */

static void test_panic_boundary(void) {
    ocireg_error *err = NULL;
    fprintf(stderr, "note: the next two panics are deliberate (ocireg_test_panic)\n");
    ocireg_status st = ocireg_test_panic("boom", &err);
    CHECK(st == OCIREG_PANIC && (int)st == 99);
    CHECK(ocireg_error_status(err) == OCIREG_PANIC);
    CHECK(streq(ocireg_error_message(err), "panic: boom"));
    ocireg_error_free(err);
    err = NULL;
    CHECK(ocireg_test_panic(NULL, NULL) == OCIREG_PANIC);
    EXPECT(OCIREG_INVALID_ARGUMENT, ocireg_test_panic(BAD_UTF8, &err));
}

/* ---------------------------------------------------------------- main */

int main(void) {
    ocireg_error *err = NULL;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ocireg-c-test-XXXXXX");
    if (mkdtemp(g_tmp) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_versions_and_statuses();
    test_null_safety_of_accessors_and_frees();
    test_options();
    test_test_registry_api();

    ocireg_test_registry *reg = NULL;
    EXPECT(OCIREG_OK, ocireg_test_registry_start(OCIREG_TEST_AUTH_NONE, NULL, &reg, &err));
    if (reg == NULL) {
        fprintf(stderr, "cannot start the test registry\n");
        printf("%d passed, %d failed\n", g_passed, g_failed + 1);
        return 1;
    }
    const char *url = ocireg_test_registry_url(reg);
    const char *host = ocireg_test_registry_host(reg);
    static const uint8_t cfg[] = "{\"os\":\"linux\"}";
    const uint8_t *layers[2] = {(const uint8_t *)"layer one", (const uint8_t *)"layer two"};
    size_t lens[2] = {9, 9};
    char *v1_digest = NULL;
    EXPECT(OCIREG_OK, ocireg_test_registry_add_image(reg, "team/app", "v1", cfg, sizeof cfg - 1, layers, lens, 2, &v1_digest, &err));
    EXPECT(OCIREG_OK, ocireg_test_registry_add_image(reg, "team/app", "v2", cfg, sizeof cfg - 1, layers, lens, 1, NULL, &err));
    EXPECT(OCIREG_OK, ocireg_test_registry_add_image(reg, "team/other", "latest", cfg, sizeof cfg - 1, NULL, NULL, 0, NULL, &err));
    EXPECT(OCIREG_OK, ocireg_test_registry_add_image(reg, "library/base", "1.0", cfg, sizeof cfg - 1, NULL, NULL, 0, NULL, &err));

    test_client_new(url, host);
    test_listing(url);
    test_manifests(reg, url, v1_digest);
    test_registry_errors(reg, url);
    test_one_client_many_threads(url);
    test_blobs(url);
    test_push_verify_pull(reg, url);
    test_cancel_stream_retry_and_error_data(reg, url);
    test_registry_operations(reg, url);
    test_auth(OCIREG_TEST_AUTH_BASIC);
    test_auth(OCIREG_TEST_AUTH_BEARER);
    test_login_logout();
    test_panic_boundary();

    ocireg_string_free(v1_digest);
    ocireg_test_registry_free(reg);
    rm_rf(g_tmp);

    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
