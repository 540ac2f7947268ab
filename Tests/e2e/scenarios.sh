#!/usr/bin/env bash
# End-to-end scenarios (issue #7): the real huggingface_hub client, run as three temporary members of
# the shared group (umasks 022, 002, 077) and one outsider, against a local fake Hub (fakehub.py), on
# caches made by `hfshare init` (default) or the naive way (mkdir; chgrp -R; chmod -R 775).
#
#   HFSHARE=/path/to/hfshare bash Tests/e2e/scenarios.sh [--setup hfshare|naive] [--expect-fail "N..."]
#
# Users: A primary group G, umask 022; B supplementary member, umask 002; C supplementary member,
# umask 077; D not in G, umask 022. Scenarios (8 runs right after 4; 5, 6b and 7 use caches of their own):
#   1  A downloads a model; B and C load it offline (HF_HUB_OFFLINE=1) and check every sha256
#   2  B downloads a 16 MiB file, A asks for it mid-transfer (the hub holds the transfer until A asked):
#      one transfer, both good bytes, and audit does not call the lock B holds stale
#   3  B downloads a 2nd revision of A's repo (no weights), A completes B's snapshot, C a dataset
#   4  C deletes the revision A downloaded with `hf cache rm`; the files must really be gone
#   5  A is SIGKILLed mid-transfer; B downloads the same file (no hang); audit reports what A left
#      (`--stale-age 1s`); repair removes it
#   6  D (outsider) reads but cannot write the default (`--other rx`) cache, with a PermissionError
#      naming the path; in an `--other none` cache D cannot read either
#   7  a tree broken on purpose (0600 blobs, 0644 locks, wrong-group dirs without setgid/ACL) fails the
#      runs of B and C; after repair the same runs pass
#   8  after 1-4, `hfshare audit` finds nothing but the client's own trees/<commit>.json (mkstemp 0600,
#      documented in README); every member can read every file and write every dir and lock; after
#      `hfshare repair` the audit is empty
# With --setup naive, "repair" is what an admin without hfshare would run (chgrp -R G; chmod -R g+rwX)
# and `hfshare audit --group G` is only the judge. Per scenario: pass/FAIL; then "N passed, M failed".
# Exit 0 iff the failed scenarios are exactly the expected ones: none for hfshare, $NAIVE_EXPECTED for
# naive (so the suite asserts that the naive setup fails exactly where sharing breaks).
# E2E_KEEP=1 keeps the temp dir (caches, fakehub log); the users are removed anyway.
set -euo pipefail

# Why the naive setup fails these (measured; see README "End-to-end: naive setup vs hfshare"):
#   2,3,5: a repo dir made by one user is 755 (umask 022) or group-private (no setgid): the others cannot
#          create their lock/blob/snapshot entries there; 4: C cannot unlink A's files and `hf cache rm`
#          still says it deleted them; 7: chmod -R fixes the old files but C's next download is 0600
#          again; 8: no setgid, no default ACL, files others cannot read.
#   1 and 6 pass: A's umask 022 leaves everything world-readable, and nobody outside the group can write.
NAIVE_EXPECTED="2 3 4 5 7 8"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
setup=hfshare expect=
die() { echo "scenarios.sh: $*" >&2; exit 2; }
# shellcheck source=lib.sh
source "$here/lib.sh"
while (($#)); do
    case $1 in
    --setup) setup=${2:-}; shift 2 || die "--setup needs a value" ;;
    --setup=*) setup=${1#*=}; shift ;;
    --expect-fail) expect=${2-}; shift 2 || die "--expect-fail needs a value" ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1" ;;
    esac
done
case $setup in
hfshare) expect=${expect:-} ;;
naive) expect=${expect:-$NAIVE_EXPECTED} ;;
*) die "--setup must be hfshare or naive" ;;
esac
[[ $(id -u) == 0 ]] || die "must run as root (it creates users and groups)"
[[ -x ${HFSHARE:-} ]] || die "set HFSHARE to the hfshare binary (audit is the judge in both setups)"
for tool in setpriv setfacl useradd timeout flock; do command -v "$tool" >/dev/null || die "$tool is missing"; done
venv=$(bash "$here/venv.sh")
py=$venv/bin/python

