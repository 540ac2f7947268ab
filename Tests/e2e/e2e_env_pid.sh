#!/usr/bin/env bash
# End-to-end test of `hfshare env --install-unit` and `hfshare doctor --pid`: two real long-running
# processes of one member, each in a (fake) systemd service cgroup:
#   bad:  started like a service without the drop-in (no HF_* variables, without group G: the user
#         joined G only afterwards);
#   good: started with exactly what the drop-in `hfshare env --install-unit` wrote (its Environment=
#         lines, SupplementaryGroups=, UMask= if any, read back from the file as systemd would).
# doctor --pid must fail the first, name its unit in the fix, and pass the second; the second then
# downloads with the real huggingface_hub into the shared cache, and what it wrote is group G and
# group-writable (hfshare audit, the policy's judge, finds nothing).
#
#   HFSHARE=/path/to/hfshare bash Tests/e2e/e2e_env_pid.sh      (as root)
# Prints "ok - ..." / "not ok - ..." per check, then "N passed, M failed"; exit 0 iff M == 0.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "e2e_env_pid.sh: $*" >&2; exit 2; }
# shellcheck source=lib.sh
source "$here/lib.sh"
preflight setpriv useradd gpasswd
py=$(bash "$here/venv.sh")/bin/python

model=hfshare-test/tiny-model
G=hfpid$$ U=hfpidu$$
T=$(mktemp -d /var/tmp/hfpid.XXXXXX)
chmod 755 "$T"
export HFSHARE_SYSCONFDIR=$T/etc HFSHARE_SYSTEMD_UNITDIR=$T/units HFSHARE_SYSTEMD_RUNNING=0
fakehub_pid= bad= good=

