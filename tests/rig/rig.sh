#!/usr/bin/env bash
# Real-registry test rig: Debian's docker-registry 2.8 in six flavours plus two token issuers,
# all on 127.0.0.1, on ports chosen at run time, everything under one caller-made directory.
#
#   bash tests/rig/rig.sh start DIR   # generate keys/certs/configs, start, wait until ready
#   bash tests/rig/rig.sh env DIR     # print DIR/env (shell `export` lines)
#   bash tests/rig/rig.sh stop DIR    # stop what `start DIR` started; nothing is left listening
#
# Servers (names as in DIR/servers):
#   open         plain http, no auth                          OCIREG_RIG_OPEN
#   basic        htpasswd (alice / secret, bcrypt)            OCIREG_RIG_BASIC
#   token        auth.token, realm = token_server             OCIREG_RIG_TOKEN
#   token_short  auth.token, realm = token_server_short (TTL 5 s)  OCIREG_RIG_TOKEN_SHORT
#   tls          https with a throwaway CA, no auth           OCIREG_RIG_TLS
#   mtls         https + client certificates (clientcas), no other auth   OCIREG_RIG_MTLS
#   token_server, token_server_short   tests/rig/token_server.py
#
# Layout of DIR: auth/htpasswd, token/signing.{key,crt}, tls/{ca,server,client-ca,client,
# untrusted-client}.{key,crt}, tls/certs.d (skopeo --cert-dir), conf/*.yml, data/<server>/,
# logs/<server>.log, pids (one PID a line), servers (name pid starttime address), env.
#
# Settings (environment): OCIREG_RIG_VENV (default /tmp/ocireg-rig-venv),
# OCIREG_RIG_READY_TIMEOUT (s, default 20), OCIREG_RIG_STOP_TIMEOUT (s, default 10),
# OCIREG_RIG_TOKEN_TTL (default 300), OCIREG_RIG_TOKEN_SHORT_TTL (default 5),
# OCIREG_RIG_TOKEN_SHORT_EXP_SHIFT (default -60: the registry accepts a token up to 60 s past
# its "exp", so the short issuer moves "exp" back by 60 s and the registry really refuses the
# token TTL seconds after issue; expires_in still says TTL).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${OCIREG_RIG_VENV:-/tmp/ocireg-rig-venv}"
READY_TIMEOUT="${OCIREG_RIG_READY_TIMEOUT:-20}"
STOP_TIMEOUT="${OCIREG_RIG_STOP_TIMEOUT:-10}"
TOKEN_TTL="${OCIREG_RIG_TOKEN_TTL:-300}"
SHORT_TTL="${OCIREG_RIG_TOKEN_SHORT_TTL:-5}"
SHORT_EXP_SHIFT="${OCIREG_RIG_TOKEN_SHORT_EXP_SHIFT:--60}"
SERVICE=ocireg-rig
ISSUER=ocireg-rig-issuer
RIG_USER=alice
RIG_PASSWORD=secret
REGISTRIES=(open basic token token_short tls mtls)
TOKEN_SERVERS=(token_server token_server_short)
ALL=("${TOKEN_SERVERS[@]}" "${REGISTRIES[@]}")

say() { printf 'rig: %s\n' "$*" >&2; }
die() { printf 'rig: ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
    echo "usage: $0 start DIR | stop DIR | env DIR" >&2
    exit 2
}

abs_dir() {
    local d="$1"
    [ -d "$d" ] || die "directory $d does not exist (the caller makes it, e.g. d=\$(mktemp -d))"
    d="$(cd "$d" && pwd -P)"
    case "$d" in
        *[!A-Za-z0-9._/+-]*) die "rig directory path must be plain ([A-Za-z0-9._/+-]): $d" ;;
    esac
    printf '%s\n' "$d"
}

# ---------------------------------------------------------------- process helpers
proc_starttime() { # PID -> field 22 of /proc/PID/stat (empty if gone)
    local s
    s="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
    s="${s##*) }"
    # shellcheck disable=SC2086
    set -- $s
    printf '%s\n' "${20}"
}
proc_state() { # PID -> R/S/Z/... or empty if gone
    local s
    s="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
    s="${s##*) }"
    printf '%s\n' "${s%% *}"
}
proc_running() { # PID [STARTTIME]: alive, not a zombie, and the same process
    local st
    st="$(proc_state "$1")"
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ] || return 1
    [ -z "${2:-}" ] || [ "$(proc_starttime "$1")" = "$2" ]
}

