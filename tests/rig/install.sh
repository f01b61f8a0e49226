#!/usr/bin/env bash
# Installs what the real-registry test rig needs. Idempotent and quiet.
#
#   bash tests/rig/install.sh
#
# - Debian packages: docker-registry skopeo apache2-utils openssl curl
#   (apt-get update runs once, and only when something is missing).
#   The package's own daemon (:5000) is kept from starting with a temporary
#   /usr/sbin/policy-rc.d (exit 101); whatever was there before is restored.
#   If /etc/init.d/docker-registry runs one anyway, it is stopped.
# - A Python venv at ${OCIREG_RIG_VENV:-/tmp/ocireg-rig-venv} with pyjwt and
#   cryptography from PyPI (skipped when they already import).
set -euo pipefail

VENV="${OCIREG_RIG_VENV:-/tmp/ocireg-rig-venv}"
PKGS=(docker-registry skopeo apache2-utils openssl curl)

say() { printf 'rig-install: %s\n' "$*" >&2; }
die() { printf 'rig-install: ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=()
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo: cannot apt-get install"
    SUDO=(sudo -n)
fi

pkg_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

APT_UPDATED=0
apt_update_once() {
    [ "$APT_UPDATED" = 1 ] && return 0
    local log
    log="$(mktemp)"
    if ! "${SUDO[@]}" apt-get update -qq >"$log" 2>&1; then
        tail -n 20 "$log" >&2; rm -f "$log"
        die "apt-get update failed"
    fi
    rm -f "$log"
    APT_UPDATED=1
}

# --- policy-rc.d guard --------------------------------------------------------
POLICY=/usr/sbin/policy-rc.d
POLICY_BACKUP=""
POLICY_INSTALLED=0
restore_policy() {
    [ "$POLICY_INSTALLED" = 1 ] || return 0
    if [ -n "$POLICY_BACKUP" ]; then
        "${SUDO[@]}" cp -p "$POLICY_BACKUP" "$POLICY"
        "${SUDO[@]}" rm -f "$POLICY_BACKUP"
    else
        "${SUDO[@]}" rm -f "$POLICY"
    fi
    POLICY_INSTALLED=0
}
install_policy() {
    if [ -e "$POLICY" ]; then
        POLICY_BACKUP="$(mktemp /tmp/policy-rc.d.ocireg-rig.XXXXXX)"
        "${SUDO[@]}" cp -p "$POLICY" "$POLICY_BACKUP"
    fi
    POLICY_INSTALLED=1
    printf '#!/bin/sh\n# written by ocireg tests/rig/install.sh for the duration of an install\nexit 101\n' |
        "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod 0755 "$POLICY"
}
trap restore_policy EXIT
trap 'exit 130' INT TERM

missing=()
for p in "${PKGS[@]}"; do
    pkg_installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    apt_update_once
    install_policy
    log="$(mktemp)"
    if ! DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
        tail -n 30 "$log" >&2; rm -f "$log"
        die "apt-get install ${missing[*]} failed"
    fi
    rm -f "$log"
    restore_policy
fi

# The package's own daemon, if something started it anyway (init script or systemd).
if [ -x /etc/init.d/docker-registry ] && [ -f /var/run/docker-registry.pid ]; then
    pid="$(cat /var/run/docker-registry.pid 2>/dev/null || true)"
    if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" = /usr/bin/docker-registry ]; then
        say "stopping the docker-registry service the package started (pid $pid)"
        "${SUDO[@]}" /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
    fi
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    if systemctl is-active --quiet docker-registry 2>/dev/null; then
        say "stopping and disabling the docker-registry systemd service"
        "${SUDO[@]}" systemctl disable --now docker-registry >/dev/null 2>&1 || true
    fi
fi

for b in docker-registry skopeo htpasswd openssl curl; do
    command -v "$b" >/dev/null 2>&1 || die "$b not on PATH after install"
done

# --- Python venv --------------------------------------------------------------
venv_ok() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import jwt, cryptography' >/dev/null 2>&1
}

if ! venv_ok; then
    say "creating venv $VENV with pyjwt + cryptography"
    py="${OCIREG_RIG_PYTHON:-}"
    if [ -z "$py" ]; then
        py="$(command -v python3 || true)"
        [ -n "$py" ] || py=/usr/bin/python3
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        rm -rf "$VENV"
        if ! "$py" -m venv "$VENV" >/dev/null 2>&1; then
            # Debian's python3 lacks ensurepip without python3-venv.
            rm -rf "$VENV"
            say "python3 -m venv failed; installing python3-venv"
            apt_update_once
            DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq python3-venv >/dev/null 2>&1 || die "apt-get install python3-venv failed"
            py=/usr/bin/python3
            "$py" -m venv "$VENV" || die "cannot create venv at $VENV with $py"
        fi
    fi
    log="$(mktemp)"
    if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check pyjwt cryptography >"$log" 2>&1; then
        tail -n 30 "$log" >&2; rm -f "$log"
        die "pip install pyjwt cryptography into $VENV failed"
    fi
    rm -f "$log"
    venv_ok || die "venv $VENV still cannot import jwt and cryptography"
fi

say "ok (venv $VENV)"
