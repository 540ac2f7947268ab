#!/usr/bin/env bash
# End-to-end test of `hfshare du` / `prune` / `pin` with the real huggingface_hub client as three members:
#   A downloads tiny-model v1 and v2 (they share README.md's blob) and big-model's config + weights-a;
#   C downloads tiny-dataset (then pinned); B holds tiny-model v2's weights mmapped (fd closed, like
#   safetensors) while C is mid-download of big-model's weights-b (the fake hub serves that file slowly).
#   prune --max-size 1 (a watermark that would take everything) must remove only tiny-model v1:
#   v2 (mapped), big-model (download lock held) and the pinned dataset stay, the download completes,
#   the bytes freed are what du and the dry run predicted, every kept revision loads offline, audit is
#   clean and scan_cache_dir() agrees with du on every size.
#
#   HFSHARE=/path/to/hfshare bash Tests/e2e/e2e_prune.sh          (as root; E2E_KEEP=1 keeps the temp dir)
# Prints "ok - ..." / "not ok - ...: reason" per check, then "N passed, M failed"; exit 0 iff M == 0.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "e2e_prune.sh: $*" >&2; exit 2; }
# shellcheck source=lib.sh
source "$here/lib.sh"
preflight setpriv useradd
py=$(bash "$here/venv.sh")/bin/python

G=hfpr$$ UA=hfpra$$ UB=hfprb$$ UC=hfprc$$
T=$(mktemp -d "${E2E_TMPDIR:-/var/tmp}/hfprune.XXXXXX")
chmod 755 "$T"
fakehub_pid= holder_pid= fetch_pid=
export HFSHARE_SYSCONFDIR=$T/etc
root=$T/cache
mask=002
slow_rate=$((2 * 1024 * 1024)) # weights-b (16 MiB) then takes about 8 s

cleanup() {
    [[ -n $holder_pid ]] && kill "$holder_pid" 2>/dev/null || true
    [[ -n $fetch_pid ]] && kill "$fetch_pid" 2>/dev/null || true
    stop_fakehub
    remove_accounts "$UA" "$UB" "$UC" -- "$G"
    remove_tmp
}
begin_accounts
groupadd -g "$(free_id)" "$G"
for u in "$UA" "$UB" "$UC"; do useradd -K UID_MAX=64999 -M -N -u "$(free_id)" -g "$G" -d "$T/home/$u" -s /bin/sh "$u"; done
accounts_unlock
for u in "$UA" "$UB" "$UC"; do install -d -m 0700 -o "$u" -g "$G" "$T/home/$u"; done

# The fake hub, with big-model's weights-b served slowly from the start (fakehub.py --slow-file).
install -m 0644 "$here/client.py" "$T/client.py"
/usr/bin/python3 "$here/fakehub.py" --print-manifest >"$T/manifest.json"
chmod 0644 "$T/manifest.json"
/usr/bin/python3 "$here/fakehub.py" --port 0 --slow-file "weights-b.safetensors=$slow_rate" >"$T/fakehub.out" 2>"$T/fakehub.err" &
fakehub_pid=$!
url=
for _ in $(seq 100); do url=$(head -n1 "$T/fakehub.out"); [[ -n $url ]] && break; sleep 0.1; done
[[ -n $url ]] || die "fakehub did not start: $(cat "$T/fakehub.err")"

as() {
    local user=$1 home=$T/home/$1
    shift
    # shellcheck disable=SC2016
    setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --reset-env \
        env HF_HUB_CACHE="$root/hub" HF_DATASETS_CACHE="$root/datasets" HF_XET_CACHE="$root/xet" \
        HF_ASSETS_CACHE="$root/assets" HF_TOKEN_PATH="$home/.cache/huggingface/token" HF_ENDPOINT="$url" \
        HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_XET=1 HF_HUB_DISABLE_PROGRESS_BARS=1 \
        sh -c 'umask "$0" && exec "$@"' "$mask" "$@"
}
client() { local user=$1; shift; as "$user" "$py" "$T/client.py" "$@"; }
offline() { local user=$1; shift; as "$user" env HF_HUB_OFFLINE=1 "$py" "$T/client.py" "$@"; }
commit() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["revisions"][sys.argv[3]]["commit"])' "$T/manifest.json" "$1" "$2"; }
m=$T/manifest.json
tiny=models--hfshare-test--tiny-model big=models--hfshare-test--big-model ds=datasets--hfshare-test--tiny-dataset
v1=$(commit hfshare-test/tiny-model v1) v2=$(commit hfshare-test/tiny-model v2)

