#!/bin/bash
# Benchmark `hfshare du` against `du -s` on the same generated hub-cache tree.
#
# usage: bench/du.sh [--entries N] [--bin PATH] [--keep]
#   --entries N  entries in the generated tree (default 250000; 20000 is a quick run)
#   --bin PATH   hfshare binary (default: .build/release/hfshare if built, else .build/debug/hfshare)
#   --keep       keep the work dir
#
# Generates a tree with bench/gen_tree.py under /var/tmp/hfshare-dubench.XXXX (owned by the caller,
# no root needed), checks that `hfshare du --json` reports the same allocated bytes as
# `du -s --block-size=1`, then times both: one warm-up, median of 3 (warm page cache). Prints the
# ratio and PASS/FAIL per target: hfshare du / du -s <= 1.0, peak RSS < 64 MiB, same byte count.
# Exit status 0 even when a target is missed (it measures); 1 if a command fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
entries=250000 bin="" keep=0
while (($#)); do
    case $1 in
        --entries) entries=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "du.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done
[[ $entries =~ ^[0-9]+$ ]] || { echo "du.sh: --entries needs a number" >&2; exit 2; }
if [[ -z $bin ]]; then
    bin=$here/../.build/release/hfshare
    [[ -x $bin ]] || bin=$here/../.build/debug/hfshare
fi
[[ -x $bin ]] || { echo "du.sh: no hfshare at $bin; build it: swift build [-c release] --product hfshare" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "du.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

work=$(mktemp -d /var/tmp/hfshare-dubench.XXXX)
cleanup() { if ((keep)); then echo "kept: $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
cp "$bin" "$work/hfshare"
hf=$work/hfshare
tree=$work/tree
shape=$(python3 "$here/gen_tree.py" "$tree" --entries "$entries")

wall= rss=
run_once() {
    local t0 t1
    t0=$(date +%s.%N)
    /usr/bin/time -f %M -o "$work/time" "$@" >/dev/null 2>"$work/err" || { echo "du.sh: failed: $* ($(tail -2 "$work/err"))" >&2; exit 1; }
    t1=$(date +%s.%N)
    wall=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
    rss=$(tail -n 1 "$work/time")
}
declare -A T M
measure() {
    local name=$1 walls=() maxrss=0; shift
    run_once "$@"
    for _ in 1 2 3; do run_once "$@"; walls+=("$wall"); maxrss=$((rss > maxrss ? rss : maxrss)); done
    T[$name]=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n 2p)
    M[$name]=$((maxrss / 1024))
    echo "# $name: ${walls[*]} s -> median ${T[$name]} s, peak RSS ${M[$name]} MiB" >&2
}

ours=$("$hf" du "$tree" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["allocated"])')
theirs=$(du -s --block-size=1 "$tree" | cut -f1)
measure du du -s "$tree"
measure hfshare "$hf" du "$tree" --json

ratio=$(python3 -c "print(f'{${T[hfshare]} / ${T[du]}:.2f}')")
verdict() { python3 -c "import sys; print('PASS' if $1 else 'FAIL')"; }
echo "bench: $shape, warm cache, median of 3 after 1 warm-up"
echo "       ($(nproc) cores, $(uname -r), $("$hf" --version), $(date -u +%Y-%m-%dT%H:%M:%SZ), $(basename "$(dirname "$bin")") build)"
printf '%-22s %6s s   peak RSS %s MiB\n' "du -s" "${T[du]}" "${M[du]}"
printf '%-22s %6s s   peak RSS %s MiB\n' "hfshare du --json" "${T[hfshare]}" "${M[hfshare]}"
echo
printf '%-22s %-8s %-22s %s\n' "hfshare du / du -s" "$ratio" "(target <= 1.0)" "$(verdict "$ratio <= 1.0")"
printf '%-22s %-8s %-22s %s\n' "hfshare du peak RSS" "${M[hfshare]}" "(target < 64 MiB)" "$(verdict "${M[hfshare]} < 64")"
printf '%-22s %-8s %-22s %s\n' "allocated bytes" "$ours" "(du -s: $theirs)" "$(verdict "$ours == $theirs")"