# Stops the servers listed in DIR/servers (or DIR/pids). Quiet unless something is odd.
stop_servers() {
    local dir="$1" name pid st addr n=0
    local -a pids=() starts=() names=()
    if [ -f "$dir/servers" ]; then
        while read -r name pid st addr; do
            [ -n "${pid:-}" ] || continue
            names+=("$name"); pids+=("$pid"); starts+=("$st")
        done <"$dir/servers"
    elif [ -f "$dir/pids" ]; then
        while read -r pid; do
            [ -n "$pid" ] || continue
            names+=("pid"); pids+=("$pid"); starts+=("")
        done <"$dir/pids"
    fi
    local i
    for i in "${!pids[@]}"; do
        if proc_running "${pids[$i]}" "${starts[$i]}"; then
            kill -TERM "${pids[$i]}" 2>/dev/null || true
            n=$((n + 1))
        fi
    done
    # Bounded wait. A process killed from another shell stays a zombie until its parent
    # (often PID 1) reaps it; a zombie holds no sockets, so it counts as stopped.
    local deadline=$((SECONDS + STOP_TIMEOUT)) left
    while :; do
        left=()
        for i in "${!pids[@]}"; do
            proc_running "${pids[$i]}" "${starts[$i]}" && left+=("$i")
        done
        [ "${#left[@]}" -eq 0 ] && break
        if [ "$SECONDS" -ge "$deadline" ]; then
            for i in "${left[@]}"; do
                say "${names[$i]} (pid ${pids[$i]}) ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL"
                kill -KILL "${pids[$i]}" 2>/dev/null || true
            done
            sleep 0.2
            break
        fi
        sleep 0.02
    done
    rm -f "$dir/pids" "$dir/servers"
    STOPPED_COUNT=$n
}

# ---------------------------------------------------------------- key material
gen_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null && chmod 600 "$1"; }
rand_serial() { printf '0x%s' "$(openssl rand -hex 12)"; }

# self_signed KEY CRT CN EXT-SECTION-BODY
self_signed() {
    local cnf="$1.cnf"
    printf '[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=%s\n[ext]\n%s\n' "$3" "$4" >"$cnf"
    openssl req -new -x509 -config "$cnf" -extensions ext -key "$1" -out "$2" -days 3650 \
        -set_serial "$(rand_serial)" 2>/dev/null
    rm -f "$cnf"
}
# signed KEY CRT CN CA-CRT CA-KEY EXT-SECTION-BODY
signed() {
    local cnf="$2.cnf" csr="$2.csr"
    printf '[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=%s\n[ext]\n%s\n' "$3" "$6" >"$cnf"
    openssl req -new -config "$cnf" -key "$1" -out "$csr" 2>/dev/null
    openssl x509 -req -in "$csr" -CA "$4" -CAkey "$5" -set_serial "$(rand_serial)" -days 825 \
        -extfile "$cnf" -extensions ext -out "$2" 2>/dev/null
    rm -f "$cnf" "$csr"
}

CA_EXT='basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier=hash'
SERVER_EXT='basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid'
CLIENT_EXT='basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid'
# Like `openssl req -x509` with Debian's default v3_ca section (what the reference verified).
SIGNER_EXT='basicConstraints=critical,CA:TRUE
subjectKeyIdentifier=hash'

