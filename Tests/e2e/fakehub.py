#!/usr/bin/env python3
"""A tiny fake Hugging Face Hub for end-to-end tests (Python stdlib only).

Serves deterministic repos, generated in-process from REPOS below, well enough for the real
`huggingface_hub` client (hf_hub_download, snapshot_download, model_info/dataset_info,
list_repo_tree, get_paths_info) over plain HTTP, with no xet headers:

  HEAD/GET /{repo}/resolve/{rev}/{path}            model files
  HEAD/GET /datasets/{repo}/resolve/{rev}/{path}   dataset files
  GET      /api/{models,datasets}/{repo}[/revision/{rev}]
  GET      /api/{models,datasets}/{repo}/tree/{rev}[/{path}]?recursive=
  POST     /api/{models,datasets}/{repo}/paths-info/{rev}
  HEAD/GET /cdn/{sha256}                           LFS bodies (Range -> 206)

Regular files answer 200 with ETag = git blob sha1. LFS files answer 302 to the CDN with
X-Linked-Etag = sha256 and X-Linked-Size, like the real hub. The CDN listens on a second port of
this process so that the client treats it as another host (it does not follow a HEAD redirect
off the hub's origin and takes the metadata from the 302, as with the real CDN).

Usage:
  fakehub.py --port 0            print the hub URL as the first stdout line, serve until SIGTERM
  fakehub.py --print-manifest    print as JSON {repo: {type, revisions: {rev: {commit, files:
                                 {path: {sha256, size, blob (its cache blob name), lfs}}}}}}
Faults (LFS bodies only): --slow-lfs-bytes-per-sec N, --truncate-lfs (no response ever carries
bytes past the middle of the file: the connection is closed there, so every download fails),
--slow-file F=N (repeatable: only the LFS file F, as in POST /_fakehub/faults, at N bytes/s from the
start; every other file at full speed).

Control at runtime (on the hub port; what the scenario runner uses):
  POST /_fakehub/faults  {"file": F, "rate": N, "truncate": bool, "stall_at": B}   F = an LFS file's
                         sha256, its path in any repo, or "*". rate: bytes/s; truncate: as --truncate-lfs;
                         stall_at: after B bytes of the body, send nothing more until the fault is
                         changed (or 300 s). All three off removes the fault. Per-file faults win over
                         "*", which wins over the command-line options.
  GET  /_fakehub/log     JSON list of every request served: method, path, status, start, end (epoch s),
                         bytes (body bytes written), agent (User-Agent). POST /_fakehub/log/reset
                         empties it.
  fakehub.py --control URL fault F [--rate N] [--truncate] [--stall-at B]   the same from the command line
  fakehub.py --control URL log | log-reset                     (prints the answer's JSON)
"""

import argparse
import hashlib
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

MIB = 1024 * 1024

