#!/bin/bash
# Issue #18: hfshare audit against find and getfacl on caches of several real shapes, warm and cold.
#
# usage: sudo bench/shapes.sh [--entries N] [--shapes LIST] [--bin PATH] [--cold] [--full] [--keep]
#   --entries N    entries per tree (default 250000)
#   --shapes LIST  comma-separated, default many-small,few-huge,deep,shared-store,datasets (bench/gen_tree.py)
#   --cold         also measure after `echo 3 > /proc/sys/vm/drop_caches` (find cold vs audit cold)
#   --full         also the 2.5M-entry scale run (time vs 250k, memory) (minutes)
# For each shape: find -printf, getfacl -R -n -p, hfshare audit (text and jsonl) on a tree with known
# owners; hfshare audit (text, jsonl, prometheus) on the same shape with owners that have no passwd
# entry vs the same uids given entries (private /etc in a mount namespace). Prints a table per shape
# with PASS/FAIL against the targets; exit 0 even when a target is missed (it measures).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
entries=250000 bin="" shapes=many-small,few-huge,deep,shared-store,datasets cold=0 full=0 keep=0
while (($#)); do
    case $1 in
        --entries) entries=$2; shift 2 ;;
        --shapes) shapes=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --cold) cold=1; shift ;;
        --full) full=1; shift ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "shapes.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done
((EUID == 0)) || { echo "shapes.sh: run as root" >&2; exit 2; }
bin=${bin:-$here/../.build/release/hfshare}
[[ -x $bin ]] || { echo "shapes.sh: no hfshare at $bin; build it: swift build -c release --product hfshare" >&2; exit 2; }
work=$(mktemp -d /var/tmp/hfshare-shapes.XXXX)
chmod 755 "$work"
group=""
cleanup() { if ((keep)); then echo "kept $work" >&2; else rm -rf "$work"; fi; [[ -z $group ]] || groupdel "$group"; }
trap cleanup EXIT
cp "$bin" "$work/hfshare"; hf=$work/hfshare
export HFSHARE_SYSCONFDIR=$work/etc
mkdir -p "$HFSHARE_SYSCONFDIR"
for gid in $(seq 65200 65299); do getent group "$gid" >/dev/null || break; done
group=hfshape$gid
groupadd -g "$gid" "$group"
gpasswd -M "$(python3 "$here/gen_tree.py" --list-owners)" "$group" >/dev/null
declare -A T M
# shellcheck source=lib.sh
source "$here/lib.sh"
cp -a /etc "$work/etc-known"
python3 -c 'import sys
with open(sys.argv[1], "a") as f:
    for u in range(70000, 71000): f.write(f"hfbenchu{u}:x:{u}:{u}::/nonexistent:/usr/sbin/nologin\n")' "$work/etc-known/passwd"
