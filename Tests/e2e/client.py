"""Client side of the e2e tests: drives the real huggingface_hub as a cache user would.

Run with the test venv's python, as the user under test, with HF_HUB_CACHE/HF_ENDPOINT/... set.
Prints nothing and exits 0 on success; prints one line of reason and exits 1 on failure.

  client.py snapshot TYPE REPO REV [GLOB...]    snapshot_download (only files matching a GLOB, if given)
  client.py file TYPE REPO REV PATH             hf_hub_download of one file
  client.py fetch MANIFEST REPO REV PATH        hf_hub_download of one file, then its sha256 checked
  client.py verify MANIFEST REPO REV [REPO REV...]
                                                every file of REPO@REV read through the client
                                                (run with HF_HUB_OFFLINE=1), sha256 checked
  client.py delete MANIFEST REPO REV            scan_cache_dir().delete_revisions(commit).execute()
  client.py gone MANIFEST REPO REV KEPT_REV     (stdlib only, any uid) the snapshot, ref and blobs
                                                of REV that KEPT_REV does not use are off the disk
  client.py unreadable DIR                      (stdlib only) list entries below DIR that this uid
                                                cannot read (or, for dirs, search)
  client.py access DIR                          (stdlib only) what this uid needs to share DIR but lacks,
                                                one "KIND path" line each: unreadable (file),
                                                unsearchable (dir r-x), unwritable (dir w), lock-unwritable;
                                                DIR/.hfshare (hfshare's own state) is skipped
  client.py once LOG MANIFEST REPO REV PATH USER...
                                                (stdlib only) fakehub's request log LOG (JSON) shows the
                                                LFS body of PATH sent once, completely, and a resolve
                                                request for PATH from every USER (the origin/ part of the
                                                User-Agent, HF_HUB_USER_AGENT_ORIGIN) before it ended
"""

import hashlib
import json
import os
import sys


def load(manifest, repo, rev):
    with open(manifest) as f:
        entry = json.load(f)[repo]
    return entry["type"], entry["revisions"][rev]


def storage_folder(repo_type, repo):
    return os.path.join(os.environ["HF_HUB_CACHE"], f"{repo_type}s--" + repo.replace("/", "--"))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(manifest, repo, rev):
    from huggingface_hub import hf_hub_download, snapshot_download

    repo_type, info = load(manifest, repo, rev)
    snap = snapshot_download(repo, repo_type=repo_type, revision=rev)
    if os.path.basename(snap) != info["commit"]:
        raise SystemExit(f"snapshot_download({rev}) gave {snap}, not commit {info['commit']}")
    for path, want in info["files"].items():
        local = hf_hub_download(repo, path, repo_type=repo_type, revision=rev)
        got = sha256(local)
        if got != want["sha256"]:
            raise SystemExit(f"{path}@{rev}: sha256 {got} != {want['sha256']}")


def fetch(manifest, repo, rev, path):
    from huggingface_hub import hf_hub_download

    repo_type, info = load(manifest, repo, rev)
    local = hf_hub_download(repo, path, repo_type=repo_type, revision=rev)
    got = sha256(local)
    if got != info["files"][path]["sha256"]:
        raise SystemExit(f"{path}@{rev}: sha256 of {local} is {got}, not {info['files'][path]['sha256']}")


def delete(manifest, repo, rev):
    from huggingface_hub import scan_cache_dir

    repo_type, info = load(manifest, repo, rev)
    scan_cache_dir(os.environ["HF_HUB_CACHE"]).delete_revisions(info["commit"]).execute()
    # execute() only logs the errors it meets (e.g. PermissionError): look at the result
    snapshot = os.path.join(storage_folder(repo_type, repo), "snapshots", info["commit"])
    if os.path.lexists(snapshot):
        raise SystemExit(f"delete_revisions().execute() returned but {snapshot} is still there")


def gone(manifest, repo, rev, kept_rev):
    repo_type, info = load(manifest, repo, rev)
    _, kept = load(manifest, repo, kept_rev)
    base = storage_folder(repo_type, repo)
    kept_blobs = {f["blob"] for f in kept["files"].values()}
    paths = [os.path.join(base, "snapshots", info["commit"]), os.path.join(base, "refs", rev)]
    paths += [os.path.join(base, "blobs", f["blob"]) for f in info["files"].values() if f["blob"] not in kept_blobs]
    left = [p for p in paths if os.path.lexists(p)]
    if left:
        raise SystemExit("still on disk: " + " ".join(os.path.relpath(p, base) for p in left))
    missing = [b for b in kept_blobs if not os.path.exists(os.path.join(base, "blobs", b))]
    if missing:
        raise SystemExit("blobs of the kept revision were deleted: " + " ".join(missing))


