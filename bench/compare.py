#!/usr/bin/env python3
"""ocireg vs crane, regctl, oras and skopeo: paired timings on a local docker-registry 2.8.

Started by bench/run.sh, which installs the tools, builds ocireg and exports:

  OCIREG_BENCH_BIN    the ocireg CLI (release build)
  OCIREG_BENCH_LIB    libocireg.so (Python/Ruby load measure)
  OCIREG_BENCH_TOOLS  directory holding crane, regctl, oras and toxiproxy's `server`
  OCIREG_BENCH_WORK   an empty temporary directory (removed by run.sh afterwards)
  OCIREG_BENCH_PINS   "crane=v… regctl=v… oras=v… toxiproxy=v…" (for the report)

Stdlib only. Every command that is timed must exit 0 and pass a check (manifest digest after a
push, layout contents after a pull, the exact tag list, the exact search result); otherwise the
run stops with the command's stderr.
"""

import argparse
import base64
import concurrent.futures
import datetime
import hashlib
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import threading
import time
import urllib.parse
import zlib
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RIG = os.path.join(REPO, "tests", "rig", "rig.sh")

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ACCEPT = ", ".join([
    MT_MANIFEST, MT_INDEX,
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])

# "ocireg-sendfile" is ocireg itself with `--sendfile` (pushes only): what the opt-in costs and
# saves, next to the default it is compared with.
PEERS = ["crane", "regctl", "oras", "skopeo", "ocireg-sendfile"]
TOOLS = ["ocireg"] + PEERS


class BenchError(Exception):
    pass


def say(msg: str) -> None:
    print(msg, flush=True)


def note(msg: str) -> None:
    print("bench: " + msg, file=sys.stderr, flush=True)


# =============================================================================================
# Settings

@dataclass
class Sizes:
    big_mib: int
    small_layers: int
    small_kib: int
    tags: int
    repos: int
    pattern: str
    load_runs_factor: int


FULL = Sizes(big_mib=256, small_layers=20, small_kib=100, tags=5000, repos=2000,
             pattern="service-12", load_runs_factor=4)
QUICK = Sizes(big_mib=32, small_layers=20, small_kib=100, tags=500, repos=200,
              pattern="service-01", load_runs_factor=3)

USER, PASSWORD = "alice", "secret"  # tests/rig/rig.sh's user


def env_path(name: str) -> str:
    v = os.environ.get(name)
    if not v:
        raise BenchError(f"${name} is not set: start the benchmark with bench/run.sh")
    return v


# =============================================================================================
# THE ocireg command lines. The CLI will be reworked (`ocireg image push LAYOUT -i REF` …):
# this function is the only place that knows its syntax.

@dataclass
class Job:
    host: str                 # host:port the client talks to (the registry, or its proxy)
    repo: str = ""
    tag: str = "v1"
    layout: str = ""          # source OCI layout (push)
    layout_tag: str = "latest"
    out_dir: str = ""         # destination OCI layout (pull)
    pattern: str = ""         # catalog search substring
    user: str = ""
    password: str = ""
    skopeo_cache: str = ""    # a fresh, empty blob-info-cache directory for this skopeo run

    @property
    def ref(self) -> str:
        return f"{self.host}/{self.repo}:{self.tag}"

    @property
    def repo_ref(self) -> str:
        return f"{self.host}/{self.repo}"


def ocireg_command(op: str, j: Job) -> List[str]:
    """Every ocireg command line the benchmark runs (plain http is implied for 127.0.0.1)."""
    cli = [os.environ["OCIREG_BENCH_BIN"]]
    if j.user:
        cli += ["-u", j.user, "-p", j.password]
    return {
        "push": lambda: cli + ["push", j.layout, j.ref],       # pushes, then verifies
        "pull": lambda: cli + ["pull", j.ref, j.out_dir],
        "tags": lambda: cli + ["tags", j.repo_ref],
        "search": lambda: cli + ["search", j.host, j.pattern],
    }[op]()


# The peers. None = the tool cannot do this. Credentials: the tool's own flag where it has
# one; crane has none and reads $DOCKER_CONFIG/config.json (written by Bench.setup_home).

def _grep(argv: List[str], pattern: str) -> List[str]:
    # What a user types: `tool catalog … | grep -F PATTERN`; pipefail keeps a failing tool loud.
    return ["bash", "-c", 'set -o pipefail; p=$1; shift; "$@" | grep -F -- "$p"', "bash",
            pattern] + argv


def _skopeo_isolated(argv: List[str], cache_dir: str) -> List[str]:
    # skopeo (as root) remembers in /var/lib/containers/cache which repositories hold a blob and
    # tries them (HEAD, mount) on the next push: with fresh repositories every run, that list
    # grows run after run. Each skopeo run gets an empty cache in a private mount namespace.
    if not cache_dir:
        return argv
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /var/lib/containers/cache && exec "$@"', cache_dir] + argv


def peer_command(tool: str, op: str, j: Job, tools_dir: str) -> Optional[List[str]]:
    b = lambda name: os.path.join(tools_dir, name)  # noqa: E731
    if tool == "ocireg-sendfile":
        if op != "push":
            return None
        argv = ocireg_command(op, j)
        return argv[:1] + ["--sendfile"] + argv[1:]
    if tool == "crane":
        c = [b("crane")]
        return {
            "push": c + ["push", "--insecure", j.layout, j.ref],
            "pull": c + ["pull", "--insecure", "--format", "oci", j.ref, j.out_dir],
            "tags": c + ["ls", "--insecure", j.repo_ref],
            "search": _grep(c + ["catalog", "--insecure", j.host], j.pattern),
        }[op]
    if tool == "regctl":
        host = f"reg={j.host},tls=disabled" + (f",user={j.user},pass={j.password}" if j.user else "")
        c = [b("regctl"), "--host", host]
        return {
            "push": c + ["image", "copy", f"ocidir://{j.layout}:{j.layout_tag}", j.ref],
            "pull": c + ["image", "copy", j.ref, f"ocidir://{j.out_dir}:{j.layout_tag}"],
            "tags": c + ["tag", "ls", j.repo_ref],
            # `regctl repo ls` prints one page and does not follow the registry's Link: page by
            # hand with --limit/--last, as a user of regctl must.
            "search": ["bash", "-c", 'set -o pipefail; p=$1; shift\n'
                       'pages() { local last="" page; while :; do\n'
                       '  page=$("$@" --limit 1000 ${last:+--last "$last"}) || return 1\n'
                       '  [ -n "$page" ] || return 0; printf "%s\\n" "$page"; last=${page##*$\'\\n\'}\n'
                       'done; }\n'
                       'pages "$@" | grep -F -- "$p"', "bash", j.pattern] + c + ["repo", "ls", j.host],
        }[op]
    if tool == "oras":
        c = [b("oras")]
        creds = ["--to-username", j.user, "--to-password", j.password] if j.user else []
        return {
            "push": c + ["cp", "--from-oci-layout", "--to-plain-http"] + creds
                    + [f"{j.layout}:{j.layout_tag}", j.ref],
            "pull": c + ["cp", "--from-plain-http", j.ref, "--to-oci-layout",
                         f"{j.out_dir}:{j.layout_tag}"],
            "tags": c + ["repo", "tags", "--plain-http", j.repo_ref],
            "search": _grep(c + ["repo", "ls", "--plain-http", j.host], j.pattern),
        }[op]
    if tool == "skopeo":
        creds = ["--dest-creds", f"{j.user}:{j.password}"] if j.user else []
        return {
            "push": _skopeo_isolated(["skopeo", "copy", "--dest-tls-verify=false"] + creds
                                     + [f"oci:{j.layout}:{j.layout_tag}", f"docker://{j.ref}"],
                                     j.skopeo_cache),
            "pull": _skopeo_isolated(["skopeo", "copy", "--src-tls-verify=false",
                                      f"docker://{j.ref}", f"oci:{j.out_dir}:{j.layout_tag}"],
                                     j.skopeo_cache),
            "tags": ["skopeo", "list-tags", "--tls-verify=false", f"docker://{j.repo_ref}"],
            "search": None,  # skopeo has no catalog command
        }[op]
    raise BenchError(f"unknown tool {tool}")


