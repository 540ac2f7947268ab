#!/usr/bin/env bash
# End-to-end test of curated and restricted caches (issue #17) with the real huggingface_hub client:
#   writers W (in G and in the licensed group L) and U (in G only), reader RD (in the reader group R
#   only), on a cache made by `hfshare init --other none --readers R`.
#   - RD loads a revision U downloaded, offline; RD cannot download or write into the cache (online or
#     offline: a clear error, nothing left behind); W's later download is readable by RD;
#   - `hfshare restrict hfshare-test/big-model --group L` before the first download: W downloads it
#     and loads it offline; U and RD cannot read it (offline, online, plain open); tiny-model stays
#     shared; `namei --user U` says the refusal is the restriction;
#   - each deliberate breakage (reader-can-write, reader-cannot-read, restricted-readable,
#     restricted-owner-unlicensed, shared-code-writable) is reported by audit, and after repair the
#     audit is empty and the kernel agrees (the accounts really try);
#   - `hfshare env` for RD prints the reader settings; `readers remove` and `unrestrict` undo it all.
#
#   HFSHARE=/path/to/hfshare bash Tests/e2e/e2e_curated.sh          (as root; E2E_KEEP=1 keeps the temp dir)
# Prints "ok - ..." / "not ok - ...: reason" per check, then "N passed, M failed"; exit 0 iff M == 0.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "e2e_curated.sh: $*" >&2; exit 2; }
# shellcheck source=lib.sh
source "$here/lib.sh"
preflight setpriv useradd setfacl getfacl
py=$(bash "$here/venv.sh")/bin/python

G=hfcw$$ R=hfcr$$ L=hfcl$$ W=hfcuw$$ U=hfcuu$$ RD=hfcur$$
T=$(mktemp -d "${E2E_TMPDIR:-/var/tmp}/hfcurated.XXXXXX")
chmod 755 "$T"
fakehub_pid=
export HFSHARE_SYSCONFDIR=$T/etc HFSHARE_PROFILE=$T/etc/profile.d/hfshare.sh
mkdir -p "$T/etc/profile.d"
root=$T/cache

cleanup() {
    stop_fakehub
    remove_accounts "$W" "$U" "$RD" -- "$G" "$R" "$L"
    remove_tmp
}
begin_accounts
groupadd -g "$(free_id)" "$G"
groupadd -g "$(free_id)" "$R"
groupadd -g "$(free_id)" "$L"
useradd -K UID_MAX=64999 -M -N -u "$(free_id)" -g "$G" -G "$L" -d "$T/home/$W" -s /bin/sh "$W"
useradd -K UID_MAX=64999 -M -N -u "$(free_id)" -g "$G" -d "$T/home/$U" -s /bin/sh "$U"
useradd -K UID_MAX=64999 -M -N -u "$(free_id)" -g "$R" -d "$T/home/$RD" -s /bin/sh "$RD"
accounts_unlock
for u in "$W" "$U" "$RD"; do install -d -m 0700 -o "$u" -g "$(id -g "$u")" "$T/home/$u"; done
start_fakehub

