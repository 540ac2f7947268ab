#!/bin/bash
# Benchmark hfshare audit/repair against find, getfacl and a naive chgrp/chmod/setfacl repair.
#
# usage: sudo bench/run.sh [--entries N] [--bin PATH] [--keep] [--no-shapes] [--cold] [--full]
#   --no-shapes  skip the per-shape table (bench/shapes.sh: many-small, few-huge, deep, shared-store,
#                datasets); --cold and --full are passed to it (cold caches; the 2.5M scale run)
#   --entries N  entries per generated tree (default 250000; 20000 is a quick run, < 1 min)
#   --bin PATH   hfshare binary (default: the release build of this checkout,
#                `swift build -c release --product hfshare` first); copied into the work dir
#   --keep       keep the work dir and the temporary group (prints how to remove them)
#
# Runs as root on one machine, in one go:
#   1. a temporary group hfbench<gid> (gid free in 65100-65199) whose members are the system
#      users that own the "known" tree; trees made by bench/gen_tree.py under
#      /var/tmp/hfshare-bench.XXXX and made compliant by `hfshare init --root-is-member`
#      (HFSHARE_SYSCONFDIR points into the work dir: /etc is not touched);
#   2. find -printf, getfacl -R and hfshare audit on the known-owner tree;
#   3. hfshare audit on a tree of the same shape owned by uids without a passwd entry, and on that
#      same tree with those uids given passwd entries (private /etc in a mount namespace);
#   4. hfshare repair vs chgrp/chmod/find/setfacl on two identical all-wrong trees, then
#      an audit of the repaired tree (fixable findings must be 0).
# Read-only commands get one warm-up run, then 5 (or 3) rounds run interleaved with the commands
# they are compared with (lib.sh `interleave`); ratios use the best of those, and the medians are
# printed too (warm page cache: dropping it is not reliable here). Repairs change the tree, so they
# run once each, on a warm cache.
# Exit status is 0 even when a target is missed (this measures, it does not test); targets
# missed are printed as FAIL. Any other failure (hfshare crash, bad exit status) exits 1.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
entries=250000 bin="" keep=0 shapes=1 shape_flags=()
while (($#)); do
    case $1 in
        --entries) entries=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        --no-shapes) shapes=0; shift ;;
        --cold|--full) shape_flags+=("$1"); shift ;;
        -h|--help) sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done
[[ $entries =~ ^[0-9]+$ ]] || { echo "run.sh: --entries needs a number" >&2; exit 2; }
((EUID == 0)) || { echo "run.sh: run as root" >&2; exit 2; }
bin=${bin:-$here/../.build/release/hfshare}
[[ -x $bin ]] || { echo "run.sh: no hfshare at $bin; build it: swift build -c release --product hfshare" >&2; exit 2; }

work=$(mktemp -d /var/tmp/hfshare-bench.XXXX)
chmod 755 "$work"   # mktemp makes it 0700: members could not reach the roots (parent-not-traversable)
group=""
cleanup() {
    if ((keep)); then
        echo "kept: $work${group:+ and group $group} (remove: rm -rf $work${group:+; groupdel $group})"
    else
        rm -rf "$work"
        [[ -z $group ]] || groupdel "$group"
    fi
}
trap cleanup EXIT
cp "$bin" "$work/hfshare"   # a concurrent rebuild must not swap the binary mid-run
hf=$work/hfshare
export HFSHARE_SYSCONFDIR=$work/etc
mkdir -p "$HFSHARE_SYSCONFDIR"

for gid in $(seq 65100 65199); do getent group "$gid" >/dev/null || break; done
getent group "$gid" >/dev/null && { echo "run.sh: no free gid in 65100-65199" >&2; exit 1; }
group=hfbench$gid
groupadd -g "$gid" "$group"
gpasswd -M "$(python3 "$here/gen_tree.py" --list-owners)" "$group" >/dev/null


declare -A T M
# shellcheck source=lib.sh
source "$here/lib.sh"

