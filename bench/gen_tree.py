#!/usr/bin/python3
"""Generate a Hugging Face hub-cache-like tree for benchmarking hfshare.

usage: gen_tree.py ROOT [--entries N] [--seed S] [--owners | --unknown-owners] [--shape SHAPE]
       gen_tree.py --list-owners

Shapes (issue #18: a benchmark one shape passes is not a benchmark of the product):
  many-small    (default) many repos of 7 files and 2 revisions, as below
  few-huge      20 repos with thousands of files each: huge blobs/, snapshots/ and .locks/ dirs
  deep          dataset repos whose snapshots nest 6 levels of data dirs
  shared-store  huggingface_hub 2.x: repos' blobs/<etag> are links into hub/blobs/<2 hex>/<hash>,
                with .refs manifests and the .huggingface-shared-blobs marker
  datasets      a datasets cache (datasets/<name>/<config>/<version>/<hash>/*.arrow, locks, json)

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
    ap.add_argument("--shape", default="many-small", choices=["many-small", "few-huge", "deep", "shared-store", "datasets"])
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
    if a.shape != "many-small":
        SHAPES[a.shape](a.root, a.entries, hexs, mkdir, mkfile, mklink, rng)
        total = sum(counts.values())
        print(f"{a.shape}: {total} entries ({counts['dirs']} dirs, {counts['files']} files, {counts['symlinks']} symlinks)")
        return
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


def few_huge(root, entries, hexs, mkdir, mkfile, mklink, rng):
    hub, repos = os.path.join(root, "hub"), 20
    mkdir(hub); mkdir(f"{hub}/.locks")
    per = max(4, entries // repos // 3)  # blob + lock + link per file
    for k in range(repos):
        repo, lockdir, rev = f"{hub}/models--big--m{k}", f"{hub}/.locks/models--big--m{k}", hexs(160)
        for d in (repo, f"{repo}/blobs", f"{repo}/refs", f"{repo}/snapshots", f"{repo}/snapshots/{rev}", lockdir):
            mkdir(d)
        for i in range(per):
            b = hexs(256)
            mkfile(f"{repo}/blobs/{b}", b[:8].encode())
            mkfile(f"{lockdir}/{b}.lock", b"")
            mklink(f"../../blobs/{b}", f"{repo}/snapshots/{rev}/shard-{i:05d}.safetensors")
        mkfile(f"{repo}/refs/main", rev.encode())


def deep(root, entries, hexs, mkdir, mkfile, mklink, rng):
    hub = os.path.join(root, "hub")
    mkdir(hub); mkdir(f"{hub}/.locks")
    made = 2
    k = 0
    while made < entries:
        repo, rev = f"{hub}/datasets--org--d{k}", hexs(160)
        for d in (repo, f"{repo}/blobs", f"{repo}/refs", f"{repo}/snapshots", f"{repo}/snapshots/{rev}"):
            mkdir(d)
        made += 5
        for split in ("train", "test"):
            base = f"{repo}/snapshots/{rev}/data/{split}"
            path = f"{repo}/snapshots/{rev}"
            for part in ["data", split, "lang=en", "year=2026", "month=11", "day=30"]:
                path = f"{path}/{part}"
                if not os.path.exists(path):
                    mkdir(path); made += 1
            for i in range(20):
                b = hexs(256)
                mkfile(f"{repo}/blobs/{b}", b[:8].encode())
                mklink("../" * 8 + f"blobs/{b}", f"{path}/part-{i:04d}.parquet")
                made += 2
        mkfile(f"{repo}/refs/main", rev.encode()); made += 1
        k += 1


def shared_store(root, entries, hexs, mkdir, mkfile, mklink, rng):
    hub = os.path.join(root, "hub")
    mkdir(hub); mkdir(f"{hub}/.locks"); mkdir(f"{hub}/blobs")
    mkfile(f"{hub}/blobs/.huggingface-shared-blobs", b"")
    for x in range(256):
        mkdir(f"{hub}/blobs/{x:02x}")
    made, k = 260, 0
    while made < entries:
        repo, rev = f"{hub}/models--org--s{k}", hexs(160)
        for d in (repo, f"{repo}/blobs", f"{repo}/refs", f"{repo}/snapshots", f"{repo}/snapshots/{rev}"):
            mkdir(d)
        made += 5
        for i in range(8):
            h, etag = hexs(256), hexs(256)
            mkfile(f"{hub}/blobs/{h[:2]}/{h}", h[:8].encode())
            mkfile(f"{hub}/blobs/{h[:2]}/{h}.refs", f"models--org--s{k}\n".encode())
            mklink(f"../../blobs/{h[:2]}/{h}", f"{repo}/blobs/{etag}")
            mklink(f"../../blobs/{etag}", f"{repo}/snapshots/{rev}/file{i}.bin")
            made += 4
        mkfile(f"{repo}/refs/main", rev.encode()); made += 1
        k += 1


def datasets(root, entries, hexs, mkdir, mkfile, mklink, rng):
    ds = os.path.join(root, "datasets")
    mkdir(ds)
    made, k = 1, 0
    while made < entries:
        base = f"{ds}/org___set{k}"
        mkdir(base); made += 1
        for cfg in ("default", "en"):
            path = f"{base}/{cfg}/0.0.0/{hexs(160)}"
            p = base
            for part in path[len(base) + 1:].split("/"):
                p = f"{p}/{part}"
                mkdir(p); made += 1
            for i in range(12):
                mkfile(f"{path}/set{k}-train-{i:05d}-of-00012.arrow", b"ARROW1")
                made += 1
            mkfile(f"{path}/dataset_info.json", b"{}"); made += 1
        mkfile(f"{ds}/_{hexs(64)}.lock", b""); made += 1
        k += 1


SHAPES = {"few-huge": few_huge, "deep": deep, "shared-store": shared_store, "datasets": datasets}


if __name__ == "__main__":
    main()