echo "# cache $root, users $UA $UB $UC, group $G"
"$HFSHARE" init "$root" --group "$G" --no-profile >"$T/init.log" 2>&1 || die "init failed: $(tail -3 "$T/init.log")"

two_revisions() { client "$UA" snapshot model hfshare-test/tiny-model v1 && client "$UA" snapshot model hfshare-test/tiny-model v2; }
pin_listed() { "$HFSHARE" pin datasets/hfshare-test/tiny-dataset --root "$root" && as "$UB" "$HFSHARE" pin --list --root "$root" | grep "^$ds "; }
member_cannot_pin() { local rc=0; as "$UA" "$HFSHARE" pin hfshare-test/tiny-model --root "$root" || rc=$?; [[ $rc == 2 ]]; }
check "A downloads tiny-model v1 and v2" two_revisions
check "A downloads big-model config + weights-a" client "$UA" snapshot model hfshare-test/big-model main config.json weights-a.safetensors
check "C downloads tiny-dataset" client "$UC" snapshot dataset hfshare-test/tiny-dataset main
check "pin the dataset (hfshare pin), listed by a member" pin_listed
check "a member cannot pin (exit 2)" member_cannot_pin
"$HFSHARE" repair "$root" --quiet >/dev/null 2>&1 || true # the client's 0600 trees/*.json (see README, scenario 8)
check "audit clean before prune" "$HFSHARE" audit "$root" --quiet

# B maps v2's weights, closes the fd, and reads them again at the end (after prune).
weights=$root/hub/$tiny/snapshots/$v2/model.safetensors
want=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hfshare-test/tiny-model"]["revisions"]["v2"]["files"]["model.safetensors"]["sha256"])' "$m")
as "$UB" /usr/bin/python3 -c '
import hashlib, mmap, os, sys, time
f = open(sys.argv[1], "rb"); mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ); f.close()
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]): time.sleep(0.1)
sys.exit(0 if hashlib.sha256(mm[:]).hexdigest() == sys.argv[4] else 1)' "$weights" "$T/home/$UB/mapped" "$T/home/$UB/go" "$want" &
holder_pid=$!
# C downloads weights-b slowly (the fake hub sends 2 MiB/s).
client "$UC" fetch "$m" hfshare-test/big-model main weights-b.safetensors >"$T/fetch.log" 2>&1 &
fetch_pid=$!
for _ in $(seq 150); do
    [[ -e $T/home/$UB/mapped ]] && compgen -G "$root/hub/$big/blobs/*.incomplete" >/dev/null && break
    sleep 0.1
done
check "B has the weights mapped and C is mid-download" sh -c "test -e '$T/home/$UB/mapped' && ls '$root/hub/$big/blobs/' | grep -q incomplete"