# Repo data: name -> {revision name -> {path -> (kind, content recipe)}}. "text" files hold the
# given string; "lfs" files hold `size` deterministic bytes derived from `seed`. Each revision
# name is a branch pointing at its own commit; the last one listed is also `main`.
REPOS = {
    ("model", "hfshare-test/tiny-model"): {
        "v1": {
            "config.json": ("text", '{"model_type": "tiny", "hidden_size": 8, "version": 1}\n'),
            "README.md": ("text", "# tiny-model\n\nA fake model for hfshare tests.\n"),
            "model.safetensors": ("lfs", {"seed": "tiny-model/v1", "size": 3 * MIB}),
        },
        "v2": {
            "config.json": ("text", '{"model_type": "tiny", "hidden_size": 8, "version": 2}\n'),
            "README.md": ("text", "# tiny-model\n\nA fake model for hfshare tests.\n"),  # same blob as v1
            "tokenizer/vocab.txt": ("text", "[PAD]\n[UNK]\nhello\nworld\n"),
            "model.safetensors": ("lfs", {"seed": "tiny-model/v2", "size": 3 * MIB + 12345}),
        },
    },
    ("dataset", "hfshare-test/tiny-dataset"): {
        "main": {
            "README.md": ("text", "# tiny-dataset\n"),
            "data/train.jsonl": ("text", "".join(f'{{"id": {i}, "text": "row {i}"}}\n' for i in range(50))),
            "data/train-00000-of-00001.parquet": ("lfs", {"seed": "tiny-dataset/main", "size": 1 * MIB}),
        },
    },
    # large enough that a throttled transfer (runtime fault) lasts seconds: two users downloading the
    # same file at the same moment, a download killed mid-transfer (Tests/e2e/scenarios.sh)
    ("model", "hfshare-test/big-model"): {
        "main": {
            "config.json": ("text", '{"model_type": "big", "hidden_size": 4096}\n'),
            "weights-a.safetensors": ("lfs", {"seed": "big-model/a", "size": 16 * MIB}),
            "weights-b.safetensors": ("lfs", {"seed": "big-model/b", "size": 16 * MIB}),
        },
    },
}


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class File:
    def __init__(self, path, kind, recipe):
        self.path = path
        self.lfs = kind == "lfs"
        if self.lfs:
            self.data = hashlib.shake_256(recipe["seed"].encode()).digest(recipe["size"])
        else:
            self.data = recipe.encode()
        self.sha256 = hashlib.sha256(self.data).hexdigest()
        if self.lfs:
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {len(self.data)}\n"
            self.pointer_size = len(pointer)
            self.oid = git_blob_sha1(pointer.encode())
            self.etag = self.sha256  # what the cache names the blob after
        else:
            self.oid = git_blob_sha1(self.data)
            self.etag = self.oid

    def tree_entry(self):
        entry = {"type": "file", "oid": self.oid, "size": len(self.data), "path": self.path}
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": len(self.data), "pointerSize": self.pointer_size}
        return entry


class Repo:
    def __init__(self, repo_type, repo_id, revisions):
        self.type, self.id = repo_type, repo_id
        self.commits = {}  # commit sha -> {path: File}
        self.refs = {}  # branch name -> commit sha
        for name, files in revisions.items():
            commit = hashlib.sha1(f"{repo_type}:{repo_id}@{name}".encode()).hexdigest()
            self.commits[commit] = {p: File(p, kind, recipe) for p, (kind, recipe) in sorted(files.items())}
            self.refs[name] = commit
        self.refs["main"] = commit  # the last revision

    def resolve(self, rev):
        return rev if rev in self.commits else self.refs.get(rev)


def build_repos():
    return {(t, i): Repo(t, i, revs) for (t, i), revs in REPOS.items()}


