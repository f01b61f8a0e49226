#!/usr/bin/env bash
# Proves a running rig with curl and skopeo:  bash tests/rig/selftest.sh DIR   (after rig.sh start DIR)
# Ends with "N passed, M failed" on its own line; exits non-zero when anything failed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
[ -f "$1/env" ] || { echo "selftest: $1/env not found; run rig.sh start $1 first" >&2; exit 2; }
# shellcheck disable=SC1091
. "$1/env"
PY="${OCIREG_RIG_VENV:-/tmp/ocireg-rig-venv}/bin/python"
[ -x "$PY" ] || PY=python3

W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
# No stray credentials from ~/.docker or $XDG_RUNTIME_DIR, and no reliance on policy.json.
echo '{"auths":{}}' >"$W/auth.json"
export REGISTRY_AUTH_FILE="$W/auth.json"
SKOPEO=(skopeo --insecure-policy)
CREDS="$OCIREG_RIG_USER:$OCIREG_RIG_PASSWORD"
ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json'

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); printf 'ok   %s\n' "$1"; }
bad() {
    FAIL=$((FAIL + 1)); printf 'FAIL %s\n' "$1"
    [ -z "${2:-}" ] || printf '%s\n' "$2" | tail -n 8 | sed 's/^/       | /'
}
# run NAME CMD...: passes when CMD exits 0
run() {
    local name="$1" out; shift
    if out="$("$@" 2>&1)"; then ok "$name"; else bad "$name" "$out"; fi
}
# refuse NAME PATTERN CMD...: passes when CMD exits non-zero and its output matches PATTERN (grep -E)
refuse() {
    local name="$1" pat="$2" out; shift 2
    if out="$("$@" 2>&1)"; then bad "$name (unexpectedly succeeded)" "$out"
    elif printf '%s' "$out" | grep -qiE -- "$pat"; then ok "$name"
    else bad "$name (failed, but not with /$pat/)" "$out"; fi
}
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" 2>/dev/null || true; }
# expect NAME WANT CURL-ARGS...
expect() {
    local name="$1" want="$2" got; shift 2
    got="$(code "$@")"
    if [ "$got" = "$want" ]; then ok "$name ($got)"; else bad "$name: want HTTP $want, got ${got:-nothing}"; fi
}
json() { "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }
token_from() { json 'd["token"]' 2>/dev/null || true; }
stat_requests() { curl -s --max-time 5 "$1/stats" | json 'd["token_requests"]' 2>/dev/null || echo -1; }

# ---------------------------------------------------------------- image
digest="$(bash "$HERE/make-oci-layout.sh" "$W/img" latest "rig selftest $$")" || { echo "cannot build OCI layout" >&2; exit 1; }
SRC="oci:$W/img:latest"
[ -f "$W/img/index.json" ] && [ -f "$W/img/oci-layout" ] && ok "built OCI layout ($digest)" || bad "built OCI layout"

# ---------------------------------------------------------------- open
O="$OCIREG_RIG_OPEN"
expect "open: GET /v2/" 200 "http://$O/v2/"
run "open: skopeo push" "${SKOPEO[@]}" copy -q --dest-tls-verify=false "$SRC" "docker://$O/selftest/hello:v1"
raw="$("${SKOPEO[@]}" inspect --raw --tls-verify=false "docker://$O/selftest/hello:v1" 2>&1)"
if [ "sha256:$(printf '%s' "$raw" | sha256sum | cut -d' ' -f1)" = "$digest" ]; then
    ok "open: skopeo inspect --raw gives the pushed manifest"
else bad "open: skopeo inspect --raw gives the pushed manifest" "$raw"; fi
run "open: skopeo pull" "${SKOPEO[@]}" copy -q --src-tls-verify=false "docker://$O/selftest/hello:v1" "oci:$W/pulled:v1"
if [ -f "$W/pulled/blobs/sha256/${digest#sha256:}" ]; then ok "open: pulled layout holds the same manifest"
else bad "open: pulled layout holds the same manifest" "$(ls "$W/pulled/blobs/sha256" 2>&1)"; fi
tags="$(curl -s "http://$O/v2/selftest/hello/tags/list")"
case "$tags" in *'"v1"'*) ok "open: tags/list has v1" ;; *) bad "open: tags/list has v1" "$tags" ;; esac
expect "open: manifest GET with OCI Accept" 200 -H "$ACCEPT" "http://$O/v2/selftest/hello/manifests/v1"