"$HFSHARE" du "$root" --json >"$T/du-before.json" 2>"$T/du-before.err" || true
"$HFSHARE" prune "$root" --max-size 1 --min-age 0 --dry-run --json >"$T/dry.json" 2>"$T/dry.err" || true
set +e
"$HFSHARE" prune "$root" --max-size 1 --min-age 0 --json >"$T/prune.json" 2>"$T/prune.err"
prune_rc=$?
set -e
check "download still running after prune (they overlapped)" kill -0 "$fetch_pid"
check "prune exits 1: watermark not reachable without taking what is in use" test "$prune_rc" = 1
check "prune removed exactly tiny-model v1, kept v2 (mapped), big-model (lock held), the dataset (pinned)" /usr/bin/python3 - "$T/prune.json" "$tiny" "$v1" "$v2" "$big" "$ds" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); tiny, v1, v2, big, ds = sys.argv[2:]
chosen = [(c["repo"], c["commit"]) for c in r["chosen"]]
assert chosen == [(tiny, v1)], f"chosen {chosen}"
kept = {(k["repo"], k["commit"]): k["reason"] for k in r["kept"]}
assert kept.get((tiny, v2), "").startswith("open by pid"), f"v2: {kept.get((tiny, v2))}"
assert any(repo == big and why.startswith("download lock held") for (repo, _), why in kept.items()), f"big: {kept}"
assert any(repo == ds and why.startswith("pinned") for (repo, _), why in kept.items()), f"dataset: {kept}"
assert not r["failures"], r["failures"]
assert r["removed_revisions"] == 1, r["removed_revisions"]
assert not r["watermark_reached"]
EOF
check "v1's ref, snapshot and own blobs are gone; v2's (and the shared README blob) stay" client "$UA" gone "$m" hfshare-test/tiny-model v1 v2
touch "$T/home/$UB/go"
rc=0; wait "$holder_pid" || rc=$?; holder_pid=
check "B's mapped weights still read back correctly (exit $rc)" test "$rc" = 0
rc=0; wait "$fetch_pid" || rc=$?; fetch_pid=
check "C's download completed (sha256 checked; exit $rc)" sh -c "cat '$T/fetch.log'; test $rc = 0"
"$HFSHARE" du "$root" --json >"$T/du-after.json" 2>"$T/du-after.err" || true
check "freed bytes = dry-run plan = du's 'only here' bytes of v1 = du before - du after" /usr/bin/python3 - "$T" "$tiny" "$v1" "$big" <<'EOF'
import json, sys
T, tiny, v1, big = sys.argv[1:]
dry, done = json.load(open(f"{T}/dry.json")), json.load(open(f"{T}/prune.json"))
before, after = json.load(open(f"{T}/du-before.json")), json.load(open(f"{T}/du-after.json"))
rev = next(r for repo in before["repos"] if repo["name"] == tiny for r in repo["revisions"] if r["commit"] == v1)
size = lambda d: sum(r["size"] for r in d["repos"] if r["name"] != big)  # big-model grew: its download finished
diff = size(before) - size(after)
vals = {"freed": done["freed_bytes"], "planned": done["planned_bytes"], "dry run": dry["planned_bytes"],
        "du exclusive(v1)": rev["exclusive"], "du before-after": diff}
print(vals)
assert len(set(vals.values())) == 1 and diff > 3 * 2**20, vals
EOF
check "every kept revision loads offline (A, sha256 checked)" offline "$UA" verify "$m" hfshare-test/tiny-model v2 hfshare-test/big-model main
check "the pinned dataset loads offline (B)" offline "$UB" verify "$m" hfshare-test/tiny-dataset main
check "audit clean after prune" "$HFSHARE" audit "$root"
check "scan_cache_dir() agrees with du on every repo and revision size" as "$UA" "$py" - "$T/du-after.json" <<'EOF'
import json, os, sys
from huggingface_hub import scan_cache_dir
du = json.load(open(sys.argv[1]))
info = scan_cache_dir(os.environ["HF_HUB_CACHE"])
hf = {}
for repo in info.repos:
    name = f"{repo.repo_type}s--" + repo.repo_id.replace("/", "--")
    hf[name] = (repo.size_on_disk, {r.commit_hash: r.size_on_disk for r in repo.revisions})
ours = {r["name"]: (r["size"], {v["commit"]: v["size"] for v in r["revisions"]}) for r in du["repos"]}
print("hf:", hf)
print("du:", ours)
assert hf == ours, "differ"
EOF
check "du --by user: A and C own what they downloaded (big-model weights-a: A, weights-b and the dataset: C)" /usr/bin/python3 - "$T/du-after.json" "$UA" "$UC" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); owners = {o["user"]: o["allocated"] for o in d["owners"]}
print(owners)
assert owners.get(sys.argv[2], 0) >= 16 * 2**20 + 3 * 2**20, "A"
assert owners.get(sys.argv[3], 0) >= 16 * 2**20 + 2**20, "C"
EOF
check "du as a member (no root): reads it all, exit 0" as "$UC" "$HFSHARE" du "$root" --by user
check "prune --unused-for 30d: nothing to do, exit 0" "$HFSHARE" prune "$root" --unused-for 30d
unpinned_prunable() { "$HFSHARE" unpin datasets/hfshare-test/tiny-dataset --root "$root" && { "$HFSHARE" prune "$root" --repo 'datasets--*' --max-size 1 --min-age 0 --dry-run || true; } | grep "would remove $ds"; }
check "unpin, then the dataset is prunable" unpinned_prunable

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
