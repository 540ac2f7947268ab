#!/usr/bin/env bash
# End-to-end test of `hfshare init`: two users share one cache through the real huggingface_hub
# client, talking to a local fake hub (fakehub.py), once with both users at umask 022 and once at 077.
#
#   HFSHARE=/path/to/hfshare bash Tests/e2e/e2e_init.sh          (as root)
#   E2E_SETUP=naive bash Tests/e2e/e2e_init.sh                   cache made by mkdir+chgrp+chmod 775
#                                                                instead: must fail (shows the test can)
#   E2E_KEEP=1 keeps the temp dir (caches, fakehub log) for inspection; the users are removed anyway.
# Prints "ok - ..." / "not ok - ...: reason" per check, then "N passed, M failed"; exit 0 iff M == 0.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
setup=${E2E_SETUP:-hfshare}
die() { echo "e2e_init.sh: $*" >&2; exit 2; }
# shellcheck source=lib.sh
source "$here/lib.sh"
[[ $(id -u) == 0 ]] || die "must run as root (it creates users and a group)"
case $setup in
hfshare) [[ -x ${HFSHARE:-} ]] || die "set HFSHARE to the hfshare binary" ;;
naive) ;;
*) die "E2E_SETUP must be hfshare or naive" ;;
esac
for tool in setpriv setfacl useradd; do command -v "$tool" >/dev/null || die "$tool is missing"; done
py=$(bash "$here/venv.sh")/bin/python

model=hfshare-test/tiny-model
dataset=hfshare-test/tiny-dataset
G=hfe2e$$ UA=hfe2ea$$ UB=hfe2eb$$ # B's own primary group is also named $UB
T=$(mktemp -d "${E2E_TMPDIR:-/var/tmp}/hfe2e.XXXXXX") # E2E_TMPDIR: run on another filesystem
chmod 755 "$T"
fakehub_pid=
export HFSHARE_SYSCONFDIR=$T/etc # keep our throwaway roots out of /etc/hfshare/roots

cleanup() {
    stop_fakehub
    remove_accounts "$UA" "$UB" -- "$UB" "$G"
    remove_tmp
}
begin_accounts
groupadd -g "$(free_id)" "$G"
useradd -K UID_MAX=64999 -M -N -u "$(free_id)" -g "$G" -d "$T/home/$UA" -s /bin/sh "$UA" # A: shared group is primary
groupadd -g "$(free_id)" "$UB"
useradd -K UID_MAX=64999 -M -N -u "$(free_id)" -g "$UB" -G "$G" -d "$T/home/$UB" -s /bin/sh "$UB" # B: supplementary
accounts_unlock
for u in "$UA" "$UB"; do install -d -m 0700 -o "$u" -g "$(id -g "$u")" "$T/home/$u"; done

# the users need to read the client and the manifest: keep copies in $T
start_fakehub


# as USER CMD...: run CMD as USER with the client env for $root, under umask $mask
as() {
    local user=$1 home=$T/home/$1
    shift
    # shellcheck disable=SC2016 # $0 and $@ are for the inner sh
    setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --reset-env \
        env HF_HUB_CACHE="$root/hub" HF_DATASETS_CACHE="$root/datasets" HF_XET_CACHE="$root/xet" \
        HF_ASSETS_CACHE="$root/assets" HF_TOKEN_PATH="$home/.cache/huggingface/token" HF_ENDPOINT="$url" \
        HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_XET=1 HF_HUB_DISABLE_PROGRESS_BARS=1 \
        sh -c 'umask "$0" && exec "$@"' "$mask" "$@"
}
client() { local user=$1; shift; as "$user" "$py" "$T/client.py" "$@"; }
offline() { local user=$1; shift; as "$user" env HF_HUB_OFFLINE=1 "$py" "$T/client.py" "$@"; }

make_cache() {
    if [[ $setup == naive ]]; then
        mkdir -p "$1"/{hub,datasets,xet,assets} && chgrp -R "$G" "$1" && chmod -R 775 "$1"
    else
        "$HFSHARE" init "$1" --group "$G" --no-profile
    fi
}

scenario() {
    mask=$1 root=$T/cache-$1
    local m=$T/manifest.json who u rev
    echo "# umask $mask, cache $root, setup $setup"
    check "[$mask] $setup init of a fresh cache" make_cache "$root"
    check "[$mask] A downloads model@main (snapshot_download)" client "$UA" snapshot model "$model" main
    check "[$mask] B downloads model@v1 into the same repo dir" client "$UB" snapshot model "$model" v1
    check "[$mask] B downloads one dataset file (hf_hub_download)" client "$UB" file dataset "$dataset" main data/train.jsonl
    check "[$mask] A completes B's dataset dir (snapshot_download)" client "$UA" snapshot dataset "$dataset" main
    for who in A B; do
        u=U$who
        for rev in main v1; do
            check "[$mask] $who reads model@$rev offline, sha256 match" offline "${!u}" verify "$m" "$model" "$rev"
        done
        check "[$mask] $who reads dataset@main offline, sha256 match" offline "${!u}" verify "$m" "$dataset" main
    done
    check "[$mask] B deletes A's model@main (delete_revisions)" client "$UB" delete "$m" "$model" main
    check "[$mask] model@main snapshot, ref and own blobs are gone from disk" \
        env HF_HUB_CACHE="$root/hub" /usr/bin/python3 "$T/client.py" gone "$m" "$model" main v1
    check "[$mask] A still reads model@v1 offline" offline "$UA" verify "$m" "$model" v1
    check "[$mask] A downloads model@main again" client "$UA" snapshot model "$model" main
    check "[$mask] B reads the new model@main offline" offline "$UB" verify "$m" "$model" main
    for who in A B; do
        u=U$who
        check "[$mask] $who can read every entry of the cache" unreadable "${!u}"
    done
}

unreadable() { # fails, listing them, if some entries of $root are not readable by user $1
    local list known
    list=$(as "$1" "$py" "$T/client.py" unreadable "$root") || return 1
    # known client behaviour, not init's to fix: huggingface_hub writes trees/<commit>.json with
    # tempfile.mkstemp, i.e. mode 0600, and a default ACL cannot widen that (its mask becomes ---)
    known=$(grep -E '/trees/[0-9a-f]{40}\.json$' <<<"$list" || true)
    list=$(grep -vE '/trees/[0-9a-f]{40}\.json$' <<<"$list" || true)
    if [[ -n $known ]]; then echo "known: $(wc -l <<<"$known") trees/*.json written 0600 by the client"; fi
    [[ -z $list ]] || { echo "$(wc -l <<<"$list") unreadable: $(tr '\n' ' ' <<<"$list")"; return 1; }
}

start=$SECONDS
scenario 022
scenario 077
echo "# huggingface_hub $("$py" -c 'import huggingface_hub as h; print(h.__version__)'), $((SECONDS - start))s"
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