# ---------------------------------------------------------------- basic
B="$OCIREG_RIG_BASIC"
expect "basic: /v2/ without credentials" 401 "http://$B/v2/"
hdr="$(curl -s -D - -o /dev/null "http://$B/v2/" | tr -d '\r' | grep -i '^www-authenticate:' || true)"
case "$hdr" in *'Basic realm='*) ok "basic: Basic challenge" ;; *) bad "basic: Basic challenge" "$hdr" ;; esac
expect "basic: /v2/ with alice:secret" 200 -u "$CREDS" "http://$B/v2/"
expect "basic: /v2/ with a wrong password" 401 -u "$OCIREG_RIG_USER:wrong" "http://$B/v2/"
run "basic: skopeo push with creds" "${SKOPEO[@]}" copy -q --dest-tls-verify=false --dest-creds "$CREDS" "$SRC" "docker://$B/selftest/hello:v1"
refuse "basic: skopeo push without creds is refused" "unauthorized" "${SKOPEO[@]}" copy -q --dest-tls-verify=false "$SRC" "docker://$B/selftest/nocreds:v1"

# ---------------------------------------------------------------- token
T="$OCIREG_RIG_TOKEN"
TS="$OCIREG_RIG_TOKEN_SERVER"
SVC="$OCIREG_RIG_TOKEN_SERVICE"
expect "token server: /healthz" 200 "$TS/healthz"
expect "token: /v2/ without token" 401 "http://$T/v2/"
hdr="$(curl -s -D - -o /dev/null "http://$T/v2/" | tr -d '\r' | grep -i '^www-authenticate:' || true)"
case "$hdr" in
    *"Bearer realm=\"$TS/token\",service=\"$SVC\""*) ok "token: Bearer challenge names the token server" ;;
    *) bad "token: Bearer challenge names the token server" "$hdr" ;;
esac
body="$(curl -s -u "$OCIREG_RIG_USER:wrong" "$TS/token?service=$SVC&scope=repository:selftest/hello:pull")"
c="$(code -u "$OCIREG_RIG_USER:wrong" "$TS/token?service=$SVC")"
if [ "$c" = 401 ] && [ "$body" = '{"errors":[{"code":"UNAUTHORIZED","message":"invalid username/password"}]}' ]; then
    ok "token server: wrong password is 401 invalid username/password"
else bad "token server: wrong password is 401 invalid username/password" "$c $body"; fi
run "token: skopeo push as alice" "${SKOPEO[@]}" copy -q --dest-tls-verify=false --dest-creds "$CREDS" "$SRC" "docker://$T/selftest/hello:v1"
run "token: skopeo push public/x as alice" "${SKOPEO[@]}" copy -q --dest-tls-verify=false --dest-creds "$CREDS" "$SRC" "docker://$T/public/x:v1"

before="$(stat_requests "$TS")"
tok="$(curl -s -u "$CREDS" "$TS/token?service=$SVC&scope=repository:selftest/hello:pull&account=$OCIREG_RIG_USER" | token_from)"
[ -n "$tok" ] && ok "token server: token for alice" || bad "token server: token for alice"
tags="$(curl -s -H "Authorization: Bearer $tok" "http://$T/v2/selftest/hello/tags/list")"
case "$tags" in *'"v1"'*) ok "token: list tags with alice's token" ;; *) bad "token: list tags with alice's token" "$tags" ;; esac
anon="$(curl -s "$TS/token?service=$SVC&scope=repository:public/x:pull" | token_from)"
after="$(stat_requests "$TS")"
if [ "$((after - before))" = 2 ]; then ok "token server: /stats counted 2 token requests"
else bad "token server: /stats counted 2 token requests" "before=$before after=$after"; fi
expect "token: anonymous pull of public/x (manifest GET)" 200 -H "Authorization: Bearer $anon" -H "$ACCEPT" "http://$T/v2/public/x/manifests/v1"
run "token: anonymous skopeo inspect public/x" "${SKOPEO[@]}" inspect --tls-verify=false "docker://$T/public/x:v1"
anon2="$(curl -s "$TS/token?service=$SVC&scope=repository:selftest/hello:pull" | token_from)"
expect "token: anonymous pull of selftest/hello refused" 401 -H "Authorization: Bearer $anon2" "http://$T/v2/selftest/hello/tags/list"
anon3="$(curl -s "$TS/token?service=$SVC&scope=repository:public/x:pull,push" | token_from)"
expect "token: anonymous push to public/x refused (POST uploads)" 401 -X POST -H "Authorization: Bearer $anon3" "http://$T/v2/public/x/blobs/uploads/"
refuse "token: anonymous skopeo push to public/x refused" "denied" "${SKOPEO[@]}" copy -q --dest-tls-verify=false "$SRC" "docker://$T/public/x:anon"
resp="$(curl -s -X POST --data-urlencode grant_type=password --data-urlencode "username=$OCIREG_RIG_USER" \
    --data-urlencode "password=$OCIREG_RIG_PASSWORD" --data-urlencode access_type=offline \
    --data-urlencode client_id=selftest --data-urlencode "service=$SVC" \
    --data-urlencode 'scope=registry:catalog:*' "$TS/token")"