# A systemd-like service cgroup: the name=systemd hierarchy on v1/hybrid machines, else cgroup2.
if [[ -d /sys/fs/cgroup/systemd && -w /sys/fs/cgroup/systemd ]]; then cgbase=/sys/fs/cgroup/systemd
elif [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then cgbase=/sys/fs/cgroup
else die "no writable name=systemd or cgroup2 hierarchy to put the test services in"; fi
cgroot=$cgbase/hfshare-e2e-$$.slice

cleanup() {
    for p in $bad $good; do kill "$p" 2>/dev/null || true; done
    for p in $bad $good; do wait "$p" 2>/dev/null || true; done
    stop_fakehub
    for d in "$cgroot"/*.service "$cgroot"; do [[ -d $d ]] && rmdir "$d" 2>/dev/null || true; done
    remove_accounts "$U" -- "$U" "$G"
    remove_tmp
}
begin_accounts
groupadd -g "$(free_id)" "$G"
groupadd -g "$(free_id)" "$U"
useradd -K UID_MAX=64999 -M -N -u "$(free_id)" -g "$U" -d "$T/home/$U" -s /bin/sh "$U" # not in G yet
accounts_unlock
install -d -m 0700 -o "$U" -g "$U" "$T/home/$U"
start_fakehub
root=$T/cache
"$HFSHARE" init "$root" --group "$G" --no-profile -q || die "init failed"
gid_g=$(getent group "$G" | cut -d: -f3) gid_u=$(id -g "$U")

in_service() { # in_service NAME PID: move PID into the fake NAME.service cgroup
    mkdir -p "$cgroot/$1.service"
    echo "$2" >"$cgroot/$1.service/cgroup.procs"
}

# bad: a service as it runs before anyone set it up: the user's own group, no HF_* at all.
setpriv --reuid="$U" --regid="$gid_u" --init-groups --reset-env \
    env -i HOME="$T/home/$U" PATH=/usr/bin:/bin sleep 600 &
bad=$!
in_service "$G-bad" "$bad"

# The drop-in, and the environment systemd would give the service from it (read back from the file).
check "env --install-unit writes the drop-in" "$HFSHARE" env "$root" --install-unit "$G-good.service"
dropin=$T/units/$G-good.service.d/hfshare.conf
check "env --install-unit a second time changes nothing and says so" \
    sh -c "'$HFSHARE' env '$root' --install-unit '$G-good' | grep -q 'nothing changed'"
# shellcheck disable=SC2016
mapfile -t svc_env < <(/usr/bin/python3 -c '
import shlex, sys
for line in open(sys.argv[1]):
    if line.startswith("Environment="):
        for word in shlex.split(line[len("Environment="):]):
            print(word)
' "$dropin")
groups_line=$(sed -n 's/^SupplementaryGroups=//p' "$dropin")
umask_line=$(sed -n 's/^UMask=//p' "$dropin")
extra=
for g in $groups_line; do extra+=,$(getent group "$g" | cut -d: -f3); done
check "the drop-in sets HF_HUB_CACHE=$root/hub and SupplementaryGroups=$G" \
    sh -c "printf '%s\n' \"\$@\" | grep -qx 'HF_HUB_CACHE=$root/hub' && [ '$groups_line' = '$G' ]" sh "${svc_env[@]}"

# good: started as systemd would with the drop-in (the user's groups + SupplementaryGroups, default
# service umask 0022 unless UMask=); waits for $T/go, then downloads with the real client.
# shellcheck disable=SC2016
setpriv --reuid="$U" --regid="$gid_u" --groups="$gid_u$extra" --reset-env \
    env -i HOME="$T/home/$U" PATH=/usr/bin:/bin "${svc_env[@]}" HF_ENDPOINT="$url" HF_HUB_DISABLE_TELEMETRY=1 \
    HF_HUB_DISABLE_XET=1 HF_HUB_DISABLE_PROGRESS_BARS=1 \
    sh -c 'umask "$0"; while [ ! -e "$1/go" ]; do sleep 0.1; done; exec "$2" "$1/client.py" snapshot model "$3" main' \
    "${umask_line:-0022}" "$T" "$py" "$model" &
good=$!
in_service "$G-good" "$good"

# The user joins G only now: the bad service was started before, as happens.
accounts_lock
gpasswd -a "$U" "$G" >/dev/null
accounts_unlock

doctor() { local rc=0; "$HFSHARE" doctor "$root" --pid "$1" >"$T/doctor.$1" 2>&1 || rc=$?; echo "$rc" >"$T/doctor.$1.rc"; }
doctor "$bad"
doctor "$good"
sed 's/^/# bad:  /' "$T/doctor.$bad"
sed 's/^/# good: /' "$T/doctor.$good"
check "doctor --pid (bad) exits 1" test "$(cat "$T/doctor.$bad.rc")" = 1
check "doctor --pid (bad): the group is missing" grep -q "^FAIL group: the process lacks group $G" "$T/doctor.$bad"
check "doctor --pid (bad): it would use a private cache" grep -q "^FAIL cache: huggingface_hub would use $T/home/$U/.cache/huggingface/hub, not the shared cache" "$T/doctor.$bad"
check "doctor --pid (bad): the fix is env --install-unit for its unit" grep -q "fix: sudo hfshare env $root --install-unit $G-bad.service" "$T/doctor.$bad"
check "doctor --pid (good) exits 0" test "$(cat "$T/doctor.$good.rc")" = 0
check "doctor --pid (good): shared cache, group, can write" \
    sh -c "grep -q '^ok   cache: huggingface_hub would use the shared cache $root/hub' '$T/doctor.$good' && grep -q '^ok   group' '$T/doctor.$good' && grep -q '^ok   write: the process can write $root/hub' '$T/doctor.$good'"
check "doctor --pid of no process exits 2" sh -c "'$HFSHARE' doctor '$root' --pid 999999999 >/dev/null 2>&1; [ \$? = 2 ]"

touch "$T/go"
rc=0
wait "$good" || rc=$?
good=
check "the good service downloads $model with huggingface_hub into the shared cache" test "$rc" = 0
repo=$root/hub/models--${model//\//--}
check "its files are in the shared cache" test -n "$(find "$repo/blobs" -type f 2>/dev/null)"
check "every file it wrote (but trees/*.json, see README) is group $G and group rw" \
    sh -c "! find '$root/hub' -type f ! -path '*/trees/*' \\( ! -group '$G' -o ! -perm -g=rw \\) -printf '%p %M %g\n' | grep ."
check "another member (fresh process, group $G) can write into its blobs dir" \
    setpriv --reuid=65534 --regid=65534 --groups="$gid_g" sh -c "touch '$repo/blobs/.probe' && rm '$repo/blobs/.probe'"
check "hfshare repair, then audit: healthy" sh -c "'$HFSHARE' repair '$root' -q && '$HFSHARE' audit '$root' -q"

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