# 1. trees. The known-owner tree must audit clean right after init: anything else is a bug.
init_tree() {  # DIR: init with --root-is-member; prints init's output on a bad exit status
    local rc=0
    "$hf" init "$1" --group "$group" --no-profile --root-is-member --quiet >"$work/init.out" 2>&1 || rc=$?
    if ((rc != 0)); then
        echo "run.sh: hfshare init $1 exited $rc:" >&2; head -n 40 "$work/init.out" >&2; exit 1
    fi
}
log "generating $entries entries (known owners) in $work/known"
shape=$(python3 "$here/gen_tree.py" "$work/known/" --entries "$entries" --owners)
log "tree: $shape; hfshare init"
init_tree "$work/known"
clean_rc=0; "$hf" audit "$work/known" --group "$group" >"$work/audit-known.txt" 2>&1 || clean_rc=$?
if ((clean_rc != 0)); then
    echo "MISBEHAVIOR: hfshare audit on the tree init just made exited $clean_rc (expected 0):" >&2
    head -n 40 "$work/audit-known.txt" >&2
fi
log "generating $entries entries (unknown owners) in $work/unknown; hfshare init"
python3 "$here/gen_tree.py" "$work/unknown" --entries "$entries" --unknown-owners >/dev/null
init_tree "$work/unknown"

# 2. + 3. read-only commands on a warm cache
c_find=(find "$work/known" -printf '%U %G %m %n\n')
c_getfacl=(getfacl -R -n -p "$work/known")
c_audit=("$hf" audit "$work/known" --group "$group" --quiet)
interleave 5 find 0 c_find getfacl 0 c_getfacl audit "0 1" c_audit
# The first audit of a tree has no link index yet (root's record of snapshot dirs): shown apart.
measure audit-first "0 1" sh -c 'rm -rf "$1/.hfshare/links"; exec "$2" audit "$1" --group "$3" --quiet' sh "$work/known" "$hf" "$group"
# The same tree with its owners known: uids 70000-70999 get passwd entries in a private copy of /etc
# (a mount namespace, so the real /etc is untouched). Every entry is then owner-not-member instead
# of owner-unknown-uid: the same number of findings, so the ratio is what unknown uids cost.
cp -a /etc "$work/etc-known"
python3 -c 'import sys
with open(sys.argv[1], "a") as f:
    for u in range(70000, 71000): f.write(f"hfbenchu{u}:x:{u}:{u}::/nonexistent:/usr/sbin/nologin\n")' "$work/etc-known/passwd"
# Every output format must cost unknown owners no more than known ones (issue #13): jsonl prints a line
# per finding, i.e. per entry here. Each pair runs interleaved.
known_etc=(unshare -m --propagation private sh -c 'mount --bind "$1" /etc && shift && exec "$@"' sh "$work/etc-known")
c_u_text=("$hf" audit "$work/unknown" --group "$group" --quiet)
c_k_text=("${known_etc[@]}" "${c_u_text[@]}")
interleave 3 audit-unknown "0 1" c_u_text audit-unknown-known "0 1" c_k_text
c_u_jsonl=("$hf" audit "$work/unknown" --group "$group" --format jsonl)
c_k_jsonl=("${known_etc[@]}" "${c_u_jsonl[@]}")
interleave 3 audit-unknown-jsonl "0 1" c_u_jsonl audit-unknown-known-jsonl "0 1" c_k_jsonl

# 4. repair vs naive, on two identical all-wrong trees (group root, 0644/0600, 0755, no ACLs)
log "generating two all-wrong trees for repair"
python3 "$here/gen_tree.py" "$work/repair1" --entries "$entries" --owners >/dev/null
cp -a "$work/repair1" "$work/repair2"
find "$work/repair1" "$work/repair2" >/dev/null   # warm both
run_once 0 "$hf" repair "$work/repair1" --group "$group" --quiet
T[repair]=$wall M[repair]=$((rss / 1024))
log "repair: $wall s, peak RSS ${M[repair]} MiB"
naive=0 steps=""
for step in "chgrp -R $group ." "chmod -R g+rwX,o-w ." "find . -type d -exec chmod g+s {} +" \
            "setfacl -R -m g:$group:rwX ." "setfacl -R -d -m g:$group:rwx ."; do
    run_once 0 bash -c "cd '$work/repair2' && $step"
    naive=$(python3 -c "print(f'{$naive + $wall:.3f}')")
    steps+="  $(printf '%-40s %6.2f s' "$step" "$wall")"$'\n'