# Writers get the profile's writer settings, the reader the reader settings (both checked below
# against what `hfshare env` prints); HF_HUB_OFFLINE is set per call.
as() {
    local user=$1 home=$T/home/$1
    shift
    setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --reset-env \
        env HOME="$home" HF_ENDPOINT="$url" HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_XET=1 HF_HUB_DISABLE_PROGRESS_BARS=1 \
        HF_HUB_CACHE="$root/hub" HF_TOKEN_PATH="$home/.cache/huggingface/token" HF_MODULES_CACHE="$home/.cache/huggingface/modules" \
        HF_DATASETS_CACHE="${DS:-$root/datasets}" HF_XET_CACHE="${XC:-$root/xet}" HF_ASSETS_CACHE="${AC:-$root/assets}" \
        sh -c 'umask 022 && exec "$@"' sh "$@"
}
writer() { local user=$1; shift; as "$user" "$py" "$T/client.py" "$@"; }
writer_offline() { local user=$1; shift; as "$user" env HF_HUB_OFFLINE=1 "$py" "$T/client.py" "$@"; }
reader_home=$T/home/$RD/.cache/huggingface
reader() { # the reader as its profile branch sets it up: offline, datasets/xet/assets in its home
    DS=$reader_home/datasets XC=$reader_home/xet AC=$reader_home/assets as "$RD" env HF_HUB_OFFLINE=1 "$py" "$T/client.py" "$@"
}
reader_online() { DS=$reader_home/datasets XC=$reader_home/xet AC=$reader_home/assets as "$RD" env HF_HUB_OFFLINE=0 "$py" "$T/client.py" "$@"; }
m=$T/manifest.json
tiny=models--hfshare-test--tiny-model big=models--hfshare-test--big-model
listing() { (cd "$root" && find . -path ./.hfshare -prune -o -printf '%p %s %y\n' | sort); }
audit_clean() { "$HFSHARE" audit "$root"; }
repaired_clean() { "$HFSHARE" repair "$root" --quiet && "$HFSHARE" audit "$root"; }
# audit_reports KIND PATH: audit lists exactly that (kind, path) among its findings
audit_reports() {
    "$HFSHARE" audit "$root" --format jsonl >"$T/a.jsonl" || true
    /usr/bin/python3 - "$T/a.jsonl" "$1" "$2" <<'EOF'
import json, sys
found = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
pairs = {(f["kind"], f["path"]) for f in found}
if (sys.argv[2], sys.argv[3]) not in pairs:
    raise SystemExit(f"{sys.argv[2]} {sys.argv[3]} not reported; audit found: {sorted(pairs)}")
print(f"{len(found)} finding(s), among them {sys.argv[2]} {sys.argv[3]}")
EOF
}
fails() { ! "$@"; }
fails_with() { # fails_with PATTERN CMD...: CMD fails and its output matches PATTERN
    local pat=$1 out
    shift
    if out=$("$@" 2>&1); then echo "succeeded: $out"; return 1; fi
    grep -Eq "$pat" <<<"$out" || { echo "failed, but not with /$pat/: $out"; return 1; }
    echo "failed as expected: $(tail -n1 <<<"$out" | cut -c1-300)"
}

echo "# cache $root; writers $W (licensed, $L) and $U, reader $RD ($R)"
"$HFSHARE" init "$root" --group "$G" --other none --readers "$R" >"$T/init.log" 2>&1 || die "init failed: $(tail -3 "$T/init.log")"

# --- readers ---------------------------------------------------------------------------------------
check "init --readers records the group and writes the readers' profile branch" \
    sh -c "'$HFSHARE' readers list --root '$root' | grep -q '^$R ' && grep -q 'HF_HUB_OFFLINE=1' '$HFSHARE_PROFILE'"
env_ok() {
    local out
    out=$(as "$RD" "$HFSHARE" env "$root")
    for want in "HF_HUB_CACHE=$root/hub" "HF_HUB_OFFLINE=1" 'HF_DATASETS_CACHE="${HOME}/.cache/huggingface/datasets"' \
        'HF_XET_CACHE="${HOME}/.cache/huggingface/xet"' 'HF_ASSETS_CACHE="${HOME}/.cache/huggingface/assets"' \
        'HF_MODULES_CACHE="${HOME}/.cache/huggingface/modules"' 'HF_TOKEN_PATH="${HOME}/.cache/huggingface/token"'; do
        grep -qF "export $want" <<<"$out" || { echo "missing export $want in: $out"; return 1; }
    done
    as "$W" "$HFSHARE" env "$root" | grep -q "HF_DATASETS_CACHE=$root/datasets" || { echo "writer env is not the writer's"; return 1; }
    as "$RD" "$HFSHARE" env "$root" --format docker | grep -q -- "-v .*:ro" || { echo "reader docker volume is not read-only"; return 1; }
}
check "hfshare env: the reader gets HF_HUB_OFFLINE=1 and per-user writable places, the writer the shared ones" env_ok
check "$U (writer) downloads tiny-model v1" writer "$U" snapshot model hfshare-test/tiny-model v1
"$HFSHARE" repair "$root" --quiet >/dev/null 2>&1 || true # the client's 0600 trees/*.json (README, scenario 8)
check "audit clean after a writer's download" audit_clean
check "$RD (reader) loads tiny-model v1 offline, every sha256 checked" reader verify "$m" hfshare-test/tiny-model v1

