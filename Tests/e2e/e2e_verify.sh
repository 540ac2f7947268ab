#!/usr/bin/env bash
# End-to-end test of issue #14 (repo integrity): a cache filled by the real huggingface_hub client from
# the fake hub, then broken the ways users broke theirs (a ref with a trailing newline, a ref to a commit
# never downloaded, a deleted blob, a flipped byte, an orphan blob; plus the 2.x shared blob store and an
# HF_HUB_DISABLE_SYMLINKS partial snapshot, which are not broken). Checks that `audit` lists exactly the
# structural findings, `verify` names exactly the broken repo@revisions, and that after `repair` and
# `verify --fix` the client loads every intact revision offline and downloads the quarantined one again.
#
#   HFSHARE=/path/to/hfshare bash Tests/e2e/e2e_verify.sh          (as root)
#   E2E_KEEP=1 keeps the temp dir.
# Prints "ok - ..." / "not ok - ...: reason" per check, then "N passed, M failed"; exit 0 iff M == 0.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "e2e_verify.sh: $*" >&2; exit 2; }
# shellcheck source=lib.sh
source "$here/lib.sh"
preflight setpriv
py=$(bash "$here/venv.sh")/bin/python

model=hfshare-test/tiny-model dataset=hfshare-test/tiny-dataset big=hfshare-test/big-model
G=hfv$$ UA=hfva$$
T=$(mktemp -d "${E2E_TMPDIR:-/var/tmp}/hfverify.XXXXXX")
chmod 755 "$T"
fakehub_pid=
export HFSHARE_SYSCONFDIR=$T/etc
cleanup() {
    stop_fakehub
    remove_accounts "$UA" -- "$G"
    remove_tmp
}
begin_accounts
groupadd -g "$(free_id)" "$G"
useradd -K UID_MAX=64999 -M -N -u "$(free_id)" -g "$G" -d "$T/home/$UA" -s /bin/sh "$UA"
accounts_unlock
install -d -m 0700 -o "$UA" -g "$G" "$T/home/$UA"
start_fakehub

root=$T/cache
m=$T/manifest.json
as() { # as USER CMD...: the client's environment for $root
    local user=$1 home=$T/home/$1
    shift
    # shellcheck disable=SC2016
    setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --reset-env \
        env HF_HUB_CACHE="$root/hub" HF_XET_CACHE="$root/xet" HF_ASSETS_CACHE="$root/assets" \
        HF_TOKEN_PATH="$home/.cache/huggingface/token" HF_ENDPOINT="$url" HF_HUB_DISABLE_TELEMETRY=1 \
        HF_HUB_DISABLE_XET=1 HF_HUB_DISABLE_PROGRESS_BARS=1 ${EXTRA_ENV:-} sh -c 'umask 002 && exec "$@"' sh "$@"
}
client() { as "$UA" "$py" "$T/client.py" "$@"; }
offline() { EXTRA_ENV=HF_HUB_OFFLINE=1 as "$UA" "$py" "$T/client.py" "$@"; }
commit() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["revisions"][sys.argv[3]]["commit"])' "$m" "$1" "$2"; }
blob() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["revisions"][sys.argv[3]]["files"][sys.argv[4]]["blob"])' "$m" "$1" "$2" "$3"; }
fails() { ! "$@"; }