model=hfshare-test/tiny-model dataset=hfshare-test/tiny-dataset big=hfshare-test/big-model
G=hfsc$$ UA=hfsca$$ UB=hfscb$$ UC=hfscc$$ UD=hfscd$$ # B, C, D have a primary group of their own name
declare -A umask_of=([$UA]=022 [$UB]=002 [$UC]=077 [$UD]=022)
T=$(mktemp -d /var/tmp/hfscen.XXXXXX)
chmod 755 "$T"
fakehub_pid= bg_pids=() # bg_pids: background clients, killed on the way out
export HFSHARE_SYSCONFDIR=$T/etc HFSHARE_PROFILE=$T/profile.d/hfshare.sh # never /etc/hfshare, /etc/profile.d

cleanup() {
    local p
    for p in "${bg_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done # timeout passes TERM on
    for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null || true; done
    stop_fakehub
    remove_accounts "$UA" "$UB" "$UC" "$UD" -- "$UB" "$UC" "$UD" "$G"
    remove_tmp
}
begin_accounts
groupadd -g "$(free_id)" "$G"
useradd -K UID_MAX=64999 -M -N -u "$(free_id)" -g "$G" -d "$T/home/$UA" -s /bin/sh "$UA"
for u in "$UB" "$UC" "$UD"; do
    groupadd -g "$(free_id)" "$u"
    if [[ $u == "$UD" ]]; then extra=(); else extra=(-G "$G"); fi
    useradd -K UID_MAX=64999 -M -N -u "$(free_id)" -g "$u" "${extra[@]}" -d "$T/home/$u" -s /bin/sh "$u"
done
accounts_unlock
for u in "$UA" "$UB" "$UC" "$UD"; do install -d -m 0700 -o "$u" -g "$(id -g "$u")" "$T/home/$u"; done

M=$T/manifest.json
start_fakehub
hub() { /usr/bin/python3 "$here/fakehub.py" --control "$url" "$@" >/dev/null; }

# ---- reporting ---------------------------------------------------------------------------------
declare -A nfail=() nchecks=()
titles=([1]="A downloads; B, C load offline" [2]="A+B same file at the same time" [3]="B 2nd rev, C dataset, A adds to B's snapshot"
    [4]="C deletes A's revision (hf cache rm)" [5]="SIGKILL mid-download; B; audit; repair"
    [6]="outsider refused as the policy says" [7]="broken tree: fails before repair, passes after"
    [8]="audit clean after 1-4")
sc=0 # current scenario
report() { # report OK WHAT OUTPUT
    local ok=$1 what=$2 out=$3 lines
    nchecks[$sc]=$((${nchecks[$sc]:-0} + 1))
    if [[ $ok == 1 ]]; then
        echo "ok - [$sc] $what"
    else
        nfail[$sc]=$((${nfail[$sc]:-0} + 1))
        echo "not ok - [$sc] $what: $(tail -n1 <<<"$out" | cut -c1-400)"
    fi
    if [[ -n $out ]]; then mapfile -t lines < <(tail -n 12 <<<"$out" | cut -c1-400) && printf '#   %s\n' "${lines[@]}"; fi
}
check() { # check WHAT CMD...: CMD must succeed
    local what=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    if [[ $rc == 124 || $rc == 137 ]]; then out+=$'\n'"timed out: still running after ${TMO:-120}s (exit $rc)"; fi
    report "$((rc == 0))" "$what" "$out"
}
refused() { # refused WHAT PATTERN CMD...: CMD must fail, and its error must match the regex PATTERN
    local what=$1 pat=$2 out rc=0
    shift 2
    out=$("$@" 2>&1) || rc=$?
    if [[ $rc == 0 ]]; then
        report 0 "$what" "$out"$'\n'"it succeeded, it should have been refused"
    elif [[ $rc == 124 || $rc == 137 ]]; then
        report 0 "$what" "$out"$'\n'"timed out instead of failing cleanly"
    elif ! grep -qE -- "$pat" <<<"$out"; then
        report 0 "$what" "$out"$'\n'"refused (exit $rc), but the error does not say /$pat/"
    else
        report 1 "$what" "$out"
    fi
}