make_material() {
    local d="$1"
    mkdir -p "$d/auth" "$d/token" "$d/tls/certs.d"
    # htpasswd: bcrypt only (MD5 entries are always 401 on 2.8).
    htpasswd -Bbn "$RIG_USER" "$RIG_PASSWORD" >"$d/auth/htpasswd" 2>/dev/null ||
        die "htpasswd -Bbn failed"
    # The registry silently creates a missing htpasswd file with a random user: check first.
    grep -q "^$RIG_USER:\$2y\\$" "$d/auth/htpasswd" || die "$d/auth/htpasswd has no bcrypt entry for $RIG_USER"

    # Token signing key + self-signed cert (the registry's rootcertbundle).
    gen_key "$d/token/signing.key"
    self_signed "$d/token/signing.key" "$d/token/signing.crt" "ocireg-rig-token-signer" "$SIGNER_EXT"

    # TLS: server CA + server cert; client CA + client cert; a client cert from the wrong CA.
    local t="$d/tls"
    gen_key "$t/ca.key"
    self_signed "$t/ca.key" "$t/ca.crt" "ocireg rig test CA" "$CA_EXT"
    gen_key "$t/server.key"
    signed "$t/server.key" "$t/server.crt" "127.0.0.1" "$t/ca.crt" "$t/ca.key" "$SERVER_EXT"
    gen_key "$t/client-ca.key"
    self_signed "$t/client-ca.key" "$t/client-ca.crt" "ocireg rig client CA" "$CA_EXT"
    gen_key "$t/client.key"
    signed "$t/client.key" "$t/client.crt" "ocireg-rig-client" "$t/client-ca.crt" "$t/client-ca.key" "$CLIENT_EXT"
    gen_key "$t/untrusted-client.key"
    signed "$t/untrusted-client.key" "$t/untrusted-client.crt" "ocireg-rig-untrusted-client" \
        "$t/ca.crt" "$t/ca.key" "$CLIENT_EXT"
    # skopeo/containers cert dir: *.crt = CAs, *.cert + *.key = client identity.
    cp "$t/ca.crt" "$t/certs.d/ca.crt"
    cp "$t/client.crt" "$t/certs.d/client.cert"
    cp "$t/client.key" "$t/certs.d/client.key"
    local f
    for f in "$d/token/signing.crt" "$t/ca.crt" "$t/server.crt" "$t/client-ca.crt" "$t/client.crt"; do
        [ -s "$f" ] || die "failed to generate $f"
    done
}

# ---------------------------------------------------------------- configs
pick_ports() { # N -> N distinct free ports on 127.0.0.1, below the ephemeral range when possible
    "$PY" - "$1" <<'EOF'
import random, socket, sys
n = int(sys.argv[1])
try:
    lo_eph = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except Exception:
    lo_eph = 32768
lo, hi = 20000, min(lo_eph, 32768) - 1
held, ports = [], []
def try_bind(p):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        s.close()
        return None
    held.append(s)
    return s.getsockname()[1]
tries = 0
while len(ports) < n and hi - lo > 100 and tries < 2000:
    tries += 1
    p = try_bind(random.randint(lo, hi))
    if p and p not in ports:
        ports.append(p)
while len(ports) < n:   # fall back to the kernel's choice
    p = try_bind(0)
    if p not in ports:
        ports.append(p)
print(" ".join(map(str, ports)))
for s in held:
    s.close()
EOF
}

write_registry_config() { # NAME PORT EXTRA-YAML-FOR-HTTP EXTRA-TOP-LEVEL-YAML
    local name="$1" port="$2" http_extra="$3" top_extra="$4"
    mkdir -p "$D/data/$name"
    cat >"$D/conf/$name.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
  fields:
    service: rig-$name
storage:
  filesystem:
    rootdirectory: $D/data/$name
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: ocireg-rig-$name-not-a-secret
$http_extra$top_extra
EOF
}

write_configs() {
    local tls_http="  tls:
    certificate: $D/tls/server.crt
    key: $D/tls/server.key
"
    local mtls_http="  tls:
    certificate: $D/tls/server.crt
    key: $D/tls/server.key
    clientcas:
      - $D/tls/client-ca.crt
"
    write_registry_config open "${PORT[open]}" "" ""
    write_registry_config basic "${PORT[basic]}" "" "auth:
  htpasswd:
    realm: ocireg-rig-basic
    path: $D/auth/htpasswd
"
    write_registry_config token "${PORT[token]}" "" "auth:
  token:
    realm: http://127.0.0.1:${PORT[token_server]}/token
    service: $SERVICE
    issuer: $ISSUER
    rootcertbundle: $D/token/signing.crt
"
    write_registry_config token_short "${PORT[token_short]}" "" "auth:
  token:
    realm: http://127.0.0.1:${PORT[token_server_short]}/token
    service: $SERVICE
    issuer: $ISSUER
    rootcertbundle: $D/token/signing.crt
"
    write_registry_config tls "${PORT[tls]}" "$tls_http" ""
    write_registry_config mtls "${PORT[mtls]}" "$mtls_http" ""
}

# ---------------------------------------------------------------- spawn + readiness
declare -A PORT=() PID=()

