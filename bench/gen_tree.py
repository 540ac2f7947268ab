#!/usr/bin/python3
"""Generate a Hugging Face hub-cache-like tree for benchmarking hfshare.

usage: gen_tree.py ROOT [--entries N] [--seed S] [--owners | --unknown-owners]
       gen_tree.py --list-owners

Creates ROOT/hub/models--orgJ--repoK/{blobs/<64-hex>, snapshots/<40-hex>/..., refs/main}
and ROOT/hub/.locks/models--orgJ--repoK/<64-hex>.lock, ~N entries in all, about one third
each directories, regular files (a few bytes) and relative symlinks snapshots -> ../../blobs.
Every entry is "wrong" for a shared cache: group root (the caller's gid), dirs 0755, files
0644 or 0600, no ACLs, so `hfshare init`/`repair` has something to do on every entry.

--owners          entries belong to a spread of up to 20 existing system uids (1..999 with
                  a passwd entry); --list-owners prints their user names, comma-separated
--unknown-owners  entries belong to uids 70000-70999, none of which may have a passwd entry
(default: owned by the caller). ROOT itself keeps the caller as owner.
The same --seed and --entries always give the same names, modes and owners.
"""
import argparse
import os
import pwd
import random
import sys

# One repo = 43 entries: 15 dirs, 14 files, 14 symlinks (two revisions sharing 4 of 7 blobs).
TOP_FILES = ["config.json", "tokenizer.json", "model.safetensors"]
SUB_FILES = ["onnx/model.onnx", "tokenizer/vocab.txt", "1_Pooling/config.json", "text_encoder/weights.bin"]
PER_REPO = 43


def known_owners():
    uids = sorted(p.pw_uid for p in pwd.getpwall() if 1 <= p.pw_uid < 1000)
    return [pwd.getpwuid(u).pw_name for u in uids[:20]], uids[:20]


def unknown_owners():
    uids = list(range(70000, 71000))
    for u in uids:
        try:
            pwd.getpwuid(u)
            sys.exit(f"gen_tree.py: uid {u} has a passwd entry; cannot use it as an unknown owner")
        except KeyError:
            pass
    return uids


def main():
    ap = argparse.ArgumentParser(usage=__doc__.split("\n\n")[1])
    ap.add_argument("root", nargs="?")
    ap.add_argument("--entries", type=int, default=250000)
    ap.add_argument("--seed", type=int, default=1)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--owners", action="store_true")
    g.add_argument("--unknown-owners", action="store_true")
    ap.add_argument("--list-owners", action="store_true")
    a = ap.parse_args()
    if a.list_owners:
        print(",".join(known_owners()[0]))
        return
    if not a.root:
        ap.error("ROOT is required")

    rng = random.Random(a.seed)
    owners = known_owners()[1] if a.owners else unknown_owners() if a.unknown_owners else None
    if owners == []:
        sys.exit("gen_tree.py: no system uids 1..999 with a passwd entry")
    hexs = lambda bits: "%0*x" % (bits // 4, rng.getrandbits(bits))
    counts = {"dirs": 0, "files": 0, "symlinks": 0}
    os.umask(0)

    def own(path):
        if owners:
            os.lchown(path, rng.choice(owners), -1)

    def mkdir(path):
        os.mkdir(path, 0o755)
        own(path)
        counts["dirs"] += 1

    def mkfile(path, data):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, rng.choice((0o644, 0o600)))
        os.write(fd, data)
        os.close(fd)
        own(path)
        counts["files"] += 1

    def mklink(target, path):
        os.symlink(target, path)
        own(path)
        counts["symlinks"] += 1

    os.makedirs(a.root, exist_ok=True)
    hub = os.path.join(a.root, "hub")
    locks = os.path.join(hub, ".locks")
    mkdir(hub)
    mkdir(locks)
    for k in range(max(1, round(a.entries / PER_REPO))):
        name = f"models--org{k % 97}--repo{k}"
        repo = os.path.join(hub, name)
        lockdir = os.path.join(locks, name)
        for d in (repo, f"{repo}/blobs", f"{repo}/refs", f"{repo}/snapshots", lockdir):
            mkdir(d)
        paths = TOP_FILES + SUB_FILES
        blobs = [hexs(256) for _ in paths]
        for b in blobs:
            mkfile(f"{repo}/blobs/{b}", b[:8].encode() + b"\n")
        rev = None
        for r in range(2):
            if r == 1:  # the second revision changes 3 files: 3 new blobs, each with its lock
                for i in (0, 2, 5):
                    blobs[i] = hexs(256)
                    mkfile(f"{repo}/blobs/{blobs[i]}", blobs[i][:8].encode() + b"\n")
                    mkfile(f"{lockdir}/{blobs[i]}.lock", b"")
            rev = hexs(160)
            snap = f"{repo}/snapshots/{rev}"
            mkdir(snap)
            for sub in sorted({p.split("/")[0] for p in SUB_FILES}):
                mkdir(f"{snap}/{sub}")
            for p, b in zip(paths, blobs):
                mklink("../" * (p.count("/") + 2) + "blobs/" + b, f"{snap}/{p}")
        mkfile(f"{repo}/refs/main", rev.encode())
    total = sum(counts.values())
    print(f"{total} entries ({counts['dirs']} dirs, {counts['files']} files, {counts['symlinks']} symlinks)")


if __name__ == "__main__":
    main()
