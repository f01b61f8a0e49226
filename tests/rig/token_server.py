#!/usr/bin/env python3
"""Token issuer for distribution's `auth: token` (docker-registry 2.8), for the ocireg test rig.

Stdlib http.server + PyJWT + cryptography. Settings come from the environment:

  TOKEN_LISTEN   127.0.0.1:PORT                    (required)
  TOKEN_KEY      PEM private key, EC P-256 (ES256) or RSA (RS256)   (required)
  TOKEN_CERT     PEM certificate of that key, the registry's rootcertbundle (required)
  TOKEN_ISSUER   JWT "iss"; must equal the registry's auth.token.issuer   (required)
  TOKEN_SERVICE  JWT "aud" (a single string); the registry's auth.token.service (required)
  TOKEN_TTL      lifetime in seconds, reported as expires_in (default 300)
  TOKEN_USERS    user:password[,user:password...]  (default: none, anonymous only)
  TOKEN_HEADER   kid | x5c | both   which key identification goes in the JWT header (default both)
  TOKEN_EXP_SHIFT  seconds added to the "exp" claim only (default 0). The registry accepts a
                 token up to 60 s after "exp"; the rig's short-TTL server sets -60 so that the
                 registry really rejects a token TTL seconds after issue.

Endpoints:
  GET  /token?service=&scope=...[&scope=...][&account=][&offline_token=true]   (optional Basic auth)
  POST /token   application/x-www-form-urlencoded OAuth2:
                grant_type=password (username, password) or grant_type=refresh_token (refresh_token),
                service, scope, client_id, access_type=offline -> also returns refresh_token
  GET  /healthz -> 200 ok
  GET  /stats   -> {"token_requests": N, ...}

Policy: users in TOKEN_USERS get pull/push/delete on every repository and registry:catalog:*;
anonymous gets pull on repositories under public/ only. A wrong password or unknown user is a
401. Any other request gets a token with the refused actions dropped.

Nothing secret (passwords, tokens, refresh tokens, Authorization headers) is logged.
"""

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import os
import secrets
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

REPO_ACTIONS = ("pull", "push", "delete")


def log(msg):
    sys.stderr.write("token-server: %s\n" % msg)
    sys.stderr.flush()


def die(msg):
    log("ERROR: " + msg)
    sys.exit(2)


def env_required(name):
    v = os.environ.get(name, "")
    if not v:
        die("%s is not set" % name)
    return v