listing >"$T/before.txt"
check "$RD cannot download v2 online: PermissionError" fails_with 'PermissionError' reader_online snapshot model hfshare-test/tiny-model v2
check "$RD cannot download v2 offline (its profile): the client says it is not in the cache" \
    fails_with 'LocalEntryNotFoundError|OfflineModeIsEnabled' reader snapshot model hfshare-test/tiny-model v2
check "$RD cannot create files or dirs anywhere in the cache" fails as "$RD" sh -c "touch '$root/hub/x' || mkdir '$root/hub/$tiny/x' || touch '$root/hub/$tiny/blobs/x' || touch '$root/hub/.locks/$tiny/x'"
check "nothing was left behind by the reader's attempts" sh -c "listing() { cd '$root' && find . -path ./.hfshare -prune -o -printf '%p %s %y\n' | sort; }; listing | diff '$T/before.txt' -"

check "$W downloads tiny-model v2 (a writer's new download)" writer "$W" snapshot model hfshare-test/tiny-model v2
check "$RD loads the new v2 offline (default ACLs made it readable)" reader verify "$m" hfshare-test/tiny-model v2
check "audit clean after repair (readers kinds included)" repaired_clean

# --- restricted repos -------------------------------------------------------------------------------
check "restrict big-model to $L before its first download (dirs made restricted)" \
    sh -c "'$HFSHARE' restrict hfshare-test/big-model --group '$L' --root '$root' && test -d '$root/hub/$big' && getfacl -p '$root/hub/$big' | grep -q '^group::---'"
check "restrict --list shows the rule (as a writer, not root)" sh -c "setpriv --reuid='$U' --regid='$(id -g "$U")' --init-groups '$HFSHARE' restrict --list --root '$root' | grep -q '^$big  $L'"
check "$W (licensed) downloads big-model config + weights-a" writer "$W" snapshot model hfshare-test/big-model main config.json weights-a.safetensors
loads_big() { for f in config.json weights-a.safetensors; do writer_offline "$W" fetch "$m" hfshare-test/big-model main "$f" || return 1; done; }
check "$W loads big-model offline, sha256 checked (each file)" loads_big
blob=$(find "$root/hub/$big/blobs" -type f | head -n1)
check "$U (unlicensed member) cannot read big-model offline" fails writer_offline "$U" fetch "$m" hfshare-test/big-model main config.json
check "$U cannot read big-model online either" fails_with 'PermissionError' writer "$U" fetch "$m" hfshare-test/big-model main config.json
check "$U cannot open its blobs or list its dirs directly" fails as "$U" sh -c "cat '$blob' >/dev/null || ls '$root/hub/$big' >/dev/null || ls '$root/hub/.locks/$big' >/dev/null"
check "$RD (reader) cannot read big-model either" fails as "$RD" sh -c "cat '$blob' >/dev/null || ls '$root/hub/$big' >/dev/null"
stays_shared() { writer_offline "$U" verify "$m" hfshare-test/tiny-model v1 && reader verify "$m" hfshare-test/tiny-model v1; }
check "tiny-model stays shared: $U and $RD load v1 and v2 offline" stays_shared
namei_says() { local out; out=$("$HFSHARE" namei --user "$U" "$blob" 2>&1 || true); echo "$out"; grep -q "restricted to group $L" <<<"$out" && ! grep -q setfacl <<<"$out"; }
check "namei --user $U explains the refusal: the repo is restricted to $L (and suggests no setfacl)" namei_says
check "audit clean after repair (restricted repo downloaded)" repaired_clean

