#!/usr/bin/env bash
# Installs hfshare's .deb into a clean Debian 12 root (debootstrap --variant=minbase from the mirror this
# machine's apt uses, plus man-db; no Swift anywhere in it), then, in a chroot with its own /proc (in a
# private mount namespace, so nothing leaks): init --create-group, audit, repair, man; then purges the
# package and checks that no file of it is left and that the cache, /etc/hfshare/roots and the profile
# snippet (the admin's data) are untouched.
#
#   bash Tests/deb/deb_install.sh [hfshare_VERSION_ARCH.deb]   (as root; without an argument it builds
#                                                               one with scripts/build-deb.sh)
#   bash Tests/deb/deb_install.sh --prepare                     only build the cached Debian root
#
# The pristine root is kept in $HFSHARE_DEB_CACHE (default /var/cache/hfshare-test/debroot) so reruns
# only copy it (the first run downloads ~90 packages). Where debootstrap cannot work (no network, no
# mirror, no mknod) the test FAILS with the reason; HFSHARE_SKIP_DEB_TEST=1 skips it on purpose, loudly.
# Prints "ok - ..." / "not ok - ..." per check, then "N passed, M failed"; exit 0 iff M == 0.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
die() { echo "deb_install.sh: $*" >&2; exit 2; }
[[ $(id -u) == 0 ]] || die "must run as root (debootstrap, chroot, mount)"
if [[ ${HFSHARE_SKIP_DEB_TEST:-} == 1 ]]; then
    echo "SKIPPED: deb_install.sh (HFSHARE_SKIP_DEB_TEST=1): the .deb was NOT tested in a clean Debian root"
    exit 0
fi

cache=${HFSHARE_DEB_CACHE:-/var/cache/hfshare-test/debroot}
pristine=$cache/bookworm-minbase-man-db
start=$SECONDS

# The mirror apt already uses here (deb822 .sources or one-line .list), Debian's main archive.
mirror() {
    local m
    m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
        /^Types:/ { deb = ($0 ~ /(^|[ \t])deb([ \t]|$)/) }
        /^URIs:/ && deb { uri = $2 }
        /^Suites:/ && deb && uri != "" { for (i = 2; i <= NF; i++) if ($i == "bookworm") { print uri; exit } }
        /^$/ { deb = 0; uri = "" }')
    [[ -n $m ]] || m=$(grep -hE '^deb[[:space:]]+[^[]*[[:space:]]bookworm[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2; exit}')
    [[ -n $m ]] || die "no bookworm mirror in /etc/apt/sources.list*; cannot make a Debian 12 root (HFSHARE_SKIP_DEB_TEST=1 skips this test)"
    echo "$m"
}