done
T[naive]=$naive
log "naive: $naive s"
count() {  # DIR: "N findings, F fixable" from a jsonl audit
    local rc=0
    "$hf" audit "$1" --group "$group" --format jsonl >"$work/audit.jsonl" 2>"$work/stderr" || rc=$?
    ((rc <= 1)) || { echo "run.sh: hfshare audit $1 exited $rc:" >&2; cat "$work/stderr" >&2; exit 1; }
    echo "$(wc -l <"$work/audit.jsonl") findings, $(grep -c '"fixable":true' "$work/audit.jsonl" || true) fixable"
}
after_repair=$(count "$work/repair1")
after_naive=$(count "$work/repair2")
kinds_naive=$(python3 -c 'import collections,json,sys
c=collections.Counter(json.loads(l)["kind"] for l in open(sys.argv[1]))
print(", ".join(f"{k} {n}" for k,n in c.most_common()))' "$work/audit.jsonl")

# 5. summary
r_af=$(ratio "${T[audit]}" "${T[find]}")
r_ga=$(ratio "${T[getfacl]}" "${T[audit]}")
r_uk=$(ratio "${T[audit-unknown]}" "${T[audit-unknown-known]}")
r_ukj=$(ratio "${T[audit-unknown-jsonl]}" "${T[audit-unknown-known-jsonl]}")
r_jt=$(ratio "${T[audit-unknown-jsonl]}" "${T[audit-unknown]}")
r_nr=$(ratio "${T[naive]}" "${T[repair]}")
fixable_left=$(sed 's/.*, \([0-9]*\) fixable/\1/' <<<"$after_repair")
cat <<EOF

bench: $shape, warm cache, best of 5 (find, getfacl, audit) or 3 (unknown/known pairs), interleaved, after 1 warm-up
       ($(nproc) cores, $(uname -r), hfshare $("$hf" --version), $(date -u +%FT%TZ))
find -printf          $(printf '%6.2f' "${T[find]}") s
getfacl -R -n -p      $(printf '%6.2f' "${T[getfacl]}") s
hfshare audit         $(printf '%6.2f' "${T[audit]}") s   peak RSS ${M[audit]} MiB   (known owners; audit after init: exit $clean_rc)
hfshare audit         $(printf '%6.2f' "${T[audit-first]}") s   peak RSS ${M[audit-first]} MiB   (the same, first run: no link index yet; find/audit $(ratio "${T[find]}" "${T[audit-first]}"), getfacl/audit $(ratio "${T[getfacl]}" "${T[audit-first]}"))
hfshare audit         $(printf '%6.2f' "${T[audit-unknown]}") s   peak RSS ${M[audit-unknown]} MiB   (owners without passwd entry: a finding per entry)
hfshare audit         $(printf '%6.2f' "${T[audit-unknown-known]}") s   peak RSS ${M[audit-unknown-known]} MiB   (same tree, owners given passwd entries, not members)
hfshare repair        $(printf '%6.2f' "${T[repair]}") s   peak RSS ${M[repair]} MiB   (single run)
naive repair          $(printf '%6.2f' "${T[naive]}") s   (single run, sum of:)
$steps
audit/find            $(printf '%-6s' "$r_af") (target <= 1.0)  $(verdict "$r_af" '<=' 1.0)
getfacl/audit         $(printf '%-6s' "$r_ga") (target >= 2.0)  $(verdict "$r_ga" '>=' 2.0)   (medians: $(ratio "${TM[getfacl]}" "${TM[audit]}"); audit/find medians $(ratio "${TM[audit]}" "${TM[find]}"))
audit peak RSS        $(printf '%-6s' "${M[audit]}") (target < 64 MiB) $(verdict "${M[audit]}" '<' 64)
unknown/known uids    $(printf '%-6s' "$r_uk") (target <= 1.10) $(verdict "$r_uk" '<=' 1.10)
unknown/known jsonl   $(printf '%-6s' "$r_ukj") (target <= 1.10) $(verdict "$r_ukj" '<=' 1.10)
jsonl/text (unknown)  $(printf '%-6s' "$r_jt") (jsonl $(printf '%.2f' "${T[audit-unknown-jsonl]}") s, a line per entry; shown, no target)
naive/repair          $(printf '%-6s' "$r_nr") (target >= 2.0)  $(verdict "$r_nr" '>=' 2.0)
after repair: audit   $after_repair  $(verdict "$fixable_left" '==' 0)
after naive:  audit   $after_naive ($kinds_naive)
EOF
((shapes)) && bash "$here/shapes.sh" --entries "$entries" --bin "$bin" "${shape_flags[@]}"
exit 0