known_etc=(unshare -m --propagation private sh -c 'mount --bind "$1" /etc && shift && exec "$@"' sh "$work/etc-known")
init_tree() { "$hf" init "$1" --group "$group" --no-profile --root-is-member --quiet >/dev/null 2>&1 || { echo "shapes.sh: init $1 failed" >&2; exit 1; }; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
cold_once() { drop; run_once "$@"; }

report=""
for shape in ${shapes//,/ }; do
    log "shape $shape: generating 2 x $entries entries"
    desc=$(python3 "$here/gen_tree.py" "$work/$shape-k" --entries "$entries" --owners --shape "$shape")
    python3 "$here/gen_tree.py" "$work/$shape-u" --entries "$entries" --unknown-owners --shape "$shape" >/dev/null
    init_tree "$work/$shape-k"; init_tree "$work/$shape-u"
    k=$work/$shape-k u=$work/$shape-u
    # The commands compared run interleaved, best of 5 (lib.sh `interleave`).
    c_find=(find "$k" -printf '%U %G %m %n\n')
    c_getfacl=(getfacl -R -n -p "$k")
    c_audit=("$hf" audit "$k" --group "$group" --quiet)
    c_jsonl=("$hf" audit "$k" --group "$group" --format jsonl)
    interleave 5 "$shape/find" 0 c_find "$shape/getfacl" 0 c_getfacl "$shape/audit" "0 1" c_audit "$shape/audit-jsonl" "0 1" c_jsonl
    # The first audit of a tree has no link index yet (root's record of snapshot dirs): shown apart.
    measure "$shape/audit-first" "0 1" sh -c 'rm -rf "$1/.hfshare/links"; exec "$2" audit "$1" --group "$3" --quiet' sh "$k" "$hf" "$group"
    for f in text jsonl prometheus; do
        c_u=("$hf" audit "$u" --group "$group" --format "$f")
        c_k=("${known_etc[@]}" "$hf" audit "$u" --group "$group" --format "$f")
        interleave 3 "$shape/u-$f" "0 1" c_u "$shape/k-$f" "0 1" c_k
    done
    r_af=$(ratio "${T[$shape/audit]}" "${T[$shape/find]}")
    r_jf=$(ratio "${T[$shape/audit-jsonl]}" "${T[$shape/find]}")
    r_ga=$(ratio "${T[$shape/getfacl]}" "${T[$shape/audit]}")
    r_ff=$(ratio "${T[$shape/audit-first]}" "${T[$shape/find]}")
    r_gf=$(ratio "${T[$shape/getfacl]}" "${T[$shape/audit-first]}")
    rss=$(( M[$shape/audit] > M[$shape/u-jsonl] ? M[$shape/audit] : M[$shape/u-jsonl] ))
    report+="
$shape: $desc
  find -printf $(printf '%6.2f' "${T[$shape/find]}") s   getfacl -R $(printf '%6.2f' "${T[$shape/getfacl]}") s   audit $(printf '%6.2f' "${T[$shape/audit]}") s   audit jsonl $(printf '%6.2f' "${T[$shape/audit-jsonl]}") s
  audit/find        $(printf '%-6s' "$r_af") (<= 1.0)  $(verdict "$r_af" '<=' 1.0)
  audit jsonl/find  $(printf '%-6s' "$r_jf") (<= 1.0)  $(verdict "$r_jf" '<=' 1.0)
  getfacl/audit     $(printf '%-6s' "$r_ga") (>= 2.0)  $(verdict "$r_ga" '>=' 2.0)   (medians: audit/find $(ratio "${TM[$shape/audit]}" "${TM[$shape/find]}"), getfacl/audit $(ratio "${TM[$shape/getfacl]}" "${TM[$shape/audit]}"))
  peak RSS          $(printf '%-6s' "$rss") (< 64 MiB) $(verdict "$rss" '<' 64)
  first audit (no link index yet) $(printf '%6.2f' "${T[$shape/audit-first]}") s: audit/find $r_ff, getfacl/audit $r_gf (for information)"
    for f in text jsonl prometheus; do
        r=$(ratio "${T[$shape/u-$f]}" "${T[$shape/k-$f]}")
        report+="
  unknown/known $(printf '%-10s' "$f") $(printf '%-6s' "$r") (<= 1.10) $(verdict "$r" '<=' 1.10)"
    done
    if ((cold)); then
        cold_once 0 find "$k" -printf '%U %G %m %n\n'; cf=$wall
        cold_once "0 1" "$hf" audit "$k" --group "$group" --quiet; ca=$wall
        r=$(ratio "$ca" "$cf")
        rm -rf "$k/.hfshare/links"
        cold_once "0 1" "$hf" audit "$k" --group "$group" --quiet; cn=$wall
        report+="
  cold: find $cf s, audit $ca s: audit/find $r (<= 0.8) $(verdict "$r" '<=' 0.8)   (without the link index: audit $cn s, $(ratio "$cn" "$cf"))"
    fi
    rm -rf "$k" "$u"
done
if ((full)); then
    log "scale: 250k and 2.5M entries (many-small)"
    python3 "$here/gen_tree.py" "$work/s1" --entries 250000 --owners >/dev/null; init_tree "$work/s1"
    measure scale-250k "0 1" "$hf" audit "$work/s1" --group "$group" --quiet
    rm -rf "$work/s1"
    python3 "$here/gen_tree.py" "$work/s10" --entries 2500000 --owners >/dev/null; init_tree "$work/s10"
    measure scale-2500k "0 1" "$hf" audit "$work/s10" --group "$group" --quiet
    r=$(python3 -c "print(f'{${T[scale-2500k]} / (10 * ${T[scale-250k]}):.2f}')")
    report+="
scale: 250k $(printf '%.2f' "${T[scale-250k]}") s ${M[scale-250k]} MiB, 2.5M $(printf '%.2f' "${T[scale-2500k]}") s ${M[scale-2500k]} MiB
  time(2.5M) / (10 x time(250k)) $r (<= 1.15) $(verdict "$r" '<=' 1.15)   memory flat: $(verdict "${M[scale-2500k]}" '<=' "$(( M[scale-250k] * 5 / 4 + 4 ))")"
fi
echo "
bench shapes: $entries entries per tree, warm cache, best of 5 (3 for unknown/known pairs), interleaved, after 1 warm-up
       ($(nproc) cores, $(uname -r), hfshare $("$hf" --version), $(date -u +%FT%TZ))$report"