# How the Python and Ruby bindings find the library under test (OCIREG_LIB), from the checkout.
# Bytecode is written (the probe run before the timings compiles it), as for an installed package:
# a PYTHONDONTWRITEBYTECODE inherited from the caller's shell would time the compiler instead.
def binding_env(base: Dict[str, str]) -> Dict[str, str]:
    env = dict(base)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["OCIREG_LIB"] = os.environ["OCIREG_BENCH_LIB"]
    env["PYTHONPATH"] = os.path.join(REPO, "bindings", "python")
    env["RUBYLIB"] = os.path.join(REPO, "bindings", "ruby", "lib")
    return env


# =============================================================================================
# A small registry API client (stdlib), used to create the inputs and to check results.
# It is never timed.

class Api:
    def __init__(self, host: str, user: str = "", password: str = ""):
        self.host = host
        self.user, self.password = user, password
        self.auth: Optional[str] = None
        self.local = threading.local()
        if user:
            self.basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def _conn(self, fresh: bool = False) -> http.client.HTTPConnection:
        c = getattr(self.local, "conn", None)
        if c is None or fresh:
            if c is not None:
                c.close()
            c = http.client.HTTPConnection(self.host, timeout=120, blocksize=1 << 20)
            self.local.conn = c
        return c

    def _once(self, method, path, body, headers):
        for attempt in range(2):
            c = self._conn(fresh=attempt > 0)
            try:
                if hasattr(body, "seek"):
                    body.seek(0)
                c.request(method, path, body=body, headers=headers)
                r = c.getresponse()
                data = r.read()
                return r.status, r.headers, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if attempt:
                    raise
        raise AssertionError

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if isinstance(body, bytes):
            headers["Content-Length"] = str(len(body))  # file bodies: the caller sets it
        for attempt in range(2):
            h = dict(headers)
            if self.auth:
                h["Authorization"] = self.auth
            status, hdrs, data = self._once(method, path, body, h)
            if status == 401 and attempt == 0 and self.user:
                self._authenticate(hdrs.get("WWW-Authenticate", ""))
                continue
            return status, hdrs, data
        return status, hdrs, data

    def _authenticate(self, challenge: str) -> None:
        scheme, _, rest = challenge.partition(" ")
        if scheme.lower() == "basic":
            self.auth = self.basic
            return
        params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        q = {"service": params.get("service", "")}
        if params.get("scope"):
            q["scope"] = params["scope"]
        realm = urllib.parse.urlsplit(params["realm"])
        c = http.client.HTTPConnection(realm.netloc, timeout=30)
        c.request("GET", realm.path + "?" + urllib.parse.urlencode(q), headers={"Authorization": self.basic})
        r = c.getresponse()
        data = r.read()
        c.close()
        if r.status != 200:
            raise BenchError(f"token request to {realm.netloc} failed: {r.status} {data[:200]!r}")
        self.auth = "Bearer " + json.loads(data)["token"]

    def expect(self, want, method, path, body=None, headers=None):
        status, hdrs, data = self.request(method, path, body, headers)
        if status not in want:
            raise BenchError(f"{method} http://{self.host}{path}: {status} {data[:300]!r}")
        return hdrs, data

    def manifest_digest(self, repo: str, ref: str) -> str:
        status, hdrs, data = self.request("HEAD", f"/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT})
        if status != 200:
            raise BenchError(f"HEAD {self.host}/{repo}:{ref}: {status}")
        return hdrs.get("Docker-Content-Digest", "")

    def upload_blob(self, repo: str, digest: str, path: str, mount_from: str = "") -> None:
        if mount_from:
            hdrs, _ = self.expect((201, 202), "POST", f"/v2/{repo}/blobs/uploads/?mount={digest}&from={mount_from}",
                                  body=b"")
            if hdrs.get("Docker-Content-Digest") == digest:
                return
            raise BenchError(f"mount of {digest} into {repo} from {mount_from} did not happen")
        status, _, _ = self.request("HEAD", f"/v2/{repo}/blobs/{digest}")
        if status == 200:
            return
        hdrs, _ = self.expect((202,), "POST", f"/v2/{repo}/blobs/uploads/", body=b"")
        loc = urllib.parse.urlsplit(hdrs["Location"])
        url = loc.path + "?" + (loc.query + "&" if loc.query else "") + "digest=" + digest
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            self.expect((201,), "PUT", url, body=f, headers={
                "Content-Type": "application/octet-stream", "Content-Length": str(size)})

    def put_manifest(self, repo: str, ref: str, body: bytes, media_type: str = MT_MANIFEST) -> None:
        self.expect((201,), "PUT", f"/v2/{repo}/manifests/{ref}", body=body,
                    headers={"Content-Type": media_type})

    def push_layout(self, repo: str, tag: str, layout: "Layout") -> None:
        for d in [layout.config_digest] + layout.layer_digests:
            self.upload_blob(repo, d, layout.blob_path(d))
        self.put_manifest(repo, tag, layout.manifest)

    def list_all(self, path: str, key: str) -> List[str]:
        out, url = [], path
        while url:
            hdrs, data = self.expect((200,), "GET", url)
            page = json.loads(data).get(key) or []
            out += page
            link = hdrs.get("Link", "")
            m = re.match(r'<([^>]+)>;\s*rel="next"', link)
            url = m.group(1) if (m and page) else ""
        return out


# =============================================================================================
# OCI layouts, written once per run

@dataclass
class Layout:
    path: str
    manifest: bytes
    manifest_digest: str
    config_digest: str
    layer_digests: List[str]
    layer_sizes: List[int]

    def blob_path(self, digest: str) -> str:
        return os.path.join(self.path, "blobs", "sha256", digest.split(":", 1)[1])

    @property
    def total_bytes(self) -> int:
        return sum(self.layer_sizes)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_layout(path: str, layer_bytes: List[int], tag: str = "latest") -> Layout:
    """An OCI image layout: each layer a gzip'd tar holding one file of random bytes."""
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    layers, diff_ids = [], []
    for i, size in enumerate(layer_bytes):
        tar_h, gz_h = hashlib.sha256(), hashlib.sha256()
        comp = zlib.compressobj(1, zlib.DEFLATED, 31)
        ti = tarfile.TarInfo(f"data-{i:02d}.bin")
        ti.size, ti.mtime, ti.mode = size, 0, 0o644
        tmp = os.path.join(blobs, ".tmp")
        with open(tmp, "wb") as f:
            def put(b: bytes) -> None:
                tar_h.update(b)
                out = comp.compress(b)
                if out:
                    gz_h.update(out)
                    f.write(out)
            put(ti.tobuf(format=tarfile.USTAR_FORMAT))
            left = size
            while left:
                n = min(left, 1 << 20)
                put(os.urandom(n))
                left -= n
            put(b"\0" * ((-size) % 512) + b"\0" * 1024)
            out = comp.flush()
            gz_h.update(out)
            f.write(out)
        gz_size = os.path.getsize(tmp)
        os.replace(tmp, os.path.join(blobs, gz_h.hexdigest()))
        layers.append({"mediaType": MT_LAYER, "digest": "sha256:" + gz_h.hexdigest(), "size": gz_size})
        diff_ids.append("sha256:" + tar_h.hexdigest())
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {}, "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }, separators=(",", ":")).encode()
    config_digest = sha256_digest(config)
    with open(os.path.join(blobs, config_digest[7:]), "wb") as f:
        f.write(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": layers,
    }, separators=(",", ":")).encode()
    md = sha256_digest(manifest)
    with open(os.path.join(blobs, md[7:]), "wb") as f:
        f.write(manifest)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [{
            "mediaType": MT_MANIFEST, "digest": md, "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
    return Layout(path, manifest, md, config_digest, [l["digest"] for l in layers],
                  [l["size"] for l in layers])


# =============================================================================================
# Processes, registries, toxiproxy

ACCESS_LINE = re.compile(rb'^\S+ - \S+ \[[^\]]+\] "([A-Z]+) ')


@dataclass
class Registry:
    name: str
    host: str                       # 127.0.0.1:port or localhost:port (direct)
    data_dir: str
    log: str
    user: str = ""
    password: str = ""
    token_stats: str = ""           # http://…/stats of the token server behind it
    proxy: str = ""                 # toxiproxy proxy name ("" = none)
    proxy_host: str = ""

    @property
    def upstream(self) -> str:
        """The address toxiproxy forwards to."""
        return "127.0.0.1:" + self.host.rsplit(":", 1)[1]

    def api(self) -> Api:
        return Api(self.host, self.user, self.password)

    def snapshot(self) -> Tuple[int, int]:
        return os.path.getsize(self.log), self._tokens()

    def _tokens(self) -> int:
        if not self.token_stats:
            return 0
        u = urllib.parse.urlsplit(self.token_stats)
        c = http.client.HTTPConnection(u.netloc, timeout=10)
        c.request("GET", u.path)
        n = json.loads(c.getresponse().read())["token_requests"]
        c.close()
        return n

    def requests_since(self, snap: Tuple[int, int]) -> Dict[str, int]:
        """Requests the registry logged since snap (its access log), by method, plus token
        requests. Waits until the log stops growing: a line is written after the response."""
        last, stable = -1, 0
        deadline = time.monotonic() + 2
        while stable < 2 and time.monotonic() < deadline:
            size = os.path.getsize(self.log)
            stable = stable + 1 if size == last else 0
            last = size
            time.sleep(0.03)
        counts: Dict[str, int] = {}
        with open(self.log, "rb") as f:
            f.seek(snap[0])
            for line in f:
                m = ACCESS_LINE.match(line)
                if m:
                    k = m.group(1).decode()
                    counts[k] = counts.get(k, 0) + 1
        if self.token_stats:
            counts["token"] = self._tokens() - snap[1]
        return counts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url: str, timeout: float = 2) -> int:
    u = urllib.parse.urlsplit(url)
    try:
        c = http.client.HTTPConnection(u.netloc, timeout=timeout)
        c.request("GET", u.path or "/")
        s = c.getresponse().status
        c.close()
        return s
    except OSError:
        return 0


class Procs:
    """Processes this script starts; all stopped by stop_all (by PID, SIGTERM then SIGKILL)."""

    def __init__(self, work: str):
        self.work = work
        self.procs: List[Tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: List[str], log: str, env=None) -> subprocess.Popen:
        f = open(log, "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                             env=env, start_new_session=True)
        f.close()
        self.procs.append((name, p))
        exe = os.path.realpath(shutil.which(argv[0]) or argv[0])
        with open(os.path.join(self.work, "pids"), "a") as pf:
            pf.write(f"{p.pid} {exe}\n")
        return p

    def stop_all(self) -> None:
        for _, p in self.procs:
            if p.poll() is None:
                p.terminate()
        for name, p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                note(f"{name} (pid {p.pid}) ignored SIGTERM; SIGKILL")
                p.kill()
                p.wait()
        self.procs = []


def wait_until(what: str, cond: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise BenchError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.05)


class Toxiproxy:
    def __init__(self, procs: Procs, binary: str, work: str):
        self.port = free_port()
        self.api = f"127.0.0.1:{self.port}"
        self.proc = procs.start("toxiproxy", [binary, "-host", "127.0.0.1", "-port", str(self.port)],
                                os.path.join(work, "logs", "toxiproxy.log"))
        wait_until("toxiproxy", lambda: http_status(f"http://{self.api}/version") == 200)
        self.proxies: List[str] = []
        self.latency_ms: Optional[int] = None

    def _call(self, method: str, path: str, body: dict) -> dict:
        c = http.client.HTTPConnection(self.api, timeout=10)
        c.request(method, path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        if r.status not in (200, 201, 204):
            raise BenchError(f"toxiproxy {method} {path}: {r.status} {data[:200]!r}")
        return json.loads(data) if data else {}

    def proxy(self, name: str, upstream: str) -> str:
        listen = f"127.0.0.1:{free_port()}"
        self._call("POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream, "enabled": True})
        for stream in ("upstream", "downstream"):
            self._call("POST", f"/proxies/{name}/toxics", {
                "name": f"latency_{stream}", "type": "latency", "stream": stream, "toxicity": 1.0,
                "attributes": {"latency": 0, "jitter": 0}})
        self.proxies.append(name)
        return listen

    def set_rtt(self, rtt_ms: int) -> None:
        """rtt/2 of latency in each direction on every proxy."""
        if self.latency_ms == rtt_ms // 2:
            return
        for name in self.proxies:
            for stream in ("upstream", "downstream"):
                self._call("POST", f"/proxies/{name}/toxics/latency_{stream}",
                           {"attributes": {"latency": rtt_ms // 2, "jitter": 0}})
        self.latency_ms = rtt_ms // 2


# =============================================================================================
# Timed runs

@dataclass
class Sample:
    tool: str
    round: int
    wall: float
    cpu: float
    rss_mib: float
    requests: Dict[str, int] = field(default_factory=dict)
    load1: float = float("nan")   # 1-minute load average right after the run


RUNNING: set = set()  # process groups of clients being timed (killed on SIGTERM / timeout)


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def run_timed(argv: List[str], env: Dict[str, str], out: str, err: str, timeout: float = 1800):
    """(exit code, wall s, CPU s, peak RSS MiB) of one client run.

    Wall time and CPU (user+sys of the process and its children) come from this process's
    wait4(). The peak RSS comes from GNU time: a child forked from Python inherits Python's own
    RSS high-water mark into ru_maxrss across exec, so a small wrapper forks the client instead.
    The wrapper costs every tool the same (~1 ms)."""
    rss_file = out + ".rss"
    wrapped = ["/usr/bin/time", "-f", "%M", "-o", rss_file, "--"] + argv
    with open(out, "wb") as o, open(err, "wb") as e:
        t0 = time.perf_counter()
        p = subprocess.Popen(wrapped, stdin=subprocess.DEVNULL, stdout=o, stderr=e, env=env,
                             start_new_session=True)
        RUNNING.add(p.pid)
        timer = threading.Timer(timeout, kill_group, (p.pid,))
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            t1 = time.perf_counter()
            timer.cancel()
            RUNNING.discard(p.pid)
    p.returncode = os.waitstatus_to_exitcode(status)
    rss = float("nan")
    try:
        with open(rss_file) as f:
            rss = int(f.read().split()[-1]) / 1024.0
        os.unlink(rss_file)
    except (OSError, ValueError, IndexError):
        pass
    return p.returncode, t1 - t0, ru.ru_utime + ru.ru_stime, rss


def fail_cmd(argv: List[str], rc: int, out: str, err: str, why: str = "") -> None:
    def tail(p):
        try:
            with open(p, "rb") as f:
                return b"\n".join(f.read().splitlines()[-25:]).decode(errors="replace")
        except OSError:
            return ""
    msg = f"command failed ({why or f'exit {rc}'}):\n  {' '.join(argv)}\n"
    msg += "--- stderr (last lines) ---\n" + tail(err) + "\n--- stdout (last lines) ---\n" + tail(out)
    raise BenchError(msg)


# =============================================================================================
# Measures

@dataclass
class Measure:
    key: str
    op: str                  # push | pull | tags | search
    image: str = ""          # big | small
    registry: str = "open"   # open | basic | token | catalog
    repush: bool = False
    rtts: Tuple[int, ...] = (0, 20, 80)

    def label(self, s: Sizes) -> str:
        small = f"{s.small_layers} × {s.small_kib} KiB"
        return {
            "push-256m": f"push {s.big_mib} MiB (1 layer)",
            "push-20x100k": f"push {small}",
            "repush-20": f"re-push {small} (all present)",
            "tags-5000": f"list {s.tags} tags",
            "search-2000": f"catalog search, {s.repos} repos",
            "pull-256m": f"pull {s.big_mib} MiB into a layout",
            "push-basic-20": f"push {small}, Basic auth",
            "push-bearer-20": f"push {small}, Bearer token",
        }[self.key]


MEASURES = [
    Measure("push-256m", "push", image="big"),
    Measure("push-20x100k", "push", image="small"),
    Measure("repush-20", "push", image="small", repush=True),
    Measure("tags-5000", "tags"),
    Measure("search-2000", "search", registry="catalog"),
    Measure("pull-256m", "pull", image="big"),
    Measure("push-basic-20", "push", image="small", registry="basic", rtts=(0,)),
    Measure("push-bearer-20", "push", image="small", registry="token"),
]
LOAD_MEASURES = ["load-python", "load-ruby"]


def all_measure_names() -> List[str]:
    out = []
    for m in MEASURES:
        out += [m.key if r == 0 else f"{m.key}@{r}ms" for r in m.rtts]
    return out + LOAD_MEASURES


@dataclass
class Result:
    key: str
    rtt: int
    label: str
    samples: Dict[str, List[Sample]]          # tool -> per round
    unsupported: List[str]


class Bench:
    def __init__(self, args):
        self.args = args
        self.sizes = QUICK if args.quick else FULL
        self.work = env_path("OCIREG_BENCH_WORK")
        self.tools_dir = env_path("OCIREG_BENCH_TOOLS")
        for d in ("logs", "layouts", "out", "pull", "skopeo-cache", "home/.docker", "tmp"):
            os.makedirs(os.path.join(self.work, d), exist_ok=True)
        self.procs = Procs(self.work)
        self.regs: Dict[str, Registry] = {}
        self.toxi: Optional[Toxiproxy] = None
        self.layouts: Dict[str, Layout] = {}
        self.seeded: set = set()
        self.expected_tags: List[str] = []
        self.expected_search: List[str] = []
        self.counter = 0
        self.notes: List[str] = []
        self.skopeo_isolation = True

    # ------------------------------------------------------------------ environment
    def tool_env(self) -> Dict[str, str]:
        home = os.path.join(self.work, "home")
        env = {
            "PATH": os.environ["PATH"], "HOME": home, "DOCKER_CONFIG": os.path.join(home, ".docker"),
            "TMPDIR": os.path.join(self.work, "tmp"), "LANG": "C.UTF-8",
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        }
        return env

    def start(self, need_latency: bool, need: set) -> None:
        rigdir = os.path.join(self.work, "rig")
        os.makedirs(rigdir)
        note("starting docker-registry (tests/rig/rig.sh)")
        r = subprocess.run(["bash", RIG, "start", rigdir], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode:
            raise BenchError("rig.sh start failed:\n" + r.stderr.decode(errors="replace"))
        renv = {}
        with open(os.path.join(rigdir, "env")) as f:
            for line in f:
                m = re.match(r"export (\w+)=(.*)$", line.strip())
                if m:
                    renv[m.group(1)] = m.group(2)
        data = lambda n: os.path.join(rigdir, "data", n)  # noqa: E731
        logs = lambda n: os.path.join(rigdir, "logs", n + ".log")  # noqa: E731
        token_server = renv["OCIREG_RIG_TOKEN_SERVER"]
        self.regs["open"] = Registry("open", renv["OCIREG_RIG_OPEN"], data("open"), logs("open"))
        self.regs["basic"] = Registry("basic", renv["OCIREG_RIG_BASIC"], data("basic"), logs("basic"),
                                      USER, PASSWORD)
        # More docker-registry processes from the rig's own configs (env overrides only): an
        # open one that holds the catalog alone, and the Bearer ones. The rig's token registry
        # names its realm http://127.0.0.1:PORT/token, which two peers refuse (SSRF guards):
        # crane 0.22 any realm on a loopback/private IP literal unless it is the registry's own
        # host:port, oras 1.3 any realm resolving to 127.0.0.0/8 unless its host name is the
        # registry's. So these are reached as localhost:PORT with the realm
        # http://localhost:PORT/token (the rig's token server). The latency one reaches the token
        # server through toxiproxy too.
        ts = urllib.parse.urlsplit(token_server)
        if "catalog" in need:
            self.regs["catalog"] = self.extra_registry("catalog", os.path.join(rigdir, "conf", "open.yml"), {})
        if "token" in need:
            self.regs["token"] = self.extra_registry(
                "token", os.path.join(rigdir, "conf", "token.yml"),
                {"REGISTRY_AUTH_TOKEN_REALM": f"http://localhost:{ts.port}/token"}, hostname="localhost",
                user=USER, password=PASSWORD, token_stats=token_server + "/stats")
        if need_latency:
            self.toxi = Toxiproxy(self.procs, os.path.join(self.tools_dir, "server"), self.work)
            if "token" in need:
                ts_proxy = self.toxi.proxy("token_server", ts.netloc)
                self.regs["token_lat"] = self.extra_registry(
                    "token_lat", os.path.join(rigdir, "conf", "token.yml"),
                    {"REGISTRY_AUTH_TOKEN_REALM": f"http://localhost:{ts_proxy.rsplit(':', 1)[1]}/token"},
                    hostname="localhost", user=USER, password=PASSWORD, token_stats=token_server + "/stats")
            for name in ("open", "catalog", "token_lat"):
                if name in self.regs:
                    reg = self.regs[name]
                    reg.proxy = name
                    listen = self.toxi.proxy(name, reg.upstream)
                    reg.proxy_host = reg.host.rsplit(":", 1)[0] + ":" + listen.rsplit(":", 1)[1]

    def extra_registry(self, name: str, conf: str, extra_env: Dict[str, str], hostname: str = "127.0.0.1",
                       **kw) -> Registry:
        port = free_port()
        data = os.path.join(self.work, "data-" + name)
        os.makedirs(data)
        log = os.path.join(self.work, "logs", name + ".log")
        env = dict(os.environ)
        env.update({"REGISTRY_HTTP_ADDR": f"127.0.0.1:{port}",
                    "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": data}, **extra_env)
        p = self.procs.start(name, ["docker-registry", "serve", conf], log, env=env)
        want = 401 if kw.get("user") else 200
        wait_until(f"docker-registry {name}",
                   lambda: p.poll() is None and http_status(f"http://127.0.0.1:{port}/v2/") == want)
        if p.poll() is not None:
            raise BenchError(f"docker-registry {name} exited; see {log}")
        return Registry(name, f"{hostname}:{port}", data, log, **kw)

    def stop(self) -> None:
        self.procs.stop_all()
        rigdir = os.path.join(self.work, "rig")
        if os.path.isdir(rigdir):
            subprocess.run(["bash", RIG, "stop", rigdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def setup_home(self) -> None:
        # crane's credentials (it has no flag for them); the others get flags.
        auths = {}
        for r in self.regs.values():
            if r.user:
                tok = base64.b64encode(f"{r.user}:{r.password}".encode()).decode()
                for h in filter(None, (r.host, r.proxy_host)):
                    auths[h] = {"auth": tok}
        with open(os.path.join(self.work, "home", ".docker", "config.json"), "w") as f:
            json.dump({"auths": auths}, f)
        # skopeo's cache isolation (see _skopeo_isolated) needs the mount point and unshare.
        os.makedirs("/var/lib/containers/cache", exist_ok=True)
        probe = _skopeo_isolated(["true"], os.path.join(self.work, "skopeo-cache"))
        if subprocess.run(probe, stderr=subprocess.DEVNULL).returncode != 0:
            self.skopeo_isolation = False
            self.notes.append("unshare/mount is not permitted here: skopeo ran with its shared "
                              "blob-info cache, so it may try stale mount sources")
            note(self.notes[-1])

    # ------------------------------------------------------------------ inputs
    def layout(self, name: str) -> Layout:
        if name not in self.layouts:
            s = self.sizes
            t0 = time.monotonic()
            sizes = {"big": [s.big_mib << 20], "small": [s.small_kib << 10] * s.small_layers,
                     "tiny": [512]}[name]
            self.layouts[name] = write_layout(os.path.join(self.work, "layouts", name), sizes)
            note(f"layout {name}: {len(sizes)} layer(s), {self.layouts[name].total_bytes / 2**20:.1f} MiB "
                 f"({time.monotonic() - t0:.1f} s)")
        return self.layouts[name]

    def seed(self, reg: Registry, repo: str, image: str, tag: str = "v1") -> None:
        key = (reg.name, repo, image, tag)
        if key not in self.seeded:
            reg.api().push_layout(repo, tag, self.layout(image))
            self.seeded.add(key)

    def make_tags(self) -> None:
        s, reg = self.sizes, self.regs["open"]
        t0 = time.monotonic()
        tiny = self.layout("tiny")
        api = reg.api()
        api.push_layout("bench/tags", "t00000", tiny)
        tags = [f"t{i:05d}" for i in range(s.tags)]
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(lambda t: api.put_manifest("bench/tags", t, tiny.manifest), tags[1:]))
        got = json.loads(api.expect((200,), "GET", "/v2/bench/tags/tags/list")[1])["tags"]
        if sorted(got) != tags:
            raise BenchError(f"bench/tags holds {len(got)} tags, not {len(tags)}")
        self.expected_tags = tags
        note(f"bench/tags: {len(tags)} tags ({time.monotonic() - t0:.1f} s)")

    def make_catalog(self) -> None:
        s, reg = self.sizes, self.regs["catalog"]
        t0 = time.monotonic()
        tiny = self.layout("tiny")
        api = reg.api()
        names = [f"org-{i % 20:02d}/service-{i:04d}" for i in range(s.repos)]
        api.push_layout(names[0], "v1", tiny)

        def one(name: str) -> None:
            for d in [tiny.config_digest] + tiny.layer_digests:
                api.upload_blob(name, d, tiny.blob_path(d), mount_from=names[0])
            api.put_manifest(name, "v1", tiny.manifest)
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(one, names[1:]))
        got = api.list_all("/v2/_catalog?n=1000", "repositories")
        if sorted(got) != sorted(names):
            raise BenchError(f"the catalog registry lists {len(got)} repositories, not {len(names)}")
        self.expected_search = sorted(n for n in names if s.pattern in n)
        if not self.expected_search:
            raise BenchError(f"pattern {s.pattern!r} matches nothing")
        note(f"catalog: {len(names)} repositories, {len(self.expected_search)} match {s.pattern!r} "
             f"({time.monotonic() - t0:.1f} s)")

    # ------------------------------------------------------------------ one measure
    def registry_for(self, m: Measure, rtt: int) -> Registry:
        if m.registry == "token" and rtt:
            return self.regs["token_lat"]
        return self.regs[m.registry]

    def prepare(self, m: Measure, rtt: int, tools: List[str]) -> None:
        reg = self.registry_for(m, rtt)
        if m.op == "push":
            # The blobs already exist in the registry's storage (in another repository), for
            # every timed push alike: docker-registry then skips moving the upload into place.
            self.seed(reg, "bench/seed", m.image)
            if m.repush:
                for t in tools:
                    self.seed(reg, f"bench/repush-{rtt}ms/{t}", m.image)
        elif m.op == "pull":
            self.seed(reg, "bench/pull", m.image)

    def job(self, m: Measure, rtt: int, tool: str, rnd: int) -> Job:
        reg = self.registry_for(m, rtt)
        host = reg.proxy_host if rtt else reg.host
        j = Job(host=host, user=reg.user, password=reg.password)
        self.counter += 1
        if tool == "skopeo" and self.skopeo_isolation:
            j.skopeo_cache = os.path.join(self.work, "skopeo-cache", str(self.counter))
            os.makedirs(j.skopeo_cache)
        if m.op == "push":
            j.layout = self.layout(m.image).path
            j.repo = (f"bench/repush-{rtt}ms/{tool}" if m.repush
                      else f"bench/{m.key}-{rtt}ms/{tool}-r{rnd}")
        elif m.op == "pull":
            j.repo = "bench/pull"
            j.out_dir = os.path.join(self.work, "pull", f"{tool}-{self.counter}")
        elif m.op == "tags":
            j.repo = "bench/tags"
        elif m.op == "search":
            j.pattern = self.sizes.pattern
        return j

    def check(self, m: Measure, rtt: int, tool: str, j: Job, out: str) -> str:
        """'' when the command did what it should, else why not."""
        reg = self.registry_for(m, rtt)
        if m.op == "push":
            want = self.layout(m.image).manifest_digest
            got = reg.api().manifest_digest(j.repo, j.tag)
            return "" if got == want else f"{j.repo}:{j.tag} is {got}, the layout's manifest is {want}"
        if m.op == "pull":
            lay = self.layout(m.image)
            try:
                with open(os.path.join(j.out_dir, "index.json")) as f:
                    idx = json.load(f)
            except OSError as e:
                return f"no index.json in {j.out_dir}: {e}"
            digests = [d.get("digest") for d in idx.get("manifests", [])]
            if lay.manifest_digest not in digests:
                return f"{j.out_dir}/index.json lists {digests}, not {lay.manifest_digest}"
            for d, size in zip(lay.layer_digests, lay.layer_sizes):
                p = os.path.join(j.out_dir, "blobs", "sha256", d[7:])
                if not os.path.isfile(p) or os.path.getsize(p) != size:
                    return f"layer {d} missing or of the wrong size in {j.out_dir}"
            shutil.rmtree(j.out_dir)
            return ""
        with open(out, "rb") as f:
            text = f.read().decode(errors="replace")
        if m.op == "tags":
            got = (json.loads(text).get("Tags") or []) if tool == "skopeo" else text.split()
            if sorted(got) != self.expected_tags:
                return f"listed {len(got)} tags, expected {len(self.expected_tags)}"
            return ""
        if m.op == "search":
            got = sorted(text.split())
            if got != self.expected_search:
                return f"found {len(got)} repositories, expected {len(self.expected_search)}: {got[:5]}…"
            return ""
        raise AssertionError(m.op)

    def argv(self, tool: str, op: str, j: Job) -> Optional[List[str]]:
        if tool == "ocireg":
            return ocireg_command(op, j)
        return peer_command(tool, op, j, self.tools_dir)

    def run_measure(self, m: Measure, rtt: int, tools: List[str], runs: int) -> Result:
        name = m.key if rtt == 0 else f"{m.key}@{rtt}ms"
        label = m.label(self.sizes) + (f" — {rtt} ms RTT" if rtt else "")
        if rtt:
            self.toxi.set_rtt(rtt)
        probe = Job(host="h", repo="r", layout="l", out_dir="o", pattern="p")
        active = [t for t in tools if self.argv(t, m.op, probe) is not None]
        unsupported = [t for t in tools if t not in active]
        self.prepare(m, rtt, active)
        reg = self.registry_for(m, rtt)
        samples: Dict[str, List[Sample]] = {t: [] for t in active}
        env = self.tool_env()
        for rnd in range(runs):
            # Paired rounds: every tool once per round, the order rotated each round.
            k = rnd % len(active)
            for tool in active[k:] + active[:k]:
                j = self.job(m, rtt, tool, rnd)
                argv = self.argv(tool, m.op, j)
                out = os.path.join(self.work, "out", f"{self.counter}-{tool}.out")
                err = os.path.join(self.work, "out", f"{self.counter}-{tool}.err")
                snap = reg.snapshot()
                rc, wall, cpu, rss = run_timed(argv, env, out, err)
                if rc != 0:
                    fail_cmd(argv, rc, out, err)
                reqs = reg.requests_since(snap)
                why = self.check(m, rtt, tool, j, out)
                if why:
                    fail_cmd(argv, rc, out, err, why)
                samples[tool].append(Sample(tool, rnd, wall, cpu, rss, reqs, load1()))
                say(f"  {name:<22} round {rnd + 1}/{runs}  {tool:<7} {fmt_time(wall):>9}  "
                    f"cpu {cpu:6.2f} s  rss {rss:6.0f} MiB  {sum(reqs.values()):4d} req")
                for p in (out, err):
                    os.unlink(p)
        return Result(name, rtt, label, samples, unsupported)

    # ------------------------------------------------------------------ library load
    def run_load(self, which: str, runs: int) -> Optional[dict]:
        env = binding_env(self.tool_env())
        if which == "load-python":
            # In a venv of this interpreter, without site-packages: a site-packages directory
            # may hold .pth files that import modules at every start (on the machine of the
            # 2026-12-05 run, one imported certifi, and with it typing, re, enum, pathlib ...,
            # about 25 ms), which the bare interpreter then pays as well, so that part of what
            # `import ocireg` costs on a plain interpreter was not counted.
            venv = os.path.join(self.work, "load-venv")
            if not os.path.isdir(venv):
                subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
            interp = os.path.join(venv, "bin", "python3")
            bare = [interp, "-c", "pass"]
            withlib = [interp, "-c", "import ocireg"]
            probe = [interp, "-c", "import ocireg; print(ocireg._ffi.lib_path)"]
        else:
            interp = shutil.which("ruby")
            if not interp:
                return None
            bare = [interp, "-e", ""]
            withlib = [interp, "-e", 'require "ocireg"']
            probe = [interp, "-e", 'require "ocireg"; puts Ocireg::Native::LIBRARY_PATH']
        r = subprocess.run(probe, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        loaded = r.stdout.decode().strip()
        if r.returncode != 0 or os.path.realpath(loaded) != os.path.realpath(os.environ["OCIREG_BENCH_LIB"]):
            why = r.stderr.decode(errors="replace").strip().splitlines()[-1:] or [loaded]
            self.notes.append(f"{which}: the binding could not be loaded ({why[0]})")
            note(self.notes[-1])
            return None
        times = {"bare": [], "ocireg": []}
        for rnd in range(runs):
            order = [("bare", bare), ("ocireg", withlib)]
            for k, argv in (order if rnd % 2 == 0 else order[::-1]):
                out = os.path.join(self.work, "out", "load.out")
                rc, wall, _, _ = run_timed(argv, env, out, out)
                if rc != 0:
                    fail_cmd(argv, rc, out, out)
                times[k].append(wall)
        say(f"  {which:<22} bare {fmt_time(statistics.median(times['bare']))}  "
            f"with ocireg {fmt_time(statistics.median(times['ocireg']))}  ({runs} rounds)")
        version = interp_version(interp) + (" (venv)" if which == "load-python" else "")
        return {"key": which, "interpreter": interp, "version": version, **times}


# =============================================================================================
# Report

def fmt_time(t: float) -> str:
    if t < 1:
        return f"{t * 1000:.0f} ms" if t >= 0.0995 else f"{t * 1000:.1f} ms"
    return f"{t:.2f} s"


def fmt_range(xs: List[float], f=fmt_time) -> str:
    a, b = f(min(xs)), f(max(xs))
    ua, ub = a.rsplit(" ", 1), b.rsplit(" ", 1)
    if len(ua) == 2 and len(ub) == 2 and ua[1] == ub[1]:
        return f"{ua[0]}–{ub[0]} {ua[1]}"
    return f"{a}–{b}"


def paired_ratio(peer: List[Sample], base: List[Sample], attr: str = "wall") -> float:
    """Median over rounds of peer ÷ ocireg (same round); above 1 means ocireg was faster."""
    b = {s.round: getattr(s, attr) for s in base}
    ratios = [getattr(s, attr) / b[s.round] for s in peer if b.get(s.round)]
    return statistics.median(ratios) if ratios else float("nan")


def interp_version(path: str) -> str:
    try:
        r = subprocess.run([path, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
        return r.stdout.decode().strip().splitlines()[0]
    except Exception:  # noqa: BLE001
        return "?"


def tool_versions(tools_dir: str) -> Dict[str, str]:
    def first(argv, pat=None):
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
            text = r.stdout.decode(errors="replace")
        except Exception:  # noqa: BLE001
            return "?"
        if pat:
            m = re.search(pat, text)
            return m.group(1) if m else "?"
        return text.strip().splitlines()[0] if text.strip() else "?"
    t = lambda n: os.path.join(tools_dir, n)  # noqa: E731
    rev = first(["git", "-C", REPO, "describe", "--always", "--dirty"])
    ver = first(["grep", "-m1", "^version", os.path.join(REPO, "Cargo.toml")], r'"([^"]+)"')
    return {
        "ocireg": f"{ver} ({rev})",
        "ocireg-sendfile": "the same build, with --sendfile",
        "crane": first([t("crane"), "version"]),
        "regctl": first([t("regctl"), "version"], r"VCSTag:\s*(\S+)"),
        "oras": first([t("oras"), "version"], r"Version:\s*(\S+)"),
        "skopeo": first(["skopeo", "--version"], r"version (\S+)"),
        "docker-registry": first(["docker-registry", "--version"], r"distribution (\S+)"),
        "toxiproxy": dict(p.split("=", 1) for p in os.environ.get("OCIREG_BENCH_PINS", "").split()
                          if "=" in p).get("toxiproxy", "?"),
    }


def machine() -> Dict[str, str]:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) // 1024} MiB"
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "cpu": model, "kernel": platform.release(), "memory": mem,
            "os": platform.freedesktop_os_release().get("PRETTY_NAME", "?")
            if hasattr(platform, "freedesktop_os_release") else "?"}


def workdir_fs(path: str) -> str:
    r = subprocess.run(["stat", "-f", "-c", "%T", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return f"{os.path.dirname(path)} ({r.stdout.decode().strip() or '?'})"


def load1() -> float:
    """The 1-minute load average now (sampled after every timed command)."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def load_during(results: List["Result"]) -> str:
    xs = [s.load1 for r in results for ss in r.samples.values() for s in ss if s.load1 == s.load1]
    if not xs:
        return "—"
    return f"{statistics.median(xs):.2f} median ({min(xs):.2f}–{max(xs):.2f})"


def cpu_busy(window: float = 2.0) -> float:
    """The share of all CPUs' time spent busy over the next `window` seconds (/proc/stat)."""
    def snap() -> Tuple[int, int]:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)  # idle + iowait, all
    i0, t0 = snap()
    time.sleep(window)
    i1, t1 = snap()
    return 1 - (i1 - i0) / max(t1 - t0, 1)


def settle(limit: float, quiet: float = 0.10) -> str:
    """Waits (at most `limit` seconds) until the CPUs are idle: a run started right after a
    build or the test suite otherwise measures its first rows on a busy machine (the 1-minute
    load average lags by a minute, so /proc/stat over 2 s is what is watched)."""
    start = time.monotonic()
    while True:
        busy = cpu_busy()
        waited = time.monotonic() - start
        if busy < quiet or waited >= limit:
            return f"{busy:.0%} of the CPUs busy after waiting {waited:.0f} s (limit {limit:.0f} s)"


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def markdown(meta: dict, results: List[Result], loads: List[dict], tools: List[str]) -> str:
    peers = [t for t in tools if t != "ocireg"]
    L = []
    L.append(f"# ocireg vs {', '.join(peers)} — {meta['date']}{' (quick)' if meta['quick'] else ''}")
    L.append("")
    m = meta["machine"]
    L.append(f"- machine: {m['nproc']} CPUs, {m['cpu']}, {m['memory']}, {m['os']}, Linux {m['kernel']}")
    L.append(f"- load average (1/5/15 min): {meta['load_start']} at start, {meta['load_end']} at end; "
             f"1-min load during the run (sampled after every timed command): {meta.get('load_during', '—')}")
    if meta.get("settled"):
        L.append(f"- before the first measure: {meta['settled']}")
    L.append("- versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    L.append(f"- {meta['runs']} paired round(s) per measure (every tool once per round, order rotated); "
             f"wall time of the client process; ratio = median over rounds of peer ÷ ocireg in the "
             f"same round (**above 1 = ocireg faster**); — = the tool cannot do it")
    L.append(f"- registry: docker-registry {meta['versions'].get('docker-registry', '?')} on 127.0.0.1; "
             f"RTT rows go through toxiproxy {meta['versions'].get('toxiproxy', '?')} "
             f"(half the RTT of latency each way); inputs, registry storage and pulls in {meta['workdir']}")
    for n in meta["notes"]:
        L.append(f"- note: {n}")
    L.append("")
    head = "| measure | ocireg median (min–max) | " + " | ".join(peers) + " |"
    L.append(head)
    L.append("|---|---|" + "---|" * len(peers))

    def row(label, r: Result, attr: str, f):
        base = r.samples.get("ocireg")
        vals = lambda t: [getattr(s, attr) for s in r.samples[t]]  # noqa: E731
        cells = [label]
        cells.append(f"{f(statistics.median(vals('ocireg')))} ({fmt_range(vals('ocireg'), f)})" if base else "—")
        for p in peers:
            if p not in r.samples:
                cells.append("—")
                continue
            med = f(statistics.median(vals(p)))
            cells.append(f"{med} (×{paired_ratio(r.samples[p], base, attr):.2f})" if base else med)
        L.append("| " + " | ".join(cells) + " |")

    for r in results:
        row(r.label, r, "wall", fmt_time)
        if r.key == "push-256m":
            row(r.label + ": client CPU (user+sys)", r, "cpu", fmt_time)
            row(r.label + ": peak RSS", r, "rss_mib", lambda x: f"{x:.0f} MiB")
    L.append("")
    L.append("Requests the registry logged per run (median; Bearer rows include token requests; "
             "ocireg's `push` also verifies the push), and the 1-min load average during the measure:")
    L.append("")
    L.append("| measure | " + " | ".join(tools) + " | load |")
    L.append("|---|" + "---|" * (len(tools) + 1))
    for r in results:
        cells = [r.label]
        for t in tools:
            if t not in r.samples:
                cells.append("—")
                continue
            totals = [sum(s.requests.values()) for s in r.samples[t]]
            by = {}
            for s in r.samples[t]:
                for k, v in s.requests.items():
                    by.setdefault(k, []).append(v)
            detail = " ".join(f"{k} {statistics.median(v):g}" for k, v in sorted(by.items()) if statistics.median(v))
            cells.append(f"{statistics.median(totals):g} <sub>{detail}</sub>")
        cells.append(load_during([r]))
        L.append("| " + " | ".join(cells) + " |")
    if loads:
        L.append("")
        L.append("Library load (`python3 -c \"import ocireg\"`, `ruby -e 'require \"ocireg\"'`, "
                 "paired with the bare interpreter):")
        L.append("")
        L.append("| interpreter | bare median (min–max) | with ocireg median (min–max) | added | ratio |")
        L.append("|---|---|---|---|---|")
        for ld in loads:
            b, o = statistics.median(ld["bare"]), statistics.median(ld["ocireg"])
            L.append(f"| {ld['version']} | {fmt_time(b)} ({fmt_range(ld['bare'])}) | {fmt_time(o)} "
                     f"({fmt_range(ld['ocireg'])}) | {fmt_time(o - b)} | ×{o / b:.2f} |")
    L.append("")
    L.append(f"Command: `{meta['command']}`; total time {meta['elapsed']}.")
    return "\n".join(L) + "\n"


def svg_chart(meta: dict, results: List[Result], tools: List[str]) -> str:
    """Ratios peer ÷ ocireg as horizontal bars on a log2 axis, one group per measure."""
    peers = [t for t in tools if t != "ocireg"]
    colors = {"crane": "#4e79a7", "regctl": "#f28e2b", "oras": "#59a14f", "skopeo": "#b07aa1"}
    rows = [r for r in results if "ocireg" in r.samples]
    lo, hi = -3.0, 4.0                      # 1/8 … 16
    for r in rows:
        for p in peers:
            if p in r.samples:
                x = paired_ratio(r.samples[p], r.samples["ocireg"])
                if x == x and x > 0:
                    lo = min(lo, math.floor(math.log2(x)))
                    hi = max(hi, math.ceil(math.log2(x)))
    left, width, bar, gap, top = 330, 520, 11, 12, 58
    group_h = bar * max(1, len(peers)) + gap
    height = top + group_h * len(rows) + 50
    X = lambda v: left + (math.log2(v) - lo) / (hi - lo) * width  # noqa: E731
    esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # noqa: E731
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 40}" height="{height}" '
         f'font-family="sans-serif" font-size="12">',
         '<rect width="100%" height="100%" fill="white"/>',
         f'<text x="10" y="20" font-size="15" font-weight="bold">{esc("peer time ÷ ocireg time (median of paired rounds); right of 1 = ocireg faster")}</text>',
         f'<text x="10" y="38" fill="#555">{esc(meta["date"] + ", " + meta["machine"]["nproc"] + " CPUs, load " + meta["load_start"] + " → " + meta["load_end"] + " (during: " + meta.get("load_during", "—") + ")" + (", quick" if meta["quick"] else ""))}</text>']
    for e in range(int(lo), int(hi) + 1):
        x = X(2.0 ** e)
        lab = f"{2.0 ** e:g}" if e >= 0 else f"1/{2 ** -e}"
        o.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 40}" '
                 f'stroke="{"#000" if e == 0 else "#ddd"}" stroke-width="{1.5 if e == 0 else 1}"/>')
        o.append(f'<text x="{x:.1f}" y="{height - 26}" text-anchor="middle">×{lab}</text>')
    for i, r in enumerate(rows):
        y0 = top + i * group_h
        o.append(f'<text x="{left - 8}" y="{y0 + group_h / 2:.1f}" text-anchor="end" dominant-baseline="middle">{esc(r.label)}</text>')
        for k, p in enumerate(peers):
            y = y0 + k * bar
            if p not in r.samples:
                o.append(f'<text x="{X(1) + 4:.1f}" y="{y + bar - 2}" font-size="10" fill="#999">{p}: —</text>')
                continue
            v = paired_ratio(r.samples[p], r.samples["ocireg"])
            x1, x2 = sorted((X(1), X(v)))
            o.append(f'<rect x="{x1:.1f}" y="{y + 1}" width="{max(x2 - x1, 1):.1f}" height="{bar - 2}" fill="{colors.get(p, "#888")}">'
                     f'<title>{esc(f"{r.label}: {p} ×{v:.2f}")}</title></rect>')
            o.append(f'<text x="{x2 + 3 if v >= 1 else x1 - 3:.1f}" y="{y + bar - 2}" font-size="9" '
                     f'text-anchor="{"start" if v >= 1 else "end"}">×{v:.2f}</text>')
    lx = 10
    for p in peers:
        o.append(f'<rect x="{lx}" y="{height - 16}" width="10" height="10" fill="{colors.get(p, "#888")}"/>'
                 f'<text x="{lx + 14}" y="{height - 7}">{p}</text>')
        lx += 80
    o.append("</svg>")
    return "\n".join(o) + "\n"


# =============================================================================================

def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/run.sh", description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=None, help="paired rounds per measure (default 5; 1 with --quick)")
    p.add_argument("--quick", action="store_true", help="1 round, small inputs: validates the harness")
    p.add_argument("--only", default="", help="comma-separated measures (see --list); NAME runs every RTT "
                   "of it, NAME@20ms one")
    p.add_argument("--tools", default=",".join(TOOLS), help="comma-separated, default all: " + ",".join(TOOLS))
    p.add_argument("--rtts", default="0,20,80", help="RTTs in ms to run (0 = direct), default 0,20,80")
    p.add_argument("--out", default=os.path.join(HERE, "results"), help="results directory")
    p.add_argument("--name", default="", help="results file name without extension (default: the date)")
    p.add_argument("--list", action="store_true", help="print the measure names and exit")
    p.add_argument("--settle", type=float, default=90,
                   help="before the first measure, wait up to this many seconds for idle CPUs (default 90)")
    p.add_argument("--check-args", action="store_true", help=argparse.SUPPRESS)  # run.sh, before installing
    a = p.parse_args(argv)
    if a.runs is None:
        a.runs = 1 if a.quick else 5
    if a.runs < 1:
        p.error("--runs must be ≥ 1")
    return a


def select(args) -> Tuple[List[Tuple[Measure, int]], List[str]]:
    rtts = {int(x) for x in args.rtts.split(",") if x.strip()}
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    known = set(all_measure_names()) | {m.key for m in MEASURES}
    for o in only:
        if o not in known:
            raise BenchError(f"--only {o}: unknown measure; bench/run.sh --list shows them")
    runs, loads = [], []
    for m in MEASURES:
        for r in m.rtts:
            if r not in rtts:
                continue
            name = m.key if r == 0 else f"{m.key}@{r}ms"
            if not only or m.key in only or name in only:
                runs.append((m, r))
    for ld in LOAD_MEASURES:
        if not only or ld in only:
            loads.append(ld)
    return runs, loads


def main(argv) -> int:
    args = parse_args(argv)
    if args.list:
        print("\n".join(all_measure_names()))
        return 0
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    for t in tools:
        if t not in TOOLS:
            raise BenchError(f"--tools: unknown tool {t}")
    if "ocireg" not in tools:
        tools.insert(0, "ocireg")
    selected, loads = select(args)
    if args.check_args:
        return 0
    t_start = time.monotonic()
    started = datetime.datetime.now(datetime.timezone.utc)
    meta = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"), "quick": args.quick, "runs": args.runs,
        "machine": machine(), "load_start": loadavg(),
        "command": " ".join(["bench/run.sh"] + argv), "notes": [],
        "workdir": workdir_fs(env_path("OCIREG_BENCH_WORK")),
    }
    say(f"machine: {meta['machine']['nproc']} CPUs, {meta['machine']['cpu']}; load average {meta['load_start']}")
    b = Bench(args)

    def on_term(signum, frame):
        for pgid in list(RUNNING):
            kill_group(pgid)
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    results: List[Result] = []
    load_results: List[dict] = []
    try:
        meta["versions"] = tool_versions(b.tools_dir)
        say("versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
        need = {m.registry for m, _ in selected}
        need_latency = any(r for _, r in selected)
        if selected:
            b.start(need_latency, need)
            b.setup_home()
            if any(m.op == "tags" for m, _ in selected):
                b.make_tags()
            if any(m.op == "search" for m, _ in selected):
                b.make_catalog()
            for m, _ in selected:
                if m.image:
                    b.layout(m.image)
            # First touch of every binary (page cache), untimed.
            for t in tools:
                if t in ("ocireg", "ocireg-sendfile"):
                    subprocess.run([os.environ["OCIREG_BENCH_BIN"], "--help"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                elif t == "skopeo":
                    subprocess.run(["skopeo", "--version"], stdout=subprocess.DEVNULL)
                else:
                    subprocess.run([os.path.join(b.tools_dir, t), "version"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        if selected or loads:
            meta["settled"] = settle(args.settle)
            say("settled: " + meta["settled"])
        for m, rtt in selected:
            say(f"== {m.label(b.sizes)}{f' — {rtt} ms RTT' if rtt else ''}")
            results.append(b.run_measure(m, rtt, tools, args.runs))
        for ld in loads:
            say(f"== {ld}")
            r = b.run_load(ld, max(args.runs * b.sizes.load_runs_factor, 3))
            if r:
                load_results.append(r)
    except KeyboardInterrupt:
        note("interrupted")
        for pgid in list(RUNNING):
            kill_group(pgid)
        b.stop()
        return 130
    except BenchError:
        b.stop()
        raise
    b.stop()
    meta["load_end"] = loadavg()
    meta["load_during"] = load_during(results)
    meta["notes"] = b.notes
    el = time.monotonic() - t_start
    meta["elapsed"] = f"{int(el // 60)} min {int(el % 60)} s"
    md = markdown(meta, results, load_results, tools)
    print()
    print(md)
    os.makedirs(args.out, exist_ok=True)
    name = args.name or (started.strftime("%Y-%m-%d") + ("-quick" if args.quick else "")
                         + ("-partial" if args.only or args.rtts != "0,20,80" or len(tools) < len(TOOLS) else ""))
    base = os.path.join(args.out, name)
    with open(base + ".md", "w") as f:
        f.write(md)
    with open(base + ".svg", "w") as f:
        f.write(svg_chart(meta, results, tools))
    with open(base + ".json", "w") as f:
        json.dump({"meta": meta, "results": [
            {"key": r.key, "rtt_ms": r.rtt, "label": r.label, "unsupported": r.unsupported,
             "samples": {t: [s.__dict__ for s in ss] for t, ss in r.samples.items()}} for r in results],
            "library_load": load_results}, f, indent=1)
    say(f"wrote {base}.md, {base}.svg, {base}.json")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as e:
        print(f"bench: ERROR: {e}", file=sys.stderr)
        sys.exit(1)
