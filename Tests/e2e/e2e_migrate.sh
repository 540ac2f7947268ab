#!/usr/bin/env bash
# End-to-end test of `hfshare user add` + `hfshare migrate`: two users fill private caches in their
# homes with the real huggingface_hub client (against fakehub.py), then root sets up a shared cache,
# adds them to the group and migrates both private caches into it. Afterwards both users read every
# file of every revision through the client with HF_HUB_OFFLINE=1, sha256 checked, and the bytes
# migrate reports as saved by deduplication equal the size of the blobs both private caches held.
#
#   HFSHARE=/path/to/hfshare bash Tests/e2e/e2e_migrate.sh        (as root)
#   E2E_SETUP=naive bash Tests/e2e/e2e_migrate.sh                 migrate by 'cp -a' + rm instead: must
#                                                                  fail (shows the test can)
#   E2E_KEEP=1 keeps the temp dir; the users and the group are removed anyway.
# Prints "ok - ..." / "not ok - ...: reason" per check, then "N passed, M failed"; exit 0 iff M == 0.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "e2e_migrate.sh: $*" >&2; exit 2; }
# shellcheck source=lib.sh
source "$here/lib.sh"
preflight setpriv useradd gpasswd
setup=${E2E_SETUP:-hfshare}
[[ $setup == hfshare || $setup == naive ]] || die "E2E_SETUP must be hfshare or naive"
py=$(bash "$here/venv.sh")/bin/python

model=hfshare-test/tiny-model
dataset=hfshare-test/tiny-dataset
G=hfmig$$ UA=hfmiga$$ UB=hfmigb$$
T=$(mktemp -d /var/tmp/hfmig.XXXXXX)
chmod 755 "$T"
fakehub_pid=
export HFSHARE_SYSCONFDIR=$T/etc HFSHARE_PROFILE=$T/profile.d/hfshare.sh # never /etc

cleanup() {
    stop_fakehub
    remove_accounts "$UA" "$UB" -- "$UA" "$UB" "$G"
    remove_tmp
}
begin_accounts
groupadd -g "$(free_id)" "$G"
for u in "$UA" "$UB"; do # each with its own primary group, not yet in $G: 'user add' does that
    groupadd -g "$(free_id)" "$u"
    useradd -K UID_MAX=64999 -M -N -u "$(free_id)" -g "$u" -d "$T/home/$u" -s /bin/sh "$u"
done
accounts_unlock
for u in "$UA" "$UB"; do install -d -m 0700 -o "$u" -g "$u" "$T/home/$u"; done

start_fakehub


# private USER CMD...: as USER in a fresh login environment, the client's default cache in $HOME
private() {
    local user=$1
    shift
    setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --reset-env \
        env HF_ENDPOINT="$url" HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_XET=1 HF_HUB_DISABLE_PROGRESS_BARS=1 "$@"
}
# shared USER CMD...: as USER with the shared cache, offline
shared() {
    local user=$1
    shift
    private "$user" env HF_HUB_CACHE="$root/hub" HF_TOKEN_PATH="$T/home/$user/.cache/huggingface/token" HF_HUB_OFFLINE=1 "$@"
}

root=$T/shared
m=$T/manifest.json
hubA=$T/home/$UA/.cache/huggingface/hub
hubB=$T/home/$UB/.cache/huggingface/hub
setA="$model@v1 $dataset@main"
setB="$model@v1 $model@main $dataset@main:data/train.jsonl"

fillA() { private "$UA" "$py" "$T/client.py" snapshot model "$model" v1 && private "$UA" "$py" "$T/client.py" snapshot dataset "$dataset" main; }
fillB() {
    private "$UB" "$py" "$T/client.py" snapshot model "$model" v1 && private "$UB" "$py" "$T/client.py" snapshot model "$model" main &&
        private "$UB" "$py" "$T/client.py" file dataset "$dataset" main data/train.jsonl
}
check "A fills a private cache: model@v1, dataset@main" fillA
check "B fills a private cache: model@v1, model@main, one dataset file" fillB
check "the private caches are in the homes" test -d "$hubA/models--hfshare-test--tiny-model/blobs" -a -d "$hubB/models--hfshare-test--tiny-model/blobs"

check "init the shared cache" "$HFSHARE" init "$root" --group "$G" -q
useradd_ok() { local out; out=$("$HFSHARE" user add "$UA" "$UB" "$root") && echo "$out" && grep -q 'must log out and in again' <<<"$out"; }
check "user add A B: exit 0, tells them to log in again" useradd_ok
check "A and B are members through NSS" sh -c "id -Gn $UA | grep -qw $G && id -Gn $UB | grep -qw $G"