# ---- running the client ------------------------------------------------------------------------
root= # the cache the client uses
as() { # as USER CMD...: CMD as USER, with the client environment for $root, under USER's umask.
    # HF_HUB_DOWNLOAD_TIMEOUT=60: a transfer the hub holds (scenario 2) must not time out and resume.
    # TMO=seconds (default 120, 0 = none) bounds it; EXEC=1 execs it (so that `as ... &` gives its pid)
    local user=$1 home=$T/home/$1 pre=()
    shift
    [[ ${TMO:-120} == 0 ]] || pre=(timeout -k 5 "${TMO:-120}")
    [[ -z ${EXEC:-} ]] || pre=(exec "${pre[@]}")
    # shellcheck disable=SC2016 # $0 and $@ are for the inner sh
    "${pre[@]}" setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --reset-env \
        env HF_HUB_CACHE="$root/hub" HF_DATASETS_CACHE="$root/datasets" HF_XET_CACHE="$root/xet" \
        HF_ASSETS_CACHE="$root/assets" HF_TOKEN_PATH="$home/.cache/huggingface/token" HF_ENDPOINT="$url" \
        HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_XET=1 HF_HUB_DISABLE_PROGRESS_BARS=1 HOME="$home" \
        HF_HUB_USER_AGENT_ORIGIN="$user" HF_HUB_DOWNLOAD_TIMEOUT=60 \
        PATH=/usr/bin:/bin sh -c 'umask "$0" && exec "$@"' "${umask_of[$user]}" "$@"
}
client() { local user=$1; shift; as "$user" "$py" "$T/client.py" "$@"; }
offline() { local user=$1; shift; as "$user" env HF_HUB_OFFLINE=1 "$py" "$T/client.py" "$@"; }
hfcli() { local user=$1; shift; as "$user" "$venv/bin/hf" "$@"; }

info() { /usr/bin/python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))[sys.argv[2]]["revisions"][sys.argv[3]]
print(m["commit"] if len(sys.argv) == 4 else m["files"][sys.argv[4]][sys.argv[5]])' "$M" "$@"; }
repo_dir() { echo "$root/hub/$1s--${2//\//--}"; } # repo_dir TYPE REPO

make_cache() { # make_cache ROOT [--other none]
    if [[ $setup == naive ]]; then
        local m=775
        [[ ${2:-} == none ]] && m=770
        mkdir -p "$1"/{hub,datasets,xet,assets} && chgrp -R "$G" "$1" && chmod -R "$m" "$1"
    else
        "$HFSHARE" init "$1" --group "$G" --no-profile --quiet ${2:+--other "$2"}
    fi
}
audit() { # audit ROOT ARGS...: hfshare audit, the judge in both setups (naive caches have no config)
    local r=$1
    shift
    if [[ $setup == naive ]]; then set -- --group "$G" "$@"; fi
    "$HFSHARE" audit "$r" "$@"
}
fix() { # fix ROOT ARGS...: what each setup's admin runs to repair
    local r=$1
    shift
    if [[ $setup == naive ]]; then chgrp -R "$G" "$r" && chmod -R g+rwX "$r"; else "$HFSHARE" repair "$r" --quiet "$@"; fi
}
access_ok() { # access_ok USER [known]: USER can read every file, search+write every dir, write every lock
    local list known
    list=$(as "$1" /usr/bin/python3 "$T/client.py" access "$root") || return 1
    if [[ ${2:-} == known ]]; then # the client's own trees/<commit>.json, mkstemp 0600 (README)
        known=$(grep -E '^unreadable .*/trees/[0-9a-f]{40}\.json$' <<<"$list" || true)
        list=$(grep -vE '^unreadable .*/trees/[0-9a-f]{40}\.json$' <<<"$list" || true)
        if [[ -n $known ]]; then echo "known: $(wc -l <<<"$known") trees/*.json the client wrote 0600"; fi
    fi
    [[ -z $list ]] || { echo "$(wc -l <<<"$list") problem(s) for $1: $(head -n 8 <<<"$list" | tr '\n' ';')"; return 1; }
}
only_known_findings() { # the audit of $root lists nothing but trees/<commit>.json (client-written 0600)
    local out rc=0
    out=$(audit "$root" --format jsonl) || rc=$?
    [[ $rc == 0 || $rc == 1 ]] || { echo "audit exit $rc: $out"; return 1; }
    /usr/bin/python3 -c '
import json, re, sys
known, other = {}, []
for line in sys.stdin:
    f = json.loads(line)
    if f["kind"] in ("file-group-perms", "file-acl-mask") and re.search(r"/trees/[0-9a-f]{40}\.json$", f["path"]):
        known[f["kind"]] = known.get(f["kind"], 0) + 1
    else:
        other.append("%s %s [%s]" % (f["kind"], f["path"], f.get("detail", "")))
print("known: trees/*.json the client wrote 0600 (repair fixes them):", known or "none")
print("\n".join(other[:10]))
if other:
    sys.exit(f"{len(other)} other finding(s), first: {other[0]}")' <<<"$out"
}
access_all() { local u; for u; do access_ok "$u" || return 1; done; }
audit_clean() { # audit_clean ROOT ARGS...: exit 0 and not one finding
    local out rc=0
    out=$(audit "$@" --format jsonl) || rc=$?
    [[ $rc == 0 && -z $out ]] || { echo "audit exit $rc, $(wc -l <<<"$out") finding(s):"; cut -c1-200 <<<"$out" | head -n 10; return 1; }
}

