#!/usr/bin/env python3
"""Generate a hub cache of about SIZE bytes laid out as huggingface_hub writes it, for bench/verify.sh.

  gen_hub.py HUB SIZE [--repos N] [--seed S]

Each repo `models--bench--rNN` gets one commit: `refs/main`, `snapshots/<commit>/...` relative symlinks,
and `blobs/` named by content: sha256 for the large (LFS) files, the git blob id for small ones. Sizes
follow a hub-like mix: per repo a few shards of 32-256 MiB (most of the bytes), a few MiB-sized files,
and --small small files (default 500: tokenizer, config, text and image shards of datasets). Bytes are pseudo-random (not compressible, not dedupable).
"""

import argparse
import hashlib
import os
import random

MIB = 1 << 20


def write_blob(blobs, data, lfs):
    name = hashlib.sha256(data).hexdigest() if lfs else hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    with open(os.path.join(blobs, name), "wb") as f:
        f.write(data)
    return name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hub")
    ap.add_argument("size", type=int)
    ap.add_argument("--repos", type=int, default=8)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--small", type=int, default=500, help="small (git blob) files per repo")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    per_repo = a.size // a.repos
    files = 0
    for r in range(a.repos):
        repo = os.path.join(a.hub, f"models--bench--r{r:02d}")
        blobs, commit = os.path.join(repo, "blobs"), hashlib.sha1(f"bench/{r}".encode()).hexdigest()
        snap = os.path.join(repo, "snapshots", commit)
        os.makedirs(blobs), os.makedirs(snap), os.makedirs(os.path.join(repo, "refs"))
        with open(os.path.join(repo, "refs", "main"), "w") as f:
            f.write(commit)
        plan = [("small", a.small, lambda: rng.randint(200, 60_000)), ("medium", 6, lambda: rng.randint(1 * MIB, 8 * MIB))]
        left = per_repo
        entries = []
        for kind, n, size in plan:
            for i in range(n):
                s = size()
                entries.append((f"{kind}/{i}.{'txt' if kind == 'small' else 'bin'}", s, kind != "small"))
                left -= s
        i = 0
        while left > 0:
            s = min(left, rng.randint(32 * MIB, 256 * MIB))
            entries.append((f"model-{i:05d}.safetensors", s, True))
            left -= s
            i += 1
        for path, size, lfs in entries:
            name = write_blob(blobs, rng.randbytes(size), lfs)
            link = os.path.join(snap, path)
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink(os.path.relpath(os.path.join(blobs, name), os.path.dirname(link)), link)
            files += 1
    print(files)


if __name__ == "__main__":
    main()
