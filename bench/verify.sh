#!/bin/bash
# Benchmark `hfshare verify` against sha256sum, in one run on generated blobs.
#
# usage: sudo bench/verify.sh [--size 2G] [--bin PATH] [--keep]
#   --size N     bytes of blobs to generate (suffix K, M, G; default 2G)
#   --small N    small files (git blobs, 200 B-60 KiB) per repo besides the large ones (default 500)
#   --bin PATH   hfshare binary (default: .build/release/hfshare if built, else .build/debug/hfshare)
#   --keep       keep the work dir (/var/tmp/hfshare-bench-verify.XXXX)
#
# Generates a hub cache of --size bytes (bench/gen_hub.py: 8 repos, refs, snapshot symlinks, blobs named
# by sha256 or git blob id), reads it once so the page cache is warm for everyone, then times, each the
# median of 3 runs:
#   single    find BLOBS -type f -print0 | xargs -0 sha256sum                (one sha256sum at a time)
#   parallel  find BLOBS -type f -print0 | xargs -0 -n 4 -P $(nproc) sha256sum
#   verify    hfshare verify --full ROOT                                     (every blob hashed)
#   printf    find BLOBS -type f -printf '%i %s %T@ %C@\n'                  (the stat walk alone)
#   rerun     hfshare verify ROOT, nothing changed                           (all from verified.bin)
# and prints verify/single (target <= 0.6), verify/parallel (<= 1.10), rerun/printf (<= 1.0) with
# PASS/FAIL. Exit 0 even when a target is missed (it measures); 1 if verify fails or reports damage.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
size=2G bin="" keep=0 small=500
while (($#)); do
    case $1 in
        --size) size=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --small) small=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "verify.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done
bytes=$(numfmt --from=iec "$size") || { echo "verify.sh: --size $size: not a size" >&2; exit 2; }
((EUID == 0)) || { echo "verify.sh: run as root (verify remembers what it checked only as root)" >&2; exit 2; }
if [[ -z $bin ]]; then
    bin=$here/../.build/release/hfshare
    [[ -x $bin ]] || bin=$here/../.build/debug/hfshare
fi
[[ -x $bin ]] || { echo "verify.sh: no hfshare at $bin; swift build first" >&2; exit 2; }

W=$(mktemp -d /var/tmp/hfshare-bench-verify.XXXX)
cleanup() { if ((keep)); then echo "# kept $W"; else rm -rf "$W"; fi; }
trap cleanup EXIT
root=$W/cache
mkdir -p "$root/hub" "$root/.hfshare"
chmod 755 "$root/.hfshare"
files=$(/usr/bin/python3 "$here/gen_hub.py" "$root/hub" "$bytes" --small "$small")
cp "$bin" "$W/hfshare"
echo "# $files files, $(du -sh --apparent-size "$root/hub" | cut -f1) in $root, $(nproc) CPUs, $($W/hfshare --version)"
cat "$root"/hub/*/blobs/* >/dev/null # warm: every tool reads from the page cache

median() { sort -n | sed -n 2p; }
timeit() { # timeit CMD...: seconds of one run (output discarded)
    local s e
    s=$(date +%s.%N)
    "$@" >/dev/null
    e=$(date +%s.%N)
    echo "$e - $s" | bc -l
}
runs() { local i; for i in 1 2 3; do timeit "$@"; done | median; }
single() { find "$root/hub" -path '*/blobs/*' -type f -print0 | xargs -0 sha256sum; }
parallel() { find "$root/hub" -path '*/blobs/*' -type f -print0 | xargs -0 -n 4 -P "$(nproc)" sha256sum; }
printf_walk() { find "$root/hub" -path '*/blobs/*' -type f -printf '%i %s %T@ %C@\n'; }
verify_full() { "$W/hfshare" verify "$root" --full; }
verify_rerun() { "$W/hfshare" verify "$root"; }

out=$("$W/hfshare" verify "$root" --full) || { echo "$out"; echo "verify.sh: verify failed or found damage" >&2; exit 1; }
grep -q ' 0 broken' <<<"$out" || { echo "$out"; exit 1; }
t_single=$(runs single)
t_parallel=$(runs parallel)
t_verify=$(runs verify_full)
t_printf=$(runs printf_walk)
t_rerun=$(runs verify_rerun)
rerun_out=$(verify_rerun)
grep -q "hashed 0 blob(s)" <<<"$rerun_out" || { echo "$rerun_out"; echo "verify.sh: the rerun hashed blobs again" >&2; exit 1; }

report() { # NAME RATIO TARGET
    local verdict=FAIL
    if (($(echo "$2 <= $3" | bc -l))); then verdict=PASS; fi
    printf '%-34s %6.3f  (target <= %s)  %s\n' "$1" "$2" "$3" "$verdict"
}
printf 'single sha256sum      %8.3fs\nparallel sha256sum    %8.3fs\nhfshare verify --full %8.3fs  (%s MiB/s)\nfind -printf          %8.3fs\nhfshare verify rerun  %8.3fs\n' \
    "$t_single" "$t_parallel" "$t_verify" "$(echo "$bytes / 1048576 / $t_verify" | bc)" "$t_printf" "$t_rerun"
report "verify --full / single sha256sum" "$(echo "$t_verify / $t_single" | bc -l)" 0.6
report "verify --full / parallel sha256sum" "$(echo "$t_verify / $t_parallel" | bc -l)" 1.10
report "verify rerun / find -printf" "$(echo "$t_rerun / $t_printf" | bc -l)" 1.0
