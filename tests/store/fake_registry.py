#!/usr/bin/env python3
"""Fake model registry for the store tests: one loopback HTTP server that
speaks both pull protocols, serving the GGUF files of ../shared/models.

Ollama registry:  GET /v2/NS/MODEL/manifests/TAG  -> OCI-style manifest
                  GET /v2/NS/MODEL/blobs/sha256:HEX -> 307 to /cdn/blobs/HEX
Hugging Face:     GET /api/models/ORG/REPO/tree/main -> file listing (lfs oid)
                  GET /ORG/REPO/resolve/main/FILE -> 302 to /cdn/blobs/HEX
                      with X-Linked-Etag / X-Linked-Size / X-Repo-Commit
CDN:              GET /cdn/blobs/HEX, honours "Range: bytes=N-" and "bytes=N-M" (206)
Stats:            GET /stats -> {"max_active": most CDN body transfers at once}

Chunked (parallel) pulls are exercised by models whose CDN URL carries a
mode: slow (each ranged answer waits 0.3 s before its body, so concurrent
chunks overlap), chunkstall (the first range starting at each 64 KiB
multiple > 0 sends 50000 bytes and then hangs), chunkdrop (the same, but
sends 30000 bytes and drops the connection), norange (Range is ignored: always 200).

Special models exercise failure paths (see MODELS below): corrupt blob,
traversal digests, malformed manifests, pickle payload, a transfer cut once,
a stalled transfer, a 503 once, redirects to http:// and to a private
address, a gated repository (token "test-token"), an etag mismatch, and
"flip", whose manifest names another blob at every other request.

Usage: fake_registry.py MODELS_DIR PORT_FILE LOG_FILE
Every request is appended to LOG_FILE as "METHOD PATH range=R auth=A".
"""
import hashlib
import http.server
import json
import os
import sys
import threading
import time

MODELS_DIR, PORT_FILE, LOG_FILE = sys.argv[1:4]
BLOBS = {}        # hex -> bytes served by the CDN
SERVE_AS = {}     # hex -> bytes actually sent (for the corrupt blob)
COUNTS = {}       # per-path request counters (cut once, 503 once)
LOCK = threading.Lock()
ACTIVE = [0, 0]   # CDN transfers now, most at once


def add_blob(data):
    h = hashlib.sha256(data).hexdigest()
    BLOBS[h] = data
    return h


def model_file(name):
    with open(os.path.join(MODELS_DIR, name), "rb") as f:
        return f.read()


F32 = model_file("stories260K.gguf")
F16 = model_file("stories260K-F16.gguf")
Q4KM = model_file("stories260K-mixQ5_0-from-Q4_K_M.gguf")
Q6K = model_file("stories260K-mixQ8_0-from-Q6_K.gguf")
H_F32, H_F16, H_Q4KM, H_Q6K = (add_blob(x) for x in (F32, F16, Q4KM, Q6K))
H_TEMPLATE = add_blob(b"{{ .Prompt }}")
H_PARAMS = add_blob(b'{"stop":["</s>"]}')
H_LICENSE = add_blob(b"MIT")
# A pickle that would run a command if unpickled (never executed here).
PICKLE = b"\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94."
H_PICKLE = add_blob(PICKLE)
# The corrupt model: the manifest claims the F32 digest, the CDN sends
# altered bytes under another name.
CORRUPT = bytearray(F32)
CORRUPT[len(CORRUPT) // 2] ^= 0xFF
H_CORRUPT_CLAIM = hashlib.sha256(b"corrupt-claim" + F32[:64]).hexdigest()
BLOBS[H_CORRUPT_CLAIM] = bytes(CORRUPT)


def layer(media, h, size=None):
    return {"mediaType": "application/vnd.ollama.image." + media, "digest": "sha256:" + h,
            "size": len(BLOBS[h]) if size is None else size}


def manifest(*layers):
    return {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "digest": "sha256:" + H_PARAMS, "size": len(BLOBS[H_PARAMS])},
            "layers": list(layers)}