prepare() {
    [[ -f $pristine/.hfshare-pristine ]] && return 0
    command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap; scripts/deps.sh installs it)"
    local m tmp t0=$SECONDS
    m=$(mirror)
    mkdir -p "$cache"
    tmp=$(mktemp -d "$cache/new.XXXXXX")
    chmod 0755 "$tmp" # it becomes the chroot's /: mktemp's 0700 would lock every non-root user out
    echo "# debootstrap --variant=minbase --include=man-db bookworm from $m (first run only; cached in $pristine)"
    if ! debootstrap --variant=minbase --include=man-db bookworm "$tmp" "$m" >"$cache/debootstrap.log" 2>&1; then
        tail -n 15 "$cache/debootstrap.log" >&2
        rm -rf "$tmp"
        die "debootstrap failed (log: $cache/debootstrap.log); the .deb could not be tested. Fix the network/mirror, or set HFSHARE_SKIP_DEB_TEST=1 to skip on purpose"
    fi
    rm -f "$tmp"/var/cache/apt/archives/*.deb
    touch "$tmp/.hfshare-pristine"
    rm -rf "$pristine"
    mv "$tmp" "$pristine"
    echo "# cached Debian root ready in $((SECONDS - t0)) s"
}

if [[ ${1:-} == --prepare ]]; then prepare; exit 0; fi

deb=${1:-}
T=$(mktemp -d /var/tmp/hfdeb.XXXXXX)
cleanup() { if [[ -n ${E2E_KEEP:-} ]]; then echo "# kept $T" >&2; else rm -rf "$T"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM
if [[ -z $deb ]]; then
    bash "$repo/scripts/build-deb.sh" --out "$T" >"$T/build.log" 2>&1 || { tail -n 30 "$T/build.log"; die "scripts/build-deb.sh failed"; }
    deb=$(ls "$T"/hfshare_*.deb)
fi
[[ -f $deb ]] || die "$deb: no such file"
t_built=$SECONDS
prepare
t_prepared=$SECONDS

root=$T/root
cp -a "$pristine" "$root"
chmod 0755 "$root"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true # only if apt has to fetch a dependency
cp "$deb" "$root/tmp/"
debname=$(basename "$deb")
t_copied=$SECONDS

# in_root CMD: one shell command in the chroot, with its own /proc in a private mount namespace.
in_root() {
    unshare -m --propagation private sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb sh -c "$1"' "$root" "$1"
}

passed=0 failed=0
check() { # check WHAT CMD-in-root
    local what=$1 out
    if out=$(in_root "$2" 2>&1); then
        echo "ok - $what"; passed=$((passed + 1))
    else
        echo "not ok - $what: $(tail -n1 <<<"$out" | cut -c1-300)"; failed=$((failed + 1))
    fi
    [[ -z $out ]] || printf '#   %s\n' "${out//$'\n'/$'\n#   '}" | head -n 25
}
host_check() { # host_check WHAT CMD...
    local what=$1 out
    shift
    if out=$("$@" 2>&1); then echo "ok - $what"; passed=$((passed + 1)); else echo "not ok - $what: $(tail -n1 <<<"$out" | cut -c1-300)"; failed=$((failed + 1)); fi
    [[ -z $out ]] || printf '#   %s\n' "${out//$'\n'/$'\n#   '}" | head -n 25
}
no_swift() { ! find "$root" -xdev \( -name 'libswift*' -o -name 'swift' -o -name 'swiftc' \) -print | grep .; }

G=hfdebg
version=$(dpkg-deb -f "$deb" Version)
if [[ -n ${1:-} ]]; then
    host_check "lintian reports no errors on $debname" lintian --fail-on error "$deb"
else # scripts/build-deb.sh ran lintian (and fails on errors); it only warns when lintian is missing
    host_check "lintian reported no errors on $debname (scripts/build-deb.sh)" grep -qx 'lintian: no errors' "$T/build.log"
fi
host_check "no Swift in the clean root before install" no_swift
check "proc is mounted in the chroot" "test -r /proc/self/status"
host_check "the chroot's /proc mount did not leak to the host (unshare -m)" sh -c "! grep -qF ' $root/proc ' /proc/self/mountinfo"
check "apt-get install ./$debname (Depends: $(dpkg-deb -f "$deb" Depends))" "DEBIAN_FRONTEND=noninteractive apt-get install -y -q ./tmp/$debname"
host_check "no Swift in the root after install (static Swift runtime)" no_swift
check "hfshare --version is $version" "test \"\$(hfshare --version)\" = '$version'"
check "hfshare init /srv/hfcache --group $G --create-group" "hfshare init /srv/hfcache --group $G --create-group"
check "hfshare audit (healthy: exit 0)" "hfshare audit"
check "hfshare repair (nothing to fix: exit 0)" "hfshare repair"
check "a member's file broken on purpose: audit finds it, repair fixes it" "useradd -M -N -g $G hfdebu && install -m 0600 -o hfdebu -g $G /dev/null /srv/hfcache/hub/broken && ! hfshare audit >/dev/null && hfshare repair && hfshare audit"
check "man hfshare-audit" "man -P cat hfshare-audit | grep -q 'hfshare audit'"
check "man hfshare-env" "man -P cat hfshare-env | grep -q 'hfshare env'"
check "bash completion loads" "test -r /usr/share/bash-completion/completions/hfshare && bash -c '. /usr/share/bash-completion/completions/hfshare && complete -p hfshare'"
check "systemd units and cron example in place" "test -r /lib/systemd/system/hfshare-audit.timer && grep -q '^ExecStart=/usr/bin/hfshare ' /lib/systemd/system/hfshare-repair.service && test -r /usr/share/doc/hfshare/examples/hfshare.cron && test -r /usr/share/doc/hfshare/copyright"

# What the package owns, and the admin's data, before the purge.
in_root "dpkg-query -L hfshare" >"$T/files"
in_root "find /srv/hfcache -printf '%p %m %u %g %s %T@\n' | sort; cat /etc/hfshare/roots /srv/hfcache/.hfshare/config.json /etc/profile.d/hfshare.sh" >"$T/data.before"
check "apt-get purge hfshare" "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q hfshare && ! dpkg-query -W hfshare 2>/dev/null | grep -q ."
leftovers() { # a path of the package that still exists and is not a directory the clean root already had
    local p left=0
    while IFS= read -r p; do
        [[ $p == /. || -z $p ]] && continue
        if [[ -e $root$p || -L $root$p ]] && ! [[ -d $root$p && -d $pristine$p ]]; then echo "left: $p"; left=1; fi
    done <"$T/files"
    [[ $(wc -l <"$T/files") -gt 10 ]] || { echo "file list too short: $(cat "$T/files")"; left=1; }
    return $left
}
host_check "no file of the package is left after purge ($(wc -l <"$T/files") paths checked)" leftovers
in_root "find /srv/hfcache -printf '%p %m %u %g %s %T@\n' | sort; cat /etc/hfshare/roots /srv/hfcache/.hfshare/config.json /etc/profile.d/hfshare.sh" >"$T/data.after"
host_check "purge left the cache, /etc/hfshare/roots and the profile snippet untouched" diff "$T/data.before" "$T/data.after"

echo "# times: build $((t_built - start)) s, Debian root $((t_prepared - t_built)) s, copy $((t_copied - t_prepared)) s, checks $((SECONDS - t_copied)) s, total $((SECONDS - start)) s"
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