# --- each deliberate breakage is reported, repaired, and the kernel agrees ---------------------------
snapdir=$root/hub/$tiny/snapshots
setfacl -m "g:$R:rwx" "$snapdir"
check "reader-can-write reported for a group:$R:rwx snapshots dir" audit_reports reader-can-write "$snapdir"
check "$RD really could write there before repair" as "$RD" sh -c "touch '$snapdir/probe' && rm '$snapdir/probe'"
tblob=$(find "$root/hub/$tiny/blobs" -type f | head -n1)
setfacl -x "g:$R" "$tblob"
check "reader-cannot-read reported for a blob without the reader entry" audit_reports reader-cannot-read "$tblob"
check "$RD really cannot read it before repair" fails as "$RD" cat "$tblob"
setfacl -m "g:$G:r-x" "$root/hub/$big" "$root/hub/$big/blobs"
setfacl -m "g:$G:r--" "$blob"
check "restricted-readable reported for a restricted blob with group:$G:r--" audit_reports restricted-readable "$blob"
check "restricted-readable reported for the restricted repo dir with group:$G:r-x" audit_reports restricted-readable "$root/hub/$big"
check "$U really can read the blob before repair" as "$U" sh -c "cat '$blob' >/dev/null"
setfacl -m "g:$R:r-x" "$root/hub/$big/snapshots"
check "restricted-readable reported for a restricted snapshots dir readers may enter" audit_reports restricted-readable "$root/hub/$big/snapshots"
chown "$U" "$root/hub/$big/refs/main"
check "restricted-owner-unlicensed reported for a ref owned by $U (report-only)" audit_reports restricted-owner-unlicensed "$root/hub/$big/refs/main"
mkdir -p "$root/modules/transformers_modules" && echo 'x = 1' >"$root/modules/transformers_modules/m.py"
chown -R "$W:$G" "$root/modules" && chmod 0666 "$root/modules/transformers_modules/m.py"
check "shared-code-writable reported for a group-writable modules/*.py (kept working)" audit_reports shared-code-writable "$root/modules/transformers_modules/m.py"
"$HFSHARE" repair "$root" >"$T/repair.log" 2>&1 || true
chown "$W" "$root/hub/$big/refs/main"
chmod -R go-w "$root/modules" # the command audit prints for shared-code-writable
check "after repair (and the two report-only fixes an admin makes) the audit is empty" audit_clean
check "after repair $RD cannot write the snapshots dir, reads the blob" as "$RD" sh -c "! touch '$snapdir/probe' 2>/dev/null && cat '$tblob' >/dev/null"
check "after repair $U cannot read the restricted blob nor enter the repo; $W loads it" sh -c "! setpriv --reuid='$U' --regid='$(id -g "$U")' --init-groups cat '$blob' >/dev/null 2>&1 && ! setpriv --reuid='$U' --regid='$(id -g "$U")' --init-groups ls '$root/hub/$big' >/dev/null 2>&1"
check "$W still loads big-model offline after repair" loads_big

# --- bad input changes nothing; undo -----------------------------------------------------------------
cp "$root/.hfshare/curated.json" "$T/curated.before"
check "restrict with an unknown group: exit 2, nothing changed" sh -c "'$HFSHARE' restrict 'models--x--*' --group nosuchgroup$$ --root '$root'; test \$? = 2 && cmp '$T/curated.before' '$root/.hfshare/curated.json'"
check "readers add of the shared group itself: exit 2, nothing changed" sh -c "'$HFSHARE' readers add '$G' --root '$root'; test \$? = 2 && cmp '$T/curated.before' '$root/.hfshare/curated.json'"
check "init --readers with an unknown group: exit 2, nothing changed" sh -c "'$HFSHARE' init '$root' --group '$G' --other none --no-profile --readers nosuchgroup$$; test \$? = 2 && cmp '$T/curated.before' '$root/.hfshare/curated.json'"
check "a member cannot restrict (exit 2)" sh -c "setpriv --reuid='$W' --regid='$(id -g "$W")' --init-groups '$HFSHARE' restrict 'models--x--*' --group '$L' --root '$root'; test \$? = 2"
check "unrestrict big-model: $U loads it offline after the repair it runs" sh -c "'$HFSHARE' unrestrict hfshare-test/big-model --root '$root' >/dev/null" 
check "$U reads big-model config offline now" writer_offline "$U" fetch "$m" hfshare-test/big-model main config.json
no_reader_entries() { "$HFSHARE" readers remove "$R" --root "$root" >/dev/null || return 1; ! getfacl -Rp "$root" 2>/dev/null | grep -E "^# file|:$R:" | grep -B1 ":$R:"; }
check "readers remove $R: its ACL entries are gone (state dir included)" no_reader_entries
check "readers remove rewrote the profile without the readers' branch" fails grep -q HF_HUB_OFFLINE "$HFSHARE_PROFILE"
check "audit clean after unrestrict and readers remove" audit_clean

echo "$passed passed, $failed failed"
((failed == 0))