EXTRA = [layer("template", H_TEMPLATE), layer("params", H_PARAMS), layer("license", H_LICENSE)]
MODELS = {
    "library/stories:latest": manifest(layer("model", H_F32), *EXTRA),
    "library/stories:f16": manifest(layer("model", H_F16), *EXTRA),
    "library/stories:q4": manifest(layer("model", H_Q4KM), layer("template", H_TEMPLATE)),
    "someone/tiny:v1": manifest(layer("model", H_Q6K)),
    "library/corrupt:latest": manifest(layer("model", H_CORRUPT_CLAIM)),
    "library/evil:latest": manifest({"mediaType": "application/vnd.ollama.image.model",
                                     "digest": "sha256:../../../../tmp/pwned", "size": 10}),
    "library/evilabs:latest": manifest({"mediaType": "application/vnd.ollama.image.model",
                                        "digest": "/etc/passwd", "size": 10}),
    "library/badjson:latest": "{not json",
    "library/nolayers:latest": {"schemaVersion": 2},
    "library/nomodel:latest": manifest(layer("template", H_TEMPLATE)),
    "library/twomodels:latest": manifest(layer("model", H_F32), layer("model", H_F16)),
    "library/pickle:latest": manifest(layer("model", H_PICKLE)),
    "library/cut:latest": manifest(layer("model", H_F32)),
    "library/stall:latest": manifest(layer("model", H_F16)),
    "library/flaky:latest": manifest(layer("model", H_Q4KM)),
    "library/httpredir:latest": manifest(layer("model", H_Q6K)),
    "library/privredir:latest": manifest(layer("model", H_Q6K)),
    "library/par:latest": manifest(layer("model", H_F32), layer("template", H_TEMPLATE)),
    "library/parstall:latest": manifest(layer("model", H_F16)),
    "library/pardrop:latest": manifest(layer("model", H_Q4KM)),
    "library/norange:latest": manifest(layer("model", H_Q6K)),
    "library/flip:1": manifest(layer("model", H_F32)),
    "library/flip:0": manifest(layer("model", H_Q6K)),
}
CDN_MODE = {"cut": "?cut=1", "stall": "?stall=1", "par": "?slow=1", "parstall": "?chunkstall=1",
            "pardrop": "?chunkdrop=1", "norange": "?norange=1"}


def lfs_entry(path, h):
    return {"type": "file", "oid": hashlib.sha1(path.encode()).hexdigest(), "size": len(BLOBS[h]), "path": path,
            "lfs": {"oid": h, "size": len(BLOBS[h]), "pointerSize": 134}}


