#!/usr/bin/env python3
"""Issue #13's property test: random ACLs, then members really try.

As root: access_property.py ROOT HFSHARE GROUP OTHERGROUP A B C [--seed N] [--entries N]
Makes N entries (files and dirs, owned by members A/B/C, random modes, access and default ACLs
with named users and groups and masks) under ROOT/hub/prop, audits, and has every member really
list, search, create, open read-write and delete, and use what another member created there (at
umask 077). Passes when every entry that audit leaves without a finding works for every member,
and after `hfshare repair` audit is empty and every entry works. Prints 'N passed, M failed'.
"""
import json, os, random, subprocess, sys

def worker(phase, entries, me, others):
    """Runs as a member (setpriv): returns {path: error} for what failed."""
    os.umask(0o077)
    bad = {}
    for path, kind in entries:
        try:
            if phase == "use":
                if kind == "file":
                    os.close(os.open(path, os.O_RDWR))
                else:
                    os.listdir(path)
                    f = os.path.join(path, f"new-{me}")
                    os.close(os.open(f, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o666))
                    os.mkdir(os.path.join(path, f"newdir-{me}"), 0o777)
            elif phase == "cross" and kind == "dir":
                for o in others:
                    os.close(os.open(os.path.join(path, f"new-{o}"), os.O_RDWR))
                    t = os.path.join(path, f"newdir-{o}", f"by-{me}")
                    os.close(os.open(t, os.O_CREAT | os.O_WRONLY, 0o666))
                    os.unlink(t)
            elif phase == "clean" and kind == "dir":
                os.unlink(os.path.join(path, f"new-{me}"))
                os.rmdir(os.path.join(path, f"newdir-{me}"))
        except OSError as e:
            bad[path] = f"{phase} as {me}: {e.strerror} ({e.filename})"
    return bad

if len(sys.argv) > 1 and sys.argv[1] == "--worker":
    args = json.loads(sys.stdin.read())
    print(json.dumps(worker(args["phase"], args["entries"], args["me"], args["others"])))
    sys.exit(0)

root, hfshare, group, other_group, *members = sys.argv[1:8]
seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else random.randrange(1 << 30)
count = int(sys.argv[sys.argv.index("--entries") + 1]) if "--entries" in sys.argv else 300
rng = random.Random(seed)
print(f"# seed {seed}, {count} entries")
passed = failed = 0
def check(what, ok, detail=""):
    global passed, failed
    if ok: passed += 1; print(f"ok - {what}")
    else: failed += 1; print(f"not ok - {what}: {detail}"[:2000])

base = os.path.join(root, "hub", "prop")
subprocess.run(["setpriv", f"--reuid={members[0]}", f"--regid={group}", "--init-groups", "mkdir", base], check=True)
perms = ["---", "r--", "rw-", "r-x", "rwx", "-wx", "--x", "-w-"]
entries = []
for i in range(count):
    kind = "dir" if rng.random() < 0.4 else "file"
    path = os.path.join(base, f"{kind}{i}")
    owner = rng.choice(members)
    if kind == "dir":
        os.mkdir(path)
        mode = rng.choice([0o2775, 0o2770, 0o775, 0o2755, 0o2575, 0o3775, 0o2777, 0o2705])
    else:
        open(path, "w").close()
        mode = rng.choice([0o600, 0o640, 0o644, 0o660, 0o664, 0o400, 0o460, 0o444, 0o666, 0o620])
    os.chown(path, -1, -1)
    subprocess.run(["chown", f"{owner}:{group if rng.random() < 0.9 else other_group}", path], check=True)
    os.chmod(path, mode)
    acl = []
    if rng.random() < 0.7:
        if rng.random() < 0.7: acl.append(f"g:{group}:{rng.choice(perms)}")
        if rng.random() < 0.4: acl.append(f"g::{rng.choice(perms)}")
        for m in members[:2]:
            if rng.random() < 0.3: acl.append(f"u:{m}:{rng.choice(perms)}")
        if rng.random() < 0.3: acl.append(f"g:{other_group}:{rng.choice(perms)}")
        acl.append(f"m::{rng.choice(perms) if rng.random() < 0.4 else 'rwx'}")
    if kind == "dir":
        if rng.random() < 0.8:
            d = [f"d:u::{rng.choice(['rwx', 'rwx', 'r-x'])}", f"d:g::{rng.choice(['rwx', 'rwx', 'r-x'])}",
                 f"d:o::{rng.choice(['r-x', '---', 'rwx'])}"]
            if rng.random() < 0.8: d.append(f"d:g:{group}:{rng.choice(['rwx', 'rwx', 'r-x', 'rw-'])}")
            if rng.random() < 0.3: d.append(f"d:u:{rng.choice(members)}:{rng.choice(['rwx', 'r-x', '---'])}")
            d.append(f"d:m::{rng.choice(['rwx', 'rwx', 'rwx', 'r-x'])}")
            acl += d
        else:
            subprocess.run(["setfacl", "-k", path], check=True)
    if acl:
        subprocess.run(["setfacl", "-n", "-m", ",".join(acl), path], check=True)
    entries.append((path, kind))

def audit():
    r = subprocess.run([hfshare, "audit", root, "--format", "jsonl"], capture_output=True, text=True)
    found = {}
    for line in r.stdout.splitlines():
        o = json.loads(line)
        found.setdefault(o["path"], []).append(o["kind"])
    return r.returncode, found

def try_all():
    bad = {}
    for phase in ["use", "cross", "clean"]:
        for m in members:
            others = [o for o in members if o != m]
            r = subprocess.run(["setpriv", f"--reuid={m}", f"--regid={m}", "--init-groups", sys.executable, __file__, "--worker"],
                               input=json.dumps({"phase": phase, "entries": entries, "me": m, "others": others}),
                               capture_output=True, text=True, check=True)
            for p, e in json.loads(r.stdout).items(): bad.setdefault(p, e)
    # leftovers of failed attempts, so the next round starts clean
    for path, kind in entries:
        if kind == "dir":
            for name in os.listdir(path):
                p = os.path.join(path, name)
                if os.path.isdir(p): subprocess.run(["rm", "-rf", p])
                else: os.unlink(p)
    return bad

rc, found = audit()
bad = try_all()
flagged = sum(1 for p, _ in entries if p in found)
missed = {p: e for p, e in bad.items() if p not in found}
check(f"audit flags every entry some member cannot use ({len(bad)} unusable, {flagged} flagged of {len(entries)})",
      not missed, "; ".join(f"{p}: {e} (acl: {subprocess.run(['getfacl', '-cp', p], capture_output=True, text=True).stdout.replace(chr(10), ',')})" for p, e in list(missed.items())[:5]))
check("the random tree was not already clean (the test can fail)", flagged > len(entries) // 4, f"only {flagged} flagged")
subprocess.run([hfshare, "repair", root, "-q"], capture_output=True)
rc, found = audit()
check("after repair, audit is empty", rc == 0 and not found, json.dumps(dict(list(found.items())[:5])))
bad = try_all()
check("after repair, every member can use every entry", not bad, "; ".join(f"{p}: {e}" for p, e in list(bad.items())[:5]))
subprocess.run(["rm", "-rf", base])
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