# `audit --format jsonl` of the four repo-integrity kinds (plus symlink-dangling, which must not
# repeat a snapshot link) as sorted "kind path-relative-to-ROOT" lines, compared with $1.
audit_kinds() {
    local want=$1 got
    got=$("$HFSHARE" audit "$root" --format jsonl | /usr/bin/python3 -c '
import json, sys
root = sys.argv[1] + "/"
kinds = {"ref-malformed", "ref-dangling", "snapshot-link-broken", "blob-orphan", "symlink-dangling"}
for line in sys.stdin:
    f = json.loads(line)
    if f["kind"] in kinds:
        print(f["kind"], f["path"][len(root):])' "$root" | sort) || true
    if [[ $got != "$want" ]]; then echo "got:"; echo "$got"; echo "want:"; echo "$want"; return 1; fi
    echo "$got"
}

# `verify --json` as sorted "status label" lines for every revision not ok, compared with $1; $2 the exit status wanted.
verify_status() {
    local want=$1 rc_want=$2 json rc=0 got
    shift 2
    json=$("$HFSHARE" verify "$root" --json "$@") || rc=$?
    got=$(/usr/bin/python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
for rev in r["revisions"]:
    if rev["status"] != "ok":
        print(rev["status"], rev["revision"])' <<<"$json" | sort)
    if [[ $got != "$want" || $rc != "$rc_want" ]]; then
        echo "exit $rc (want $rc_want); got:"; echo "$got"; echo "want:"; echo "$want"; echo "$json" | head -60; return 1
    fi
    echo "$got"
}

json_field() { "$HFSHARE" verify "$root" --json "${@:2}" | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

echo "# cache $root"
check "init" "$HFSHARE" init "$root" --group "$G" --no-profile
download_model() { client snapshot model "$model" v1 && client snapshot model "$model" v2 && client snapshot model "$model" main; }
download_partial() { EXTRA_ENV=HF_HUB_DISABLE_SYMLINKS=1 as "$UA" "$py" "$T/client.py" snapshot model "$big" main config.json; }
check "A downloads tiny-model v1 and v2 (main)" download_model
check "A downloads tiny-dataset" client snapshot dataset "$dataset" main
check "A downloads big-model's config.json only, with HF_HUB_DISABLE_SYMLINKS=1 (a partial snapshot of regular files)" download_partial

M=$root/hub/models--hfshare-test--tiny-model D=$root/hub/datasets--hfshare-test--tiny-dataset B=$root/hub/models--hfshare-test--big-model
c_v1=$(commit "$model" v1) c_v2=$(commit "$model" v2) c_ds=$(commit "$dataset" main) c_big=$(commit "$big" main)
regular_snapshot() { [[ -f $B/snapshots/$c_big/config.json && ! -L $B/snapshots/$c_big/config.json && -f $B/trees/$c_big.json ]]; }
check "big-model's snapshot holds a regular file (no symlink) and a trees/<commit>.json" regular_snapshot

# The 2.x shared store (utils/_shared_blobs.py): only Xet downloads publish to it and the fake hub
# serves no Xet, so it is laid out here exactly as publish_blob_to_shared_store() does: the payload
# moves to hub/blobs/<2 hex>/<xet hash>, a <xet hash>.refs manifest names the repo blob, and the repo
# blob becomes a relative symlink to it.
s_v1=$(blob "$model" v1 model.safetensors)
xet=$(printf 'xet:%s' "$s_v1" | sha256sum | cut -c1-64)
mkdir -p "$root/hub/blobs/${xet:0:2}"
printf '1\n' >"$root/hub/blobs/.huggingface-shared-blobs"
mv "$M/blobs/$s_v1" "$root/hub/blobs/${xet:0:2}/$xet"
printf 'models--hfshare-test--tiny-model/blobs/%s\n' "$s_v1" >"$root/hub/blobs/${xet:0:2}/$xet.refs"
ln -s "../../blobs/${xet:0:2}/$xet" "$M/blobs/$s_v1"
chown -R -h "$UA:$G" "$root/hub/blobs" "$M/blobs/$s_v1"
check "the client loads tiny-model v1 offline through the shared store" offline verify "$m" "$model" v1

check "healthy: audit lists none of the repo-integrity kinds" audit_kinds ""
check "healthy: verify says only big-model is partial, exit 0" verify_status "partial model/hfshare-test/big-model@main" 0
check "healthy: repair changes nothing of the repo kinds" "$HFSHARE" repair "$root"
progress_only_on_tty() { # the bar (bytes/s, ETA) on a terminal's stderr; nothing on stderr otherwise
    local tty plain
    tty=$(env -u CI script -qc "$HFSHARE verify $root --full" /dev/null)
    plain=$(env -u CI "$HFSHARE" verify "$root" --full 2>&1 >/dev/null)
    grep -q 'MiB/s  ETA' <<<"$tty" && [[ -z $plain ]] || { echo "tty: ${tty:0:200} / plain stderr: $plain"; return 1; }
}
check "a progress bar on a terminal only" progress_only_on_tty

# --- break it ---------------------------------------------------------------------------------
printf '%s\n' "$c_v1" >"$M/refs/v1"                                    # 1. trailing newline
printf '%s' 0123456789abcdef0123456789abcdef01234567 >"$D/refs/ghost"   # 2. ref to a commit never downloaded
rm "$D/blobs/$(blob "$dataset" main data/train.jsonl)"                 # 3. deleted blob
s_v2=$(blob "$model" v2 model.safetensors)                             # 4. one byte flipped
printf '\x00' | dd of="$M/blobs/$s_v2" bs=1 seek=1000 conv=notrunc status=none
cp "$M/blobs/$s_v2" "$T/flipped"
orphan_bytes='an orphan nobody links to'
orphan=$(printf '%s' "$orphan_bytes" | sha256sum | cut -c1-64)          # 5. orphan blob
printf '%s' "$orphan_bytes" >"$M/blobs/$orphan"
chown -h "$UA:$G" "$M/refs/v1" "$D/refs/ghost" "$M/blobs/$orphan"

check "the client fails offline on the trailing-newline ref (the bug users hit)" fails offline verify "$m" "$model" v1
check "audit lists exactly the structural breaks (no symlink-dangling for the snapshot link)" audit_kinds "$(sort <<EOF
ref-malformed hub/models--hfshare-test--tiny-model/refs/v1
ref-dangling hub/datasets--hfshare-test--tiny-dataset/refs/ghost
snapshot-link-broken hub/datasets--hfshare-test--tiny-dataset/snapshots/$c_ds/data/train.jsonl
blob-orphan hub/models--hfshare-test--tiny-model/blobs/$orphan
EOF
)"
check "verify names exactly the broken repo@revisions, exit 1" verify_status "$(sort <<EOF
broken model/hfshare-test/tiny-model@v1
broken model/hfshare-test/tiny-model@main,v2
broken dataset/hfshare-test/tiny-dataset@ghost
broken dataset/hfshare-test/tiny-dataset@main
partial model/hfshare-test/big-model@main
EOF
)" 1
check "verify REPO@REV checks only that revision" verify_status "broken model/hfshare-test/tiny-model@main,v2" 1 "$model@v2"
rerun_cached() { # only the known-bad blob (never remembered) is hashed again
    [[ $(json_field 'r["blobs"]["hashed"] == 1 and r["blobs"]["cached"] > 5') == True ]] || { json_field 'r["blobs"]'; return 1; }
}
full_rehash() { [[ $(json_field 'r["blobs"]["cached"] == 0 and r["blobs"]["hashed"] > 5' --full) == True ]] || { json_field 'r["blobs"]' --full; return 1; }; }
as_member() {
    local out rc=0
    out=$(as "$UA" "$HFSHARE" verify "$root") || rc=$?
    echo "$out"
    [[ $rc == 1 ]] && grep -q 'not saved (not root)' <<<"$out" && grep -q 'tiny-model@main,v2' <<<"$out"
}
check "a second verify hashes only the known-bad blob (the rest is unchanged since verified)" rerun_cached
check "verify --full hashes every blob again" full_rehash
check "verify as a member (not root) still verifies and says the cache is not saved" as_member

# --- fix it -----------------------------------------------------------------------------------
mode_v1=$(stat -c %a "$M/refs/v1")
check "repair fixes the ref (and leaves the report-only kinds)" "$HFSHARE" repair "$root"
ref_rewritten() { [[ $(cat "$M/refs/v1") == "$c_v1" && $(stat -c %U:%G "$M/refs/v1") == "$UA:$G" && $(stat -c %a "$M/refs/v1") == "$mode_v1" ]]; }
fix_quarantines() {
    local out rc=0
    out=$("$HFSHARE" verify --fix "$root") || rc=$?
    echo "$out"
    [[ $rc == 1 ]] && grep -q "^quarantined .*$s_v2.*affects model/hfshare-test/tiny-model@main,v2" <<<"$out"
}
quarantine_ok() {
    stat -c '%U %a %n' "$root/.hfshare/quarantine" "$root"/.hfshare/quarantine/*
    [[ $(stat -c %U "$root/.hfshare/quarantine") == root && $(( 0$(stat -c %a "$root/.hfshare/quarantine") & 077 )) == 0 ]] && [[ ! -e $M/blobs/$s_v2 ]] &&
        cmp -s <(cat "$root"/.hfshare/quarantine/*"$s_v2"*) "$T/flipped"
}
check "the ref is exactly the commit now, owner and mode kept" ref_rewritten
check "verify --fix quarantines the flipped blob and says what it affects" fix_quarantines
check "the quarantine is root-only and holds the flipped bytes" quarantine_ok
check "the client loads tiny-model v1 offline again (repaired ref, shared store)" offline verify "$m" "$model" v1
check "the client loads big-model's partial snapshot offline" offline fetch "$m" "$big" main config.json
check "the client downloads the quarantined blob again online" client verify "$m" "$model" v2
check "and then loads tiny-model v2 offline" offline verify "$m" "$model" v2
check "the client downloads the deleted dataset blob again online" client verify "$m" "$dataset" main
check "verify: only the ghost ref is still broken (report-only)" verify_status "$(sort <<EOF
broken dataset/hfshare-test/tiny-dataset@ghost
partial model/hfshare-test/big-model@main
EOF
)" 1
rm "$D/refs/ghost" "$M/blobs/$orphan"
check "after removing the ghost ref and the orphan: verify exit 0" verify_status "partial model/hfshare-test/big-model@main" 0
check "and audit has none of the repo-integrity kinds" audit_kinds ""

echo "# huggingface_hub $("$py" -c 'import huggingface_hub as h; print(h.__version__)')"
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