spawn_all() {
    local name
    : >"$D/pids"
    : >"$D/servers"
    for name in "${TOKEN_SERVERS[@]}"; do
        local ttl="$TOKEN_TTL" shift=0
        if [ "$name" = token_server_short ]; then ttl="$SHORT_TTL"; shift="$SHORT_EXP_SHIFT"; fi
        TOKEN_LISTEN="127.0.0.1:${PORT[$name]}" TOKEN_KEY="$D/token/signing.key" \
            TOKEN_CERT="$D/token/signing.crt" TOKEN_ISSUER="$ISSUER" TOKEN_SERVICE="$SERVICE" \
            TOKEN_TTL="$ttl" TOKEN_EXP_SHIFT="$shift" TOKEN_USERS="$RIG_USER:$RIG_PASSWORD" \
            PYTHONUNBUFFERED=1 \
            "$PY" "$HERE/token_server.py" </dev/null >"$D/logs/$name.log" 2>&1 &
        PID[$name]=$!
        record "$name"
    done
    for name in "${REGISTRIES[@]}"; do
        docker-registry serve "$D/conf/$name.yml" </dev/null >"$D/logs/$name.log" 2>&1 &
        PID[$name]=$!
        record "$name"
    done
}

record() {
    local name="$1" pid="${PID[$1]}" st
    st="$(proc_starttime "$pid")"
    echo "$pid" >>"$D/pids"
    echo "$name $pid ${st:-0} 127.0.0.1:${PORT[$name]}" >>"$D/servers"
}

probe() { # NAME -> 0 when ready
    local name="$1" p="${PORT[$1]}" code want url
    local -a extra=()
    case "$name" in
        open) want=200; url="http://127.0.0.1:$p/v2/" ;;
        basic | token | token_short) want=401; url="http://127.0.0.1:$p/v2/" ;;
        tls) want=200; url="https://127.0.0.1:$p/v2/"; extra=(--cacert "$D/tls/ca.crt") ;;
        mtls) want=200; url="https://127.0.0.1:$p/v2/"
            extra=(--cacert "$D/tls/ca.crt" --cert "$D/tls/client.crt" --key "$D/tls/client.key") ;;
        token_server | token_server_short) want=200; url="http://127.0.0.1:$p/healthz" ;;
    esac
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${extra[@]}" "$url" 2>/dev/null || true)"
    [ "$code" = "$want" ]
}

# Returns 0 when all are ready; 1 on a port clash (caller retries); dies otherwise.
wait_ready() {
    local deadline=$((SECONDS + READY_TIMEOUT)) name
    local -a pending=("${ALL[@]}") still
    FAILED=""
    while [ "${#pending[@]}" -gt 0 ]; do
        still=()
        for name in "${pending[@]}"; do
            if probe "$name"; then
                continue
            fi
            if ! proc_running "${PID[$name]}"; then
                FAILED="$name"
                FAIL_WHY="exited before it was ready"
                return 1
            fi
            still+=("$name")
        done
        pending=("${still[@]+"${still[@]}"}")
        [ "${#pending[@]}" -eq 0 ] && break
        if [ "$SECONDS" -ge "$deadline" ]; then
            FAILED="${pending[0]}"
            FAIL_WHY="not ready after ${READY_TIMEOUT}s (also pending: ${pending[*]:1})"
            return 1
        fi
        sleep 0.03
    done
    return 0
}