rt="$(printf '%s' "$resp" | json 'd["refresh_token"]' 2>/dev/null || true)"
[ -n "$rt" ] && ok "token server: OAuth password grant with access_type=offline gives a refresh_token" ||
    bad "token server: OAuth password grant with access_type=offline gives a refresh_token" "$resp"
tok="$(curl -s -X POST --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$rt" \
    --data-urlencode client_id=selftest --data-urlencode "service=$SVC" \
    --data-urlencode 'scope=registry:catalog:* repository:selftest/hello:pull' "$TS/token" | token_from)"
expect "token: catalog with a token from the refresh_token grant" 200 -H "Authorization: Bearer $tok" "http://$T/v2/_catalog"
expect "token server: unknown refresh_token is 401" 401 -X POST -d grant_type=refresh_token -d refresh_token=nope "$TS/token"

# ---------------------------------------------------------------- token_short (TTL 5 s)
TSS="$OCIREG_RIG_TOKEN_SERVER_SHORT"
resp="$(curl -s -u "$CREDS" "$TSS/token?service=$SVC&scope=repository:selftest/hello:pull")"
ttl="$(printf '%s' "$resp" | json 'd["expires_in"]' 2>/dev/null || true)"
[ "$ttl" = "$OCIREG_RIG_TOKEN_SHORT_TTL" ] && ok "token_short: expires_in is $ttl" || bad "token_short: expires_in is $OCIREG_RIG_TOKEN_SHORT_TTL" "$resp"
tok="$(printf '%s' "$resp" | token_from)"
expect "token_short: fresh token accepted" 200 -H "Authorization: Bearer $tok" "http://$OCIREG_RIG_TOKEN_SHORT/v2/"
sleep "$((OCIREG_RIG_TOKEN_SHORT_TTL + 1))"
hdr="$(curl -s -D - -o /dev/null -H "Authorization: Bearer $tok" "http://$OCIREG_RIG_TOKEN_SHORT/v2/" | tr -d '\r')"
case "$hdr" in
    *' 401 '*'error="invalid_token"'*) ok "token_short: the same token is refused after $((OCIREG_RIG_TOKEN_SHORT_TTL + 1)) s (invalid_token)" ;;
    *) bad "token_short: the same token is refused after $((OCIREG_RIG_TOKEN_SHORT_TTL + 1)) s" "$hdr" ;;
esac
tok="$(curl -s -u "$CREDS" "$TSS/token?service=$SVC" | token_from)"
expect "token_short: a renewed token is accepted" 200 -H "Authorization: Bearer $tok" "http://$OCIREG_RIG_TOKEN_SHORT/v2/"

# ---------------------------------------------------------------- tls
S="$OCIREG_RIG_TLS"
expect "tls: /v2/ with --cacert" 200 --cacert "$OCIREG_RIG_CA" "https://$S/v2/"
expect "tls: https://localhost:port with --cacert" 200 --cacert "$OCIREG_RIG_CA" "https://localhost:${S##*:}/v2/"
refuse "tls: /v2/ without the CA fails" "^curl: \(60\)" curl -sS -o /dev/null --max-time 10 "https://$S/v2/"
run "tls: skopeo push with --dest-cert-dir" "${SKOPEO[@]}" copy -q --dest-cert-dir "$OCIREG_RIG_CERTS_D" "$SRC" "docker://$S/selftest/hello:v1"
refuse "tls: skopeo inspect without the CA fails" "unknown authority" "${SKOPEO[@]}" inspect "docker://$S/selftest/hello:v1"

# ---------------------------------------------------------------- mtls
M="$OCIREG_RIG_MTLS"
expect "mtls: /v2/ with the client cert" 200 --cacert "$OCIREG_RIG_CA" --cert "$OCIREG_RIG_CLIENT_CERT" --key "$OCIREG_RIG_CLIENT_KEY" "https://$M/v2/"
refuse "mtls: /v2/ without a client cert fails" "certificate|alert|^curl: \((35|55|56)\)" curl -sSf -o /dev/null --max-time 10 --cacert "$OCIREG_RIG_CA" "https://$M/v2/"
refuse "mtls: /v2/ with a client cert from another CA fails" "certificate|alert|^curl: \((35|55|56)\)" curl -sSf -o /dev/null --max-time 10 --cacert "$OCIREG_RIG_CA" \
    --cert "$OCIREG_RIG_UNTRUSTED_CLIENT_CERT" --key "$OCIREG_RIG_UNTRUSTED_CLIENT_KEY" "https://$M/v2/"
run "mtls: skopeo push with --dest-cert-dir (CA + client cert)" "${SKOPEO[@]}" copy -q --dest-cert-dir "$OCIREG_RIG_CERTS_D" "$SRC" "docker://$M/selftest/hello:v1"

echo
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