start=$SECONDS
echo "# setup $setup, temp dir $T, hub $url, huggingface_hub $("$py" -c 'import huggingface_hub as h; print(h.__version__)')"

# ---- 1 -------------------------------------------------------------------------------------------
sc=1 root=$T/cache
check "$setup setup of the shared cache" make_cache "$root"
check "A ($UA, umask 022) downloads $model@main (snapshot_download)" client "$UA" snapshot model "$model" main
check "B (umask 002) loads it offline, every sha256 matches" offline "$UB" verify "$M" "$model" main
check "C (umask 077) loads it offline, every sha256 matches" offline "$UC" verify "$M" "$model" main

# ---- 2 -------------------------------------------------------------------------------------------
# B starts; the hub stops B's transfer at 8 MiB; A starts as soon as B holds the file's lock; the hub goes
# on only once A has asked for the file (fakehub logs each user's HF_HUB_USER_AGENT_ORIGIN). So the two
# downloads overlap by construction, whatever the load. (A and B launched at the very same instant would
# make the naive result a coin toss: if A, whose primary group is G, happens to create the lock dir, the
# lock and the blob first, B never needs to write and both succeed.)
sc=2
file=weights-a.safetensors
lock=$root/hub/.locks/models--${big//\//--}/$(info "$big" main "$file" blob).lock
asked() { # asked USER: the hub's log has a request of USER for $file
    /usr/bin/python3 "$here/fakehub.py" --control "$url" log | /usr/bin/python3 -c 'import json, sys
sys.exit(not any(r["path"].endswith("/" + sys.argv[1]) and "origin/" + sys.argv[2] in r.get("agent", "")
                 for r in json.load(sys.stdin)))' "$file" "$1"
}
hub log-reset
hub fault "$file" --stall-at $((8 * 1024 * 1024))
EXEC=1 client "$UB" fetch "$M" "$big" main "$file" >"$T/2b.out" 2>&1 &
pb=$! bg_pids+=($!)
for _ in $(seq 300); do [[ -e $lock ]] && break; kill -0 "$pb" 2>/dev/null || break; sleep 0.1; done
EXEC=1 client "$UA" fetch "$M" "$big" main "$file" >"$T/2a.out" 2>&1 &
pa=$! bg_pids+=($!)
for _ in $(seq 300); do asked "$UA" && break; kill -0 "$pa" 2>/dev/null || break; sleep 0.1; done
held_lock_not_stale() { # SPEC: a held lock, however old, is never a finding
    local out
    [[ -e $lock ]] || { echo "no $lock: B never took the lock"; return 1; }
    sleep 1.2 # older than --stale-age 1s
    out=$(audit "$root" --stale-age 1s --format jsonl) || true
    /usr/bin/python3 -c 'import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    sys.exit("nobody holds " + sys.argv[1] + " any more: the check proves nothing")
except BlockingIOError:
    print("lock held by a client during the audit")' "$lock" || return 1
    if grep '"kind":"lock-stale"' <<<"$out" | grep -qF "\"path\":\"$lock\""; then
        echo "audit --stale-age 1s reports the lock a client holds as lock-stale: $lock"
        return 1
    fi
}
check "audit --stale-age 1s during the transfer does not call the held lock stale" held_lock_not_stale
hub fault "$file" # the transfer goes on
ra=0 rb=0
wait "$pb" || rb=$?
wait "$pa" || ra=$?
report "$((rb == 0))" "B downloads $big/$file (16 MiB), sha256 ok" "$(cat "$T/2b.out")"
report "$((ra == 0))" "A downloads the same file while B's transfer runs, sha256 ok" "$(cat "$T/2a.out")"
/usr/bin/python3 "$here/fakehub.py" --control "$url" log >"$T/2.log"
check "the hub sent the file once, while both clients were asking for it" \
    /usr/bin/python3 "$T/client.py" once "$T/2.log" "$M" "$big" main "$file" "$UB" "$UA"

# ---- 3 -------------------------------------------------------------------------------------------
sc=3
v1=$(info "$model" v1)
check "B downloads $model@v1 (config + README only) into A's repo" client "$UB" snapshot model "$model" v1 '*.json' '*.md'
check "A completes B's v1 snapshot (snapshot_download)" client "$UA" snapshot model "$model" v1
check "A's weights landed in B's snapshot dir" sh -c '
    d=$1/snapshots/$2; o=$(stat -c %U "$d") && w=$(stat -c %U "$d/model.safetensors") || exit 1
    echo "snapshot dir owned by $o, model.safetensors link by $w"; [ "$o" = "$3" ] && [ "$w" = "$4" ]' \
    sh "$(repo_dir model "$model")" "$v1" "$UB" "$UA"
check "C (umask 077) downloads $dataset (snapshot_download)" client "$UC" snapshot dataset "$dataset" main
check "A loads model@v1 and the dataset offline, sha256 ok" offline "$UA" verify "$M" "$model" v1 "$dataset" main
check "B loads model@v1 and the dataset offline, sha256 ok" offline "$UB" verify "$M" "$model" v1 "$dataset" main
check "C loads model@v1 offline, sha256 ok" offline "$UC" verify "$M" "$model" v1

# ---- 4 -------------------------------------------------------------------------------------------
sc=4
check "C deletes A's $model@main: hf cache rm $(info "$model" main | cut -c1-12)… --yes" \
    hfcli "$UC" cache rm "$(info "$model" main)" --yes
check "its snapshot, ref and own blobs are really off the disk (hf says ✓ either way), v1's kept" \
    env HF_HUB_CACHE="$root/hub" /usr/bin/python3 "$T/client.py" gone "$M" "$model" main v1
check "B still loads model@v1 offline" offline "$UB" verify "$M" "$model" v1

# ---- 8 (right after 1-4) ---------------------------------------------------------------------------
sc=8
check "audit after 1-4 finds nothing but the client's trees/*.json" only_known_findings
for u in "$UA" "$UB" "$UC"; do
    check "$u can read every file, write every dir and lock (trees/*.json aside)" access_ok "$u" known
done
check "$setup repair" fix "$root"
check "audit after repair: no finding at all" audit_clean "$root"
check "after repair A, B, C can read and write everything, trees/*.json included" access_all "$UA" "$UB" "$UC"

# ---- 5 -------------------------------------------------------------------------------------------
sc=5 root=$T/cache5
file=weights-b.safetensors
sha=$(info "$big" main "$file" blob)
blobs=$(repo_dir model "$big")/blobs lock=$root/hub/.locks/models--${big//\//--}/$sha.lock
check "$setup setup of a fresh cache" make_cache "$root"
# the hub stops sending after 11 MiB until the fault is lifted; the client writes in 10 MiB chunks, so
# A then sits mid-transfer with a 10 MiB .incomplete: no race between the kill and the end of the download
hub fault "$file" --stall-at $((11 * 1024 * 1024))
TMO=0 EXEC=1 client "$UA" fetch "$M" "$big" main "$file" >"$T/5a.out" 2>&1 & # $! is the python process
pa=$! bg_pids+=($!)
partial=
for _ in $(seq 300); do
    partial=$(find "$blobs" -maxdepth 1 -name '*.incomplete' -size +255k 2>/dev/null | head -n1) || true
    [[ -n $partial ]] && break
    kill -0 "$pa" 2>/dev/null || break
    sleep 0.1
done
kill -KILL "$pa" 2>/dev/null || true
ra=0
{ wait "$pa"; } 2>/dev/null || ra=$? # (no "Killed" line from bash)
hub fault "$file"
report "$((ra == 137))" "A's download is SIGKILLed mid-transfer (exit $ra)" "$(cat "$T/5a.out")${partial:+partial: $(stat -c %s "$partial") bytes}"
sleep 0.2
left=$(find "$root" -user "$UA" ! -type d -printf '%P %M %s\n' | sort) || true
echo "# what the killed client left (files owned by A): $(tr '\n' ';' <<<"$left")"
check "A left one partial blobs/<sha256>.<tmp>.incomplete and the lock" sh -c '
    [ -n "$1" ] && [ -f "$1" ] && [ -f "$2" ] || { echo "incomplete=${1:-none} lock=$2: missing"; exit 1; }
    case ${1##*/} in "$3".*.incomplete) ;; *) echo "unexpected name $1"; exit 1 ;; esac' sh "$partial" "$lock" "$sha"
TMO=60 check "B downloads the same file at once (no hang on A's lock), sha256 ok" client "$UB" fetch "$M" "$big" main "$file"
sleep 1.1 # older than --stale-age 1s
reports_leftovers() { # the audit lists $partial as incomplete-old and $lock as lock-stale
    local out rc=0
    find "$blobs" "${lock%/*}" -type f -printf '%P %u %M %s bytes, modified %TT\n'
    out=$(audit "$root" --stale-age 1s --format jsonl) || rc=$?
    grep -E '"kind":"(incomplete-old|lock-stale)"' <<<"$out" | grep -oE '"kind":"[^"]*"|"path":"[^"]*"' | paste -d' ' - - || true
    [[ $rc == 1 ]] || { echo "audit exit $rc, not 1"; return 1; }
    grep '"kind":"incomplete-old"' <<<"$out" | grep -qF "\"path\":\"$partial\"" || { echo "no incomplete-old for $partial"; return 1; }
    grep '"kind":"lock-stale"' <<<"$out" | grep -qF "\"path\":\"$lock\"" || { echo "no lock-stale for $lock"; return 1; }
}
check "audit --stale-age 1s reports A's .incomplete (incomplete-old) and the lock (lock-stale)" reports_leftovers
check "$setup repair --stale-age 1s" fix "$root" --stale-age 1s
check "A's leftovers are gone" sh -c 'for p; do [ ! -e "$p" ] || { echo "still there: $p"; exit 1; }; done' sh "$partial" "$lock"
check "audit --stale-age 1s after repair: no finding at all" audit_clean "$root" --stale-age 1s
check "C loads the file offline after repair, sha256 ok" offline "$UC" fetch "$M" "$big" main "$file"

# ---- 6 -------------------------------------------------------------------------------------------
sc=6 root=$T/cache
check "D (not in the group) reads model@v1 from the default cache (other r-x)" offline "$UD" verify "$M" "$model" v1
refused "D cannot download into the cache: PermissionError naming the cache path" "Permission ?(denied|Error).*$root/" \
    client "$UD" fetch "$M" "$big" main weights-b.safetensors # not in this cache
check "D left nothing in the cache" sh -c 'l=$(find "$1" -user "$2"); [ -z "$l" ] || { echo "$l"; exit 1; }' sh "$root" "$UD"
root=$T/cache6
check "$setup setup of a cache with --other none" make_cache "$root" none
check "A downloads a dataset file into it" client "$UA" fetch "$M" "$dataset" main data/train.jsonl
refused "D cannot download into it: PermissionError naming the cache path" "Permission ?(denied|Error).*$root/" \
    client "$UD" fetch "$M" "$dataset" main data/train.jsonl
# offline, the client cannot tell "not permitted" from "not cached": it says LocalEntryNotFoundError (README)
refused "D cannot read it offline (the client says LocalEntryNotFoundError)" "LocalEntryNotFoundError|Permission ?(denied|Error)" \
    offline "$UD" fetch "$M" "$dataset" main data/train.jsonl

# ---- 7 -------------------------------------------------------------------------------------------
sc=7 root=$T/cache7
m7=$(repo_dir model "$model") d7=$(repo_dir dataset "$dataset")
parquet=data/train-00000-of-00001.parquet
check "$setup setup of a fresh cache" make_cache "$root"
check "A downloads $model@v1" client "$UA" snapshot model "$model" v1
check "A downloads $dataset without its parquet file" client "$UA" snapshot dataset "$dataset" main README.md 'data/*.jsonl'
break_tree() {
    chmod 0600 "$m7"/blobs/* &&                                            # blobs from an old client at umask 077
        as "$UA" touch "$root/hub/.locks/datasets--${dataset//\//--}/$(info "$dataset" main "$parquet" blob).lock" &&
        chmod 0644 "$root"/hub/.locks/datasets--*/*.lock &&                    # old filelock: 0644 lock files
        chgrp "$UB" "$m7/snapshots" "$m7/refs" && chmod 0755 "$m7/snapshots" "$m7/refs" && # made before the
        setfacl -b "$m7/snapshots" "$m7/refs"                                  # tree was shared: wrong group
}
check "break the tree: 0600 blobs, 0644 locks, snapshots/ and refs/ in B's group, 0755, no ACL" break_tree
run7() { # the same four runs before and after repair
    local t=$1
    $t "B loads model@v1 offline (0600 blobs)" ${2:+"Permission"} offline "$UB" verify "$M" "$model" v1
    $t "C loads model@v1 offline (0600 blobs)" ${2:+"Permission"} offline "$UC" verify "$M" "$model" v1
    $t "B downloads model@v2 (refs/, snapshots/ wrong group 0755)" ${2:+"Permission"} client "$UB" snapshot model "$model" v2
    $t "C completes the dataset (0644 locks)" ${2:+"Permission"} client "$UC" snapshot dataset "$dataset" main
}
run7 refused before
check "$setup repair of the broken tree" fix "$root"
run7 check
for u in "$UA" "$UB" "$UC"; do
    check "after the runs $u can read every file, write every dir and lock (trees/*.json aside)" access_ok "$u" known
done

# ---- summary ---------------------------------------------------------------------------------------
echo "# setup $setup: $((SECONDS - start))s"
passed=0 failed=0 failed_list=
for n in 1 2 3 4 5 6 7 8; do
    f=${nfail[$n]:-0} c=${nchecks[$n]:-0}
    if [[ $f == 0 && $c -gt 0 ]]; then
        passed=$((passed + 1)) r=pass
    else
        failed=$((failed + 1)) r=FAIL failed_list+="$n "
    fi
    printf '# scenario %s %-48s %s (%d/%d checks)\n' "$n" "${titles[$n]}" "$r" "$((c - f))" "$c"
done
failed_list=${failed_list% }
echo "$passed passed, $failed failed"
if [[ $failed_list == "$(tr -s ' ' <<<"$expect" | sed 's/^ //; s/ $//')" ]]; then
    [[ -z $expect ]] || echo "# setup $setup fails exactly the expected scenarios: $expect"
    exit 0
fi
echo "# setup $setup: failed scenarios [${failed_list}], expected [${expect}]"
exit 1