STORIES_TREE = [
    {"type": "file", "oid": "0" * 40, "size": 12, "path": "README.md"},
    lfs_entry("stories260K-F32.gguf", H_F32),
    lfs_entry("stories260K-F16.gguf", H_F16),
    lfs_entry("stories260K-IQ4_K_M.gguf", H_Q6K),  # must not match Q4_K_M
    lfs_entry("stories260K-Q4_K_M.gguf", H_Q4KM),
    lfs_entry("stories260K.q6_k.gguf", H_Q6K),
]
HF = {
    "tinystories/stories260K-GGUF": STORIES_TREE,
    "gated/stories": STORIES_TREE,
    "evil/repo": [lfs_entry("../../escape-Q4_K_M.gguf", H_Q4KM)],
    "evilabs/repo": [lfs_entry("/tmp/abs-Q4_K_M.gguf", H_Q4KM)],
    "nolfs/repo": [{"type": "file", "oid": "1" * 40, "size": 10, "path": "model-Q4_K_M.gguf"}],
    "malformed/repo": {"not": "a list"},
    "etag/mismatch": [lfs_entry("model-Q4_K_M.gguf", H_Q4KM)],
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def log(self):
        with LOCK, open(LOG_FILE, "a") as f:
            f.write("%s %s range=%s auth=%s\n" % (self.command, self.path, self.headers.get("Range", "-"),
                                                  self.headers.get("Authorization", "-")))

    def header_read(self):
        """slm reads the GGUF header first with "Range: bytes=0-N" (an explicit
        end); the failure injections below target the download itself."""
        rng = self.headers.get("Range") or ""
        return rng.startswith("bytes=") and not rng.endswith("-")

    def count(self, key):
        with LOCK:
            COUNTS[key] = COUNTS.get(key, 0) + 1
            return COUNTS[key]

    def send(self, code, body=b"", ctype="application/json", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def redirect(self, code, location, headers=()):
        self.send(code, b"", "text/plain", [("Location", location)] + list(headers))

    def not_found(self, what="not found"):
        self.send(404, json.dumps({"errors": [{"code": "NOT_FOUND", "message": what}]}))

    def do_GET(self):
        self.log()
        p = self.path.split("?")[0]
        if p.startswith("/v2/"):
            return self.ollama(p[4:])
        if p.startswith("/api/models/"):
            return self.hf_tree(p[len("/api/models/"):])
        if p.startswith("/cdn/blobs/"):
            with LOCK:
                ACTIVE[0] += 1
                ACTIVE[1] = max(ACTIVE[1], ACTIVE[0])
            try:
                return self.cdn(self.path[len("/cdn/blobs/"):])
            finally:
                with LOCK:
                    ACTIVE[0] -= 1
        if p == "/stats":
            return self.send(200, json.dumps({"max_active": ACTIVE[1]}))
        if "/resolve/main/" in p:
            return self.hf_resolve(p[1:])
        return self.not_found()

    do_HEAD = do_GET

    # ---- Ollama -------------------------------------------------------------
    def ollama(self, rest):
        parts = rest.split("/")
        if len(parts) == 4 and parts[2] == "manifests":
            key = "%s/%s:%s" % (parts[0], parts[1], parts[3])
            if key == "library/flip:latest":  # a new version at every other manifest request
                key = "library/flip:%d" % (self.count(key) % 2)
            m = MODELS.get(key)
            if m is None:
                return self.not_found("manifest unknown")
            body = m if isinstance(m, str) else json.dumps(m)
            return self.send(200, body, "application/vnd.docker.distribution.manifest.v2+json")
        if len(parts) == 4 and parts[2] == "blobs" and parts[3].startswith("sha256:"):
            model, h = parts[1], parts[3][7:]
            if h not in BLOBS:
                return self.not_found("blob unknown")
            if model == "httpredir":
                return self.redirect(307, "http://localhost:%d/cdn/blobs/%s" % (self.server.server_port, h))
            if model == "privredir":
                return self.redirect(307, "https://127.0.0.1:%d/cdn/blobs/%s" % (self.server.server_port, h))
            if model == "flaky" and not self.header_read() and self.count("flaky") == 1:
                return self.send(503, "busy")
            return self.redirect(307, "/cdn/blobs/%s%s" % (h, CDN_MODE.get(model, "")))
        return self.not_found()

    # ---- Hugging Face ---------------------------------------------------------
    def authorized(self, repo):
        return not repo.startswith("gated/") or self.headers.get("Authorization") == "Bearer test-token"

    def hf_tree(self, rest):
        if not rest.endswith("/tree/main"):
            return self.not_found()
        repo = rest[: -len("/tree/main")]
        if repo not in HF:
            return self.send(404, '{"error":"Repository not found"}', headers=[("X-Error-Code", "RepoNotFound")])
        if not self.authorized(repo):
            return self.send(401, '{"error":"Access to model is restricted"}', headers=[("X-Error-Code", "GatedRepo")])
        return self.send(200, json.dumps(HF[repo]))

    def hf_resolve(self, rest):
        repo, fname = rest.split("/resolve/main/", 1)
        tree = HF.get(repo)
        if not isinstance(tree, list):
            return self.not_found()
        if not self.authorized(repo):
            return self.send(401, '{"error":"Access to model is restricted"}')
        for e in tree:
            if e["path"] == fname and "lfs" in e:
                h = e["lfs"]["oid"]
                etag = H_F16 if repo == "etag/mismatch" else h
                return self.redirect(302, "/cdn/blobs/" + h, [("X-Linked-Etag", '"%s"' % etag),
                                                             ("X-Linked-Size", str(len(BLOBS[h]))),
                                                             ("X-Repo-Commit", "a" * 40)])
        return self.send(404, '{"error":"Entry not found"}', headers=[("X-Error-Code", "EntryNotFound")])

    # ---- CDN ------------------------------------------------------------------
    def cdn(self, rest):
        h, _, query = rest.partition("?")
        data = BLOBS.get(h)
        if data is None:
            return self.not_found()
        start, end, rng = 0, len(data) - 1, self.headers.get("Range")
        if query == "norange=1":
            rng = None
        if rng:
            first, dash, last = rng[6:].partition("-")
            if not rng.startswith("bytes=") or not dash or not first.isdigit() or (last and not last.isdigit()):
                return self.send(400, "bad range")
            start = int(first)
            end = min(int(last), len(data) - 1) if last else end
            if start >= len(data) or end < start:
                return self.send(416, "", headers=[("Content-Range", "bytes */%d" % len(data))])
        bounded = self.header_read()  # never cut or stalled
        body = data[start:end + 1]
        self.send_response(206 if rng else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        if rng:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, len(data)))
        self.end_headers()
        if query == "cut=1" and start == 0 and not bounded and self.count("cut") == 1:
            self.wfile.write(body[:300000])  # then drop the connection
            self.wfile.flush()
            self.close_connection = True
            return
        if query == "slow=1" and rng:
            time.sleep(0.3)
        if query in ("chunkstall=1", "chunkdrop=1") and start > 0 and start % 65536 == 0 \
                and self.count("%s%d" % (query, start)) == 1:
            if query == "chunkstall=1":
                self.wfile.write(body[:50000])
                self.wfile.flush()
                time.sleep(3600)
                return
            self.wfile.write(body[:30000])
            self.wfile.flush()
            self.close_connection = True
            return
        if query == "stall=1" and start == 0 and not bounded:
            self.wfile.write(body[:200000])
            self.wfile.flush()
            time.sleep(3600)  # until the client gives up or is killed
            return
        self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    tmp = PORT_FILE + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_port))
    os.rename(tmp, PORT_FILE)
    srv.serve_forever()


if __name__ == "__main__":
    main()