def libtrust_key_id(public_key):
    """libtrust's key ID: SHA-256 of the DER SubjectPublicKeyInfo, first 30 bytes,
    base32 without padding (48 chars), 12 groups of 4 joined by ':'."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii").rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))


def parse_users(spec):
    users = {}
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        if ":" not in item:
            die("TOKEN_USERS entry without ':' (expected user:password)")
        u, p = item.split(":", 1)
        users[u] = p
    return users


def parse_scopes(values):
    """Scopes may be repeated parameters or space-separated in one parameter.
    A scope is type:name:actions; the name may itself hold ':' (host:port/repo)."""
    out = []
    for v in values:
        for s in v.split():
            first = s.find(":")
            last = s.rfind(":")
            if first < 0 or last == first:
                continue  # malformed: ignored, like Docker's token servers do
            typ, name, acts = s[:first], s[first + 1 : last], s[last + 1 :]
            actions = [a for a in acts.split(",") if a]
            out.append((typ, name, actions))
    return out


class Config:
    def __init__(self):
        listen = env_required("TOKEN_LISTEN")
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit():
            die("TOKEN_LISTEN must be HOST:PORT, got %r" % listen)
        self.host, self.port = host.strip("[]"), int(port)
        key_path = env_required("TOKEN_KEY")
        cert_path = env_required("TOKEN_CERT")
        self.issuer = env_required("TOKEN_ISSUER")
        self.service = env_required("TOKEN_SERVICE")
        try:
            self.ttl = int(os.environ.get("TOKEN_TTL", "300") or "300")
            self.exp_shift = int(os.environ.get("TOKEN_EXP_SHIFT", "0") or "0")
        except ValueError:
            die("TOKEN_TTL / TOKEN_EXP_SHIFT must be integers")
        if self.ttl <= 0:
            die("TOKEN_TTL must be positive")
        self.users = parse_users(os.environ.get("TOKEN_USERS", ""))
        header_mode = os.environ.get("TOKEN_HEADER", "both")
        if header_mode not in ("kid", "x5c", "both"):
            die("TOKEN_HEADER must be kid, x5c or both")

        try:
            with open(key_path, "rb") as f:
                self.key = serialization.load_pem_private_key(f.read(), password=None)
            with open(cert_path, "rb") as f:
                cert = x509.load_pem_x509_certificate(f.read())
        except (OSError, ValueError) as e:
            die("cannot load TOKEN_KEY/TOKEN_CERT: %s" % e)

        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            algs = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
            self.alg = algs.get(self.key.curve.name)
            if not self.alg:
                die("unsupported EC curve %s" % self.key.curve.name)
        elif isinstance(self.key, rsa.RSAPrivateKey):
            self.alg = "RS256"
        else:
            die("TOKEN_KEY must be an EC or RSA key")

        pub_der = lambda k: k.public_bytes(  # noqa: E731
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if pub_der(cert.public_key()) != pub_der(self.key.public_key()):
            die("TOKEN_CERT does not match TOKEN_KEY")

        self.headers = {"typ": "JWT"}
        if header_mode in ("kid", "both"):
            self.headers["kid"] = libtrust_key_id(self.key.public_key())
        if header_mode in ("x5c", "both"):
            self.headers["x5c"] = [
                base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")
            ]


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.token_requests = 0
        self.tokens_issued = 0
        self.auth_failures = 0
        self.refresh_grants = 0
        self.refresh_tokens = {}  # opaque string -> user

    def stats(self):
        with self.lock:
            return {
                "token_requests": self.token_requests,
                "tokens_issued": self.tokens_issued,
                "auth_failures": self.auth_failures,
                "refresh_grants": self.refresh_grants,
                "refresh_tokens": len(self.refresh_tokens),
            }


CFG = None
STATE = State()


def check_password(user, password):
    expected = CFG.users.get(user)
    if expected is None:
        # compare anyway so unknown users take the same time
        hmac.compare_digest(password.encode(), b"\0" * len(password.encode()))
        return False
    return hmac.compare_digest(password.encode(), expected.encode())


def grant(user, requested):
    """Returns the access claim: one entry per requested resource, refused actions dropped."""
    merged = {}
    order = []
    for typ, name, actions in requested:
        key = (typ, name)
        if key not in merged:
            merged[key] = []
            order.append(key)
        if user is not None:
            if typ == "repository":
                allowed = [a for a in actions if a in REPO_ACTIONS or a == "*"]
            elif typ == "registry" and name == "catalog":
                allowed = [a for a in actions if a == "*"]
            else:
                allowed = []
        else:
            if typ == "repository" and name.startswith("public/"):
                allowed = [a for a in actions if a == "pull"]
            else:
                allowed = []
        for a in allowed:
            if a not in merged[key]:
                merged[key].append(a)
    return [{"type": t, "name": n, "actions": merged[(t, n)]} for (t, n) in order]


def make_token(user, access):
    now = int(time.time())
    claims = {
        "iss": CFG.issuer,
        "sub": user or "",
        "aud": CFG.service,
        "exp": now + CFG.ttl + CFG.exp_shift,
        "nbf": now,
        "iat": now,
        "jti": secrets.token_hex(16),
        "access": access,
    }
    token = jwt.encode(claims, CFG.key, algorithm=CFG.alg, headers=CFG.headers)
    issued_at = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    return token, issued_at


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ocireg-rig-token/1"

    def version_string(self):
        return self.server_version

    # -- plumbing -----------------------------------------------------------
    def log_message(self, fmt, *args):  # the default would log to stderr; ours is in log_request
        pass

    def log_request(self, code="-", size="-"):
        # The path is logged without the query string's values that might matter
        # (GET queries hold no secret, but keep it tidy), never any header or body.
        path = self.path.split("?", 1)[0]
        log('%s "%s %s" %s user=%s' % (
            self.client_address[0], self.command, path, code, getattr(self, "_who", "-")))

    def send_json(self, status, obj, extra_headers=()):
        body = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, message, extra_headers=()):
        self.send_json(status, {"errors": [{"code": code, "message": message}]}, extra_headers)

    def unauthorized(self, message="invalid username/password"):
        with STATE.lock:
            STATE.auth_failures += 1
        self.error(401, "UNAUTHORIZED", message,
                   [("WWW-Authenticate", 'Basic realm="ocireg-rig-token"')])

    def basic_credentials(self):
        """(user, password) from Basic auth, None if absent, False if malformed."""
        h = self.headers.get("Authorization")
        if not h:
            return None
        scheme, _, value = h.strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            raw = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        if ":" not in raw:
            return False
        u, p = raw.split(":", 1)
        return u, p

    def check_service(self, service):
        if service and service != CFG.service:
            self.error(400, "INVALID_SERVICE",
                       "unknown service %r (this issuer serves %r)" % (service, CFG.service))
            return False
        return True

    # -- routes -------------------------------------------------------------
    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self._who = "-"
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/healthz":
            body = b"ok\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        if url.path == "/stats":
            self.send_json(200, STATE.stats())
            return
        if url.path != "/token":
            self.error(404, "NOT_FOUND", "no such endpoint")
            return

        with STATE.lock:
            STATE.token_requests += 1
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        creds = self.basic_credentials()
        if creds is False:
            self._who = "?"
            self.unauthorized("malformed Authorization header")
            return
        user = None
        if creds is not None:
            u, p = creds
            self._who = u
            if not check_password(u, p):
                self.unauthorized()
                return
            user = u
        else:
            self._who = "anonymous"
        if not self.check_service(q.get("service", [""])[0]):
            return
        access = grant(user, parse_scopes(q.get("scope", [])))
        token, issued_at = make_token(user, access)
        resp = {"token": token, "access_token": token, "expires_in": CFG.ttl,
                "issued_at": issued_at}
        if user is not None and q.get("offline_token", [""])[0].lower() == "true":
            resp["refresh_token"] = self.new_refresh_token(user)
        with STATE.lock:
            STATE.tokens_issued += 1
        self.send_json(200, resp)

    def new_refresh_token(self, user):
        rt = secrets.token_urlsafe(32)
        with STATE.lock:
            STATE.refresh_tokens[rt] = user
        return rt

    def do_POST(self):
        self._who = "-"
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > 1 << 20:
            self.error(413, "TOO_LARGE", "request body too large")
            self.close_connection = True
            return
        raw = self.rfile.read(length) if length > 0 else b""
        if url.path != "/token":
            self.error(404, "NOT_FOUND", "no such endpoint")
            return
        with STATE.lock:
            STATE.token_requests += 1
        ctype = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            self._who = "?"
            self.error(400, "UNSUPPORTED", "expected application/x-www-form-urlencoded form")
            return
        form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        f = lambda k: form.get(k, [""])[0]  # noqa: E731
        grant_type = f("grant_type")
        offline = f("access_type") == "offline"
        refresh = None
        if grant_type == "password":
            u, p = f("username"), f("password")
            self._who = u or "?"
            if not u or not check_password(u, p):
                self.unauthorized()
                return
            user = u
            if offline:
                refresh = self.new_refresh_token(user)
        elif grant_type == "refresh_token":
            rt = f("refresh_token")
            with STATE.lock:
                user = STATE.refresh_tokens.get(rt) if rt else None
            self._who = user or "?"
            if user is None:
                self.unauthorized("invalid refresh token")
                return
            with STATE.lock:
                STATE.refresh_grants += 1
            refresh = rt  # the same refresh token stays valid
        else:
            self._who = "?"
            self.error(400, "UNSUPPORTED", "unsupported grant_type %r" % grant_type)
            return
        if not self.check_service(f("service")):
            return
        scopes = form.get("scope", [])
        access = grant(user, parse_scopes(scopes))
        token, issued_at = make_token(user, access)
        resp = {"token": token, "access_token": token, "expires_in": CFG.ttl,
                "issued_at": issued_at, "scope": " ".join(s for v in scopes for s in v.split())}
        if refresh is not None:
            resp["refresh_token"] = refresh
        with STATE.lock:
            STATE.tokens_issued += 1
        self.send_json(200, resp)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    global CFG
    CFG = Config()
    try:
        srv = Server((CFG.host, CFG.port), Handler)
    except OSError as e:
        die("cannot listen on %s:%d: %s" % (CFG.host, CFG.port, e))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    log("listening on http://%s:%d issuer=%s service=%s alg=%s ttl=%ds users=%s" % (
        CFG.host, srv.server_address[1], CFG.issuer, CFG.service, CFG.alg, CFG.ttl,
        ",".join(sorted(CFG.users)) or "-"))
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