write_env() {
    local tmp="$D/env.tmp" k v
    {
        echo "# ocireg test rig, started $(date -u +%Y-%m-%dT%H:%M:%SZ) by tests/rig/rig.sh"
        while IFS='=' read -r k v; do
            printf 'export %s=%q\n' "$k" "$v"
        done <<EOF
OCIREG_RIG_DIR=$D
OCIREG_RIG_OPEN=127.0.0.1:${PORT[open]}
OCIREG_RIG_BASIC=127.0.0.1:${PORT[basic]}
OCIREG_RIG_TOKEN=127.0.0.1:${PORT[token]}
OCIREG_RIG_TOKEN_SHORT=127.0.0.1:${PORT[token_short]}
OCIREG_RIG_TOKEN_SERVER=http://127.0.0.1:${PORT[token_server]}
OCIREG_RIG_TOKEN_SERVER_SHORT=http://127.0.0.1:${PORT[token_server_short]}
OCIREG_RIG_TOKEN_SERVICE=$SERVICE
OCIREG_RIG_TOKEN_ISSUER=$ISSUER
OCIREG_RIG_TOKEN_TTL=$TOKEN_TTL
OCIREG_RIG_TOKEN_SHORT_TTL=$SHORT_TTL
OCIREG_RIG_TOKEN_SIGNING_CERT=$D/token/signing.crt
OCIREG_RIG_TLS=127.0.0.1:${PORT[tls]}
OCIREG_RIG_MTLS=127.0.0.1:${PORT[mtls]}
OCIREG_RIG_CA=$D/tls/ca.crt
OCIREG_RIG_CLIENT_CA=$D/tls/client-ca.crt
OCIREG_RIG_CLIENT_CERT=$D/tls/client.crt
OCIREG_RIG_CLIENT_KEY=$D/tls/client.key
OCIREG_RIG_UNTRUSTED_CLIENT_CERT=$D/tls/untrusted-client.crt
OCIREG_RIG_UNTRUSTED_CLIENT_KEY=$D/tls/untrusted-client.key
OCIREG_RIG_CERTS_D=$D/tls/certs.d
OCIREG_RIG_USER=$RIG_USER
OCIREG_RIG_PASSWORD=$RIG_PASSWORD
EOF
    } >"$tmp"
    mv "$tmp" "$D/env"
}

cmd_start() {
    D="$(abs_dir "$1")"
    local b
    for b in docker-registry htpasswd openssl curl; do
        command -v "$b" >/dev/null 2>&1 || die "$b not found; run tests/rig/install.sh"
    done
    PY="$VENV/bin/python"
    [ -x "$PY" ] && "$PY" -c 'import jwt, cryptography' 2>/dev/null ||
        die "no venv with pyjwt+cryptography at $VENV; run tests/rig/install.sh"

    # Running start twice in a row: stop what the first one started, then start afresh.
    if [ -f "$D/servers" ] || [ -f "$D/pids" ]; then
        stop_servers "$D"
        [ "$STOPPED_COUNT" -gt 0 ] && say "stopped $STOPPED_COUNT server(s) of an earlier start in $D"
    fi
    rm -rf "$D/conf" "$D/data" "$D/logs" "$D/env"
    mkdir -p "$D/conf" "$D/data" "$D/logs"
    make_material "$D"

    local attempt name ports
    for attempt in 1 2 3; do
        read -r -a ports <<<"$(pick_ports "${#ALL[@]}")"
        [ "${#ports[@]}" -eq "${#ALL[@]}" ] || die "could not pick ${#ALL[@]} free ports"
        local i=0
        for name in "${ALL[@]}"; do PORT[$name]="${ports[$i]}"; i=$((i + 1)); done
        write_configs
        spawn_all
        if wait_ready; then
            write_env
            say "started ${#ALL[@]} servers in $D (env: $D/env)"
            return 0
        fi
        if grep -qi 'address already in use' "$D/logs/$FAILED.log" 2>/dev/null && [ "$attempt" -lt 3 ]; then
            say "$FAILED lost a port race on ${PORT[$FAILED]}; retrying with new ports"
            stop_servers "$D"
            continue
        fi
        break
    done
    {
        printf 'rig: ERROR: server "%s" (127.0.0.1:%s) %s. Last lines of %s:\n' \
            "$FAILED" "${PORT[$FAILED]}" "$FAIL_WHY" "$D/logs/$FAILED.log"
        # Go panics put the cause first and a long stack after it: show the cause lines too.
        grep -m 3 -iE '^panic:|level=fatal|level=error|ERROR' "$D/logs/$FAILED.log" 2>/dev/null | sed 's/^/  ! /' || true
        tail -n 12 "$D/logs/$FAILED.log" 2>/dev/null | sed 's/^/  | /'
    } >&2
    stop_servers "$D"
    exit 1
}

cmd_stop() {
    D="$(abs_dir "$1")"
    stop_servers "$D"
    say "stopped $STOPPED_COUNT server(s) in $D"
}

cmd_env() {
    D="$(abs_dir "$1")"
    [ -f "$D/env" ] || die "$D/env not found (has 'rig.sh start $D' run?)"
    cat "$D/env"
}

[ $# -eq 2 ] || usage
case "$1" in
    start) cmd_start "$2" ;;
    stop) cmd_stop "$2" ;;
    env) cmd_env "$2" ;;
    *) usage ;;
esac