def manifest(repos):
    return {
        repo.id: {
            "type": repo.type,
            "revisions": {
                name: {
                    "commit": commit,
                    "files": {
                        f.path: {"sha256": f.sha256, "size": len(f.data), "blob": f.etag, "lfs": f.lfs}
                        for f in repo.commits[commit].values()
                    },
                }
                for name, commit in repo.refs.items()
            },
        }
        for repo in repos.values()
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakehub/1"
    hub = None  # set by main(): namespace with repos, blobs, cdn_url, options

    def log_message(self, fmt, *args):
        if self.hub.verbose:
            sys.stderr.write("fakehub: %s\n" % (fmt % args))

    def send_response(self, code, message=None):
        if hasattr(self, "rec"):  # not set when the request line itself was bad
            self.rec["status"] = code
        super().send_response(code, message)

    # --- plumbing -----------------------------------------------------------------------
    def send(self, status, headers=(), body=b"", length=None):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def send_json(self, obj, headers=()):
        self.send(200, [("Content-Type", "application/json"), *headers], json.dumps(obj).encode())

    def error(self, status, code, message, headers=()):
        body = json.dumps({"error": message}).encode()
        self.send(status, [("Content-Type", "application/json"), ("X-Error-Code", code),
                           ("X-Error-Message", message), *headers], body)

    def do_HEAD(self):
        self.route()

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.route()

    def route(self):
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        self.query = parse_qs(url.query)
        self.rec = {"method": self.command, "path": url.path, "status": None, "start": time.time(), "bytes": 0,
                    "agent": self.headers.get("User-Agent", "")}
        try:
            if parts[0] == "_fakehub":
                return self.control(parts[1:])
            if parts[0] == "cdn" and len(parts) == 2:
                return self.cdn(parts[1])
            if parts[0] == "api" and len(parts) >= 4 and parts[1] in ("models", "datasets"):
                return self.api(parts[1][:-1], "/".join(parts[2:4]), parts[4:])
            repo_type = "model"
            if parts[0] == "datasets":
                repo_type, parts = "dataset", parts[1:]
            if len(parts) >= 5 and parts[2] == "resolve":
                return self.resolve(repo_type, "/".join(parts[:2]), unquote(parts[3]), unquote("/".join(parts[4:])))
            self.error(404, "NotFound", "no such route")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            if parts[0] != "_fakehub":
                self.rec["end"] = time.time()
                with self.hub.lock:
                    self.hub.log.append(self.rec)

    def control(self, parts):
        hub = self.hub
        if parts == ["log"] and self.command == "GET":
            with hub.lock:
                return self.send_json(list(hub.log))
        if parts == ["log", "reset"] and self.command == "POST":
            with hub.lock:
                hub.log.clear()
            return self.send_json({})
        if parts == ["faults"] and self.command == "POST":
            req = json.loads(self.body or b"{}")
            key = req.get("file", "*")
            keys = [key] if key == "*" or key in hub.blobs else sorted(
                {f.sha256 for r in hub.repos.values() for fs in r.commits.values() for f in fs.values()
                 if f.lfs and f.path == key})
            if not keys:
                return self.error(404, "NotFound", "no LFS file " + key)
            fault = {"rate": int(req.get("rate") or 0), "truncate": bool(req.get("truncate")),
                     "stall_at": int(req.get("stall_at") or 0)}
            with hub.lock:
                for k in keys:
                    if fault["rate"] or fault["truncate"] or fault["stall_at"]:
                        hub.faults[k] = fault
                    else:
                        hub.faults.pop(k, None)
                return self.send_json(hub.faults)
        self.error(404, "NotFound", "no such control route")

    def find(self, repo_type, repo_id, rev):
        """(repo, commit) or (None, None) after sending the hub's 404."""
        repo = self.hub.repos.get((repo_type, repo_id))
        if repo is None:
            self.error(404, "RepoNotFound", "Repository not found")
            return None, None
        commit = repo.resolve(rev)
        if commit is None:
            self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
            return None, None
        return repo, commit

    # --- endpoints ------------------------------------------------------------------------
    def resolve(self, repo_type, repo_id, rev, path):
        repo, commit = self.find(repo_type, repo_id, rev)
        if repo is None:
            return
        f = repo.commits[commit].get(path)
        if f is None:
            return self.error(404, "EntryNotFound", "Entry not found", [("X-Repo-Commit", commit)])
        common = [("X-Repo-Commit", commit), ("Accept-Ranges", "bytes")]
        if f.lfs:
            location = f"{self.hub.cdn_url}/cdn/{f.sha256}"
            return self.send(302, [*common, ("Location", location), ("ETag", f'"{f.oid}"'),
                                   ("X-Linked-Etag", f'"{f.sha256}"'), ("X-Linked-Size", str(len(f.data)))])
        self.send_body(f.data, [*common, ("ETag", f'"{f.etag}"')], lfs=False)

    def cdn(self, sha256):
        data = self.hub.blobs.get(sha256)
        if data is None:
            return self.send(404, [], b"not found")
        with self.hub.lock:
            fault = self.hub.faults.get(sha256) or self.hub.faults.get("*")
        if fault is None:
            fault = {"rate": self.hub.slow_lfs, "truncate": self.hub.truncate_lfs}
        self.send_body(data, [("ETag", f'"{sha256}"'), ("Accept-Ranges", "bytes")], lfs=True, fault=fault,
                       key=sha256)

    def stalled(self, key):
        with self.hub.lock:
            fault = self.hub.faults.get(key) or self.hub.faults.get("*") or {}
        return bool(fault.get("stall_at"))

    def send_body(self, data, headers, lfs, fault=None, key=None):
        start, end = 0, len(data)  # [start, end)
        status = 200
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes="):
            first, _, last = rng[6:].split(",")[0].partition("-")
            if first:
                start, end = int(first), (int(last) + 1 if last else len(data))
            else:  # suffix range
                start = max(0, len(data) - int(last))
            end = min(end, len(data))
            if start >= len(data) or start >= end:
                return self.send(416, [("Content-Range", f"bytes */{len(data)}")])
            status = 206
            headers = [*headers, ("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")]
        self.send_response(status)
        for k, v in [("Content-Type", "application/octet-stream"), *headers]:
            self.send_header(k, v)
        self.send_header("Content-Length", str(end - start))
        self.end_headers()
        if self.command == "HEAD":
            return
        stop = end
        fault = fault or {"rate": 0, "truncate": False}
        if fault["truncate"]:
            stop = min(end, max(start, len(data) // 2))
        rate = fault["rate"]
        stall_at = fault.get("stall_at") or None
        chunk = min(64 * 1024, rate) if rate else 1024 * 1024
        pos = start
        while pos < stop:
            if stall_at is not None and pos >= stall_at:
                self.wfile.flush()
                deadline = time.time() + 300
                while time.time() < deadline and self.stalled(key):
                    time.sleep(0.1)
                stall_at = None
            n = min(chunk, stop - pos, (stall_at - pos) if stall_at is not None else stop)
            self.wfile.write(data[pos:pos + n])
            pos += n
            self.rec["bytes"] = pos - start
            if rate:
                self.wfile.flush()
                time.sleep(n / rate)
        if stop < end:
            self.wfile.flush()
            self.close_connection = True  # client sees a short body

    def api(self, repo_type, repo_id, rest):
        rev, sub = "main", ""
        if len(rest) >= 2 and rest[0] in ("revision", "tree", "paths-info"):
            rev, sub = unquote(rest[1]), rest[0]
            path = unquote("/".join(rest[2:]))
        elif rest:
            return self.error(404, "NotFound", "no such route")
        repo, commit = self.find(repo_type, repo_id, rev)
        if repo is None:
            return
        files = repo.commits[commit]
        if sub == "tree":
            recursive = self.query.get("recursive", ["false"])[0].lower() in ("1", "true")
            return self.send_json(tree(files, path, recursive))
        if sub == "paths-info" and self.command == "POST":
            form = parse_qs(self.body.decode())
            wanted = set(form.get("paths", []))
            return self.send_json([e for e in tree(files, "", True) if e["path"] in wanted])
        self.send_json({
            "id": repo.id, "_id": hashlib.sha1(repo.id.encode()).hexdigest()[:24], "author": repo.id.split("/")[0],
            "sha": commit, "private": False, "gated": False, "disabled": False, "downloads": 0, "likes": 0,
            "tags": [], "lastModified": "2024-01-01T00:00:00.000Z", "createdAt": "2024-01-01T00:00:00.000Z",
            "siblings": [{"rfilename": p} for p in files],
        })


def tree(files, prefix, recursive):
    """The /tree listing of `prefix` ('' = repo root): files plus the directories on the way."""
    base = prefix.strip("/") + "/" if prefix.strip("/") else ""
    out = {}
    for f in files.values():
        if not f.path.startswith(base):
            continue
        rel = f.path[len(base):].split("/")
        for depth in range(1, len(rel)):
            d = base + "/".join(rel[:depth])
            if depth == 1 or recursive:
                out.setdefault(d, {"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0,
                                   "path": d})
        if len(rel) == 1 or recursive:
            out[f.path] = f.tree_entry()
    return [out[k] for k in sorted(out)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="hub port on 127.0.0.1 (0 = any free port)")
    ap.add_argument("--print-manifest", action="store_true", help="print the expected files as JSON and exit")
    ap.add_argument("--slow-lfs-bytes-per-sec", type=int, default=0, metavar="N")
    ap.add_argument("--truncate-lfs", action="store_true")
    ap.add_argument("--slow-file", action="append", default=[], metavar="F=N",
                    help="serve the LFS file F (sha256 or path) at N bytes/s; repeatable")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    ap.add_argument("--control", metavar="URL", help="talk to a running fakehub at URL (see ACTION)")
    ap.add_argument("action", nargs="*", help="with --control: fault FILE | log | log-reset")
    ap.add_argument("--rate", type=int, default=0, help="with --control URL fault: bytes per second")
    ap.add_argument("--truncate", action="store_true", help="with --control URL fault: cut the body halfway")
    ap.add_argument("--stall-at", type=int, default=0, metavar="B",
                    help="with --control URL fault: stop sending after B bytes until the fault changes")
    args = ap.parse_args()
    if args.control:
        return control(args)

    repos = build_repos()
    if args.print_manifest:
        json.dump(manifest(repos), sys.stdout, indent=1, sort_keys=True)
        print()
        return

    class Hub:
        pass

    hub = Handler.hub = Hub()
    hub.repos, hub.verbose = repos, args.verbose
    hub.lock, hub.log, hub.faults = threading.Lock(), [], {}
    hub.slow_lfs, hub.truncate_lfs = args.slow_lfs_bytes_per_sec, args.truncate_lfs
    hub.blobs = {f.sha256: f.data for r in repos.values() for fs in r.commits.values() for f in fs.values() if f.lfs}
    for spec in args.slow_file:
        key, _, rate = spec.rpartition("=")
        keys = [key] if key in hub.blobs else sorted(
            {f.sha256 for r in repos.values() for fs in r.commits.values() for f in fs.values() if f.lfs and f.path == key})
        if not keys or not rate.isdigit() or int(rate) <= 0:
            ap.error(f"--slow-file {spec}: want an LFS file (sha256 or path) = bytes per second")
        for k in keys:
            hub.faults[k] = {"rate": int(rate), "truncate": False, "stall_at": 0}

    ThreadingHTTPServer.daemon_threads = True
    servers = [ThreadingHTTPServer(("127.0.0.1", args.port), Handler), ThreadingHTTPServer(("127.0.0.1", 0), Handler)]
    hub.cdn_url = "http://127.0.0.1:%d" % servers[1].server_address[1]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("http://127.0.0.1:%d" % servers[0].server_address[1], flush=True)
    stop.wait()
    for s in servers:
        s.shutdown()
        s.server_close()


def control(args):
    from urllib.request import Request, urlopen

    act = args.action
    if act[:1] == ["fault"] and len(act) == 2:
        body = json.dumps({"file": act[1], "rate": args.rate, "truncate": args.truncate,
                           "stall_at": args.stall_at}).encode()
        req = Request(args.control + "/_fakehub/faults", data=body, method="POST")
    elif act == ["log"]:
        req = Request(args.control + "/_fakehub/log")
    elif act == ["log-reset"]:
        req = Request(args.control + "/_fakehub/log/reset", data=b"", method="POST")
    else:
        raise SystemExit("--control URL needs: fault FILE [--rate N] [--truncate] | log | log-reset")
    from urllib.error import HTTPError

    try:
        with urlopen(req, timeout=10) as r:
            sys.stdout.write(r.read().decode() + "\n")
    except HTTPError as e:
        raise SystemExit(f"fakehub --control: {e.code} {e.read().decode()}")


if __name__ == "__main__":
    main()