def unreadable(top):
    bad = []
    for dirpath, dirnames, filenames in os.walk(top):
        if dirpath == top and ".hfshare" in dirnames:
            dirnames.remove(".hfshare")  # hfshare's own state (root's; links/ and quarantine/ are root-only)
        for name in dirnames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p) and not os.access(p, os.R_OK | os.X_OK):
                bad.append(p + "/")
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p) and not os.access(p, os.R_OK):
                bad.append(p)
    for p in sorted(bad):
        print(os.path.relpath(p, top) + ("/" if p.endswith("/") else ""))


def access(top):
    def line(kind, p):
        print(kind, os.path.relpath(p, top) + ("/" if os.path.isdir(p) else ""))

    for dirpath, dirnames, filenames in os.walk(top):
        if dirpath == top and ".hfshare" in dirnames:
            dirnames.remove(".hfshare")  # hfshare's own state (root's), not part of the shared cache
        for name in dirnames:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                continue
            if not os.access(p, os.R_OK | os.X_OK):
                line("unsearchable", p)
            elif not os.access(p, os.W_OK):
                line("unwritable", p)
        for name in filenames:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                continue
            if not os.access(p, os.R_OK):
                line("unreadable", p)
            elif p.endswith(".lock") and not os.access(p, os.W_OK):
                line("lock-unwritable", p)


def once(log, manifest, repo, rev, path, *users):
    """The body of PATH went out once, complete, and every USER (HF_HUB_USER_AGENT_ORIGIN) had asked
    for PATH before it ended."""
    repo_type, info = load(manifest, repo, rev)
    sha, size = info["files"][path]["sha256"], info["files"][path]["size"]
    with open(log) as f:
        reqs = json.load(f)

    def origin(r):
        return next((p[len("origin/"):] for p in r.get("agent", "").split("; ") if p.startswith("origin/")), "?")

    bodies = [r for r in reqs if r["path"] == "/cdn/" + sha and r["method"] == "GET"]
    prefix = "/datasets/" if repo_type == "dataset" else "/"
    asks = [r for r in reqs if r["path"].startswith(prefix + repo + "/resolve/") and r["path"].endswith("/" + path)]
    sent = sum(r["bytes"] for r in bodies)
    if len(bodies) != 1 or sent != size:
        raise SystemExit(f"{path}: {len(bodies)} body transfer(s) (to {', '.join(map(origin, bodies)) or 'nobody'}),"
                         f" {sent} bytes in all, not 1 of {size} bytes")
    body = bodies[0]
    early = {origin(r) for r in asks if r["start"] < body["end"]}
    late = [u for u in users if u not in early]
    if late:
        raise SystemExit(f"{path}: {', '.join(late)} asked only after the transfer ended: the clients did not overlap")
    print(f"{path}: one transfer of {size} bytes in {body['end'] - body['start']:.1f}s, to {origin(body)};"
          f" asked meanwhile by {', '.join(sorted(early))}")


def main(argv):
    cmd, args = argv[0], argv[1:]
    if cmd == "snapshot":
        from huggingface_hub import snapshot_download

        snapshot_download(args[1], repo_type=args[0], revision=args[2], allow_patterns=args[3:] or None)
    elif cmd == "file":
        from huggingface_hub import hf_hub_download

        hf_hub_download(args[1], args[3], repo_type=args[0], revision=args[2])
    elif cmd == "verify":
        if len(args) < 3 or len(args) % 2 != 1:
            raise SystemExit("verify MANIFEST REPO REV [REPO REV...]")
        for i in range(1, len(args), 2):
            verify(args[0], args[i], args[i + 1])
    elif cmd in ("fetch", "delete", "gone", "unreadable", "access", "once"):
        globals()[cmd](*args)
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except SystemExit:
        raise
    except Exception as e:  # one line of reason for the test's "not ok" line, causes included
        reasons = []
        while e is not None and len(reasons) < 4:
            reasons.append(f"{type(e).__name__}: {e}".replace("\n", " "))
            e = e.__cause__ or e.__context__
        print(" <- ".join(reasons), file=sys.stderr)
        sys.exit(1)