check "migrate --dry-run changes nothing" sh -c "before=\$(find $hubA $root -printf '%p %i %m %u %g %s\n' | sort) && $HFSHARE migrate $hubA $root --dry-run >/dev/null && [ \"\$before\" = \"\$(find $hubA $root -printf '%p %i %m %u %g %s\n' | sort)\" ]"
migrate() { # migrate SRC [--remove-source]: hfshare, or what an admin might do by hand
    if [[ $setup == naive ]]; then
        cp -a "$1"/. "$root/hub"/ && chgrp -R "$G" "$root/hub" && chmod -R g+rw "$root/hub" || return
        if [[ ${2:-} == --remove-source ]]; then rm -rf "$1"; else find "$1" -mindepth 1 -delete; fi
        echo "saved 0 bytes"
    else
        "$HFSHARE" migrate "$@" "$root"
    fi
}
outA=$(migrate "$hubA" 2>&1) && rcA=0 || rcA=$?
check "migrate A's private cache: exit 0" sh -c "printf '%s\n' \"\$1\"; [ $rcA = 0 ]" - "$outA"
outB=$(migrate "$hubB" --remove-source 2>&1) && rcB=0 || rcB=$?
check "migrate B's private cache --remove-source: exit 0" sh -c "printf '%s\n' \"\$1\"; [ $rcB = 0 ]" - "$outB"

want=$(/usr/bin/python3 "$here/migrate_client.py" saving "$m" "$setA" "$setB")
gotA=$(sed -n 's/.*saved \([0-9]*\) bytes.*/\1/p' <<<"$outA")
gotB=$(sed -n 's/.*saved \([0-9]*\) bytes.*/\1/p' <<<"$outB")
check "A's migration saved nothing (shared cache was empty): $gotA" test "$gotA" = 0
check "B's migration saved exactly the blobs A already had: $gotB = $want bytes" test "$gotB" = "$want"
union=$(/usr/bin/python3 "$here/migrate_client.py" blobs "$m" $setA $setB | wc -l)
count=$(/usr/bin/python3 "$here/migrate_client.py" count "$root/hub")
check "one copy of each blob in the shared cache: $count = $union" test "$count" = "$union"

for who in A B; do
    u=U$who
    for spec in "$model v1" "$model main" "$dataset main"; do
        set -- $spec
        check "$who reads $1@$2 from the shared cache offline, sha256 match" shared "${!u}" "$py" "$T/client.py" verify "$m" "$1" "$2"
    done
done
check "A's private cache is left as an empty hub cache (no repo)" sh -c "test -d $hubA && ! ls $hubA | grep -q -- --"
check "B's private cache is removed" test ! -e "$hubB"
check "no snapshot link is dangling in the shared cache" sh -c "[ -z \"\$(find $root -xtype l)\" ]"
check "moved blobs keep their owner (A's model@v1 weights, B's model@main weights)" sh -c "
    w1=\$(/usr/bin/python3 $here/migrate_client.py blobs $m $model@v1:model.safetensors | cut -d' ' -f2)
    w2=\$(/usr/bin/python3 $here/migrate_client.py blobs $m $model@main:model.safetensors | cut -d' ' -f2)
    [ \$(stat -c %U $root/hub/models--hfshare-test--tiny-model/blobs/\$w1) = $UA ] && [ \$(stat -c %U $root/hub/models--hfshare-test--tiny-model/blobs/\$w2) = $UB ]"
check "audit of the shared cache is clean (group, modes, ACLs applied to moved files)" "$HFSHARE" audit "$root"
check "B downloads into the shared cache online after the migration" \
    private "$UB" env HF_HUB_CACHE="$root/hub" "$py" "$T/client.py" snapshot dataset "$dataset" main

# doctor agrees with what the client just did: a fresh login of A (profile snippet in ~/.profile)
# passes every check; B, whose ~/.profile points HF_HUB_CACHE back home, fails 'env' with the line.
echo ". $HFSHARE_PROFILE" >"$T/home/$UA/.profile"
printf '. %s\nexport HF_HUB_CACHE=$HOME/.cache/huggingface/hub\n' "$HFSHARE_PROFILE" >"$T/home/$UB/.profile"
chown "$UA" "$T/home/$UA/.profile"
chown "$UB" "$T/home/$UB/.profile"
check "doctor --user A: all checks pass" "$HFSHARE" doctor --user "$UA" "$root"
doctor_b() { local out; out=$("$HFSHARE" doctor --user "$UB" "$root") && return 1; echo "$out"; grep -q 'FAIL env: overridden' <<<"$out" && grep -q '~/.profile:2' <<<"$out"; }
check "doctor --user B: fails env, traced to ~/.profile:2" doctor_b
doctor_self() { shared "$UA" env HFSHARE_SYSCONFDIR="$HFSHARE_SYSCONFDIR" HFSHARE_PROFILE="$HFSHARE_PROFILE" HF_DATASETS_CACHE="$root/datasets" \
    HF_XET_CACHE="$root/xet" HF_ASSETS_CACHE="$root/assets" "$HFSHARE" doctor; }
check "doctor run by A in A's own session: all checks pass" doctor_self

echo "# huggingface_hub $("$py" -c 'import huggingface_hub as h; print(h.__version__)')"
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
