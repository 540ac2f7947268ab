#!/usr/bin/env bash
# Issue #12: a member must never steer root. Each class of attack found against 0.1.0 is performed here
# for real: a member account does it, root runs hfshare, and the check looks at what root did.
#
#   HFSHARE=/path/to/hfshare bash Tests/attacks/attacks.sh      (as root)
# Prints "ok - ..." / "not ok - ...", then "N passed, M failed"; exit 0 iff M == 0.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "attacks.sh: $*" >&2; exit 2; }
# shellcheck source=../e2e/lib.sh
source "$here/../e2e/lib.sh"
[[ $(id -u) == 0 ]] || die "must run as root"
[[ -x ${HFSHARE:-} ]] || die "set HFSHARE to the hfshare binary"
for tool in setpriv script flock python3; do command -v "$tool" >/dev/null || die "$tool is missing"; done

T=$(mktemp -d /var/tmp/hfattack.XXXXXX)
chmod 755 "$T"
export HFSHARE_SYSCONFDIR=$T/etc HFSHARE_PROFILE=$T/profile.d/hfshare.sh
G=hfatk$$ OTHER=hfatko$$ M=hfatkm$$ N=hfatkn$$
cleanup() {
    pkill -u "$M" 2>/dev/null || true
    remove_accounts "$M" "$N" -- "$G" "$OTHER" "$M" "$N"
    rm -f /tmp/hfshare-attack-pwned-$$
    remove_tmp
}
trap cleanup EXIT
accounts_lock
gid=$(free_id); groupadd -g "$gid" "$G"
ogid=$(free_id); groupadd -g "$ogid" "$OTHER"
uid=$(free_id); useradd -m -d "$T/home-m" -u "$uid" -G "$G" -s /bin/bash "$M"
nuid=$(free_id); useradd -M -d / -u "$nuid" -s /bin/sh "$N"   # not a member
accounts_unlock
R=$T/cache
"$HFSHARE" init "$R" --group "$G" -q
as_m() { setpriv --reuid="$M" --regid="$M" --init-groups --reset-env "$@"; }
as_n() { setpriv --reuid="$N" --regid="$N" --init-groups --reset-env "$@"; }

# 1. doctor --user: the user's startup files get no terminal, cannot hang doctor, cannot fake a result.
pwned=/tmp/hfshare-attack-pwned-$$
cat >"$T/home-m/.profile" <<PROFILE
echo PWNED-VIA-TTY > /dev/tty 2>/dev/null
python3 - <<'PY' 2>/dev/null
import fcntl, termios
fd = open("/dev/tty", "w")
for c in "touch $pwned\n":
    fcntl.ioctl(fd, termios.TIOCSTI, c)
PY
echo "ok   write-hub: faked by .profile"
echo "all checks passed"
sleep 300
PROFILE
chown "$M" "$T/home-m/.profile"
start=$(date +%s)
out=$(timeout 120 script -qec "$HFSHARE doctor $R --user $M --timeout 3" /dev/null </dev/null || true)
took=$(( $(date +%s) - start ))
check "doctor: .profile cannot write to root's terminal" bash -c '! grep -q PWNED-VIA-TTY <<<"$1"' _ "$out"
sleep 0.5
check "doctor: .profile cannot push input into root's terminal (TIOCSTI)" test ! -e "$pwned"
check "doctor: a .profile that sleeps is killed at the time limit ($took s)" test "$took" -lt 30
check "doctor: says the login shell timed out" grep -q "did not finish within 3 s" <<<"$out"
check "doctor: a faked result line is not a result" bash -c '! grep -q "faked by .profile" <<<"$1" && ! grep -q "^all checks passed" <<<"$1"' _ "$out"
check "doctor: nothing of the user's left running (zombies are dead)" bash -c "! ps -u $M -o stat=,comm= | grep -v '^Z' | grep -q sleep"
printf 'echo "ok   write-hub: faked"\necho "all checks passed"\n' >"$T/home-m/.profile"
out=$("$HFSHARE" doctor "$R" --user "$M" --format jsonl || true)
check "doctor: jsonl holds only root-checked results" bash -c '! grep -q faked <<<"$1" && grep -q "\"id\":\"write-hub\"" <<<"$1"' _ "$out"

# 2. ROOT/.hfshare: a member replaces it; root refuses (exit 2), changes nothing.
state_mode=$(stat -c %a "$R/.hfshare"); state_owner=$(stat -c %u "$R/.hfshare")
check "state dir is root's and not group-writable ($state_owner $state_mode)" test "$state_owner" = 0 -a $((8#$state_mode & 8#022)) = 0
check "a non-member cannot open repair.lock to block repair" bash -c "! setpriv --reuid=$N --regid=$N --clear-groups flock -n $R/.hfshare/repair.lock true 2>/dev/null"
check "a member cannot open repair.lock either" bash -c "! setpriv --reuid=$M --regid=$M --init-groups flock -n $R/.hfshare/repair.lock true 2>/dev/null"
touch "$R/hub/victim"; chgrp "$G" "$R/hub/victim"; chmod 664 "$R/hub/victim"
as_m bash -c "mv $R/.hfshare $R/.moved && mkdir $R/.hfshare && printf '{\"format\":1,\"group\":\"root\",\"gid\":0,\"other\":\"rx\",\"acl\":true,\"root_is_member\":false}' > $R/.hfshare/config.json && ln -s /etc/shadow $R/.hfshare/repair.owner"
set +e
aout=$("$HFSHARE" audit "$R" 2>&1); arc=$?
rout=$("$HFSHARE" repair "$R" 2>&1); rrc=$?
uout=$("$HFSHARE" user add "$N" "$R" 2>&1); urc=$?
set -e
check "audit refuses a member's .hfshare (exit 2, says why)" bash -c "[[ $arc == 2 ]] && grep -q 'not root' <<<\"\$1\"" _ "$aout"
check "repair refuses it (exit 2) and regroups nothing" bash -c "[[ $rrc == 2 ]] && [[ \$(stat -c %G $R/hub/victim) == $G ]]"
check "repair prints nothing of the file a planted repair.owner points at" bash -c '! grep -q "root:" <<<"$1"' _ "$rout"
check "user add refuses it and adds nobody to the planted group" bash -c "[[ $urc == 2 ]] && ! id -nG $N | grep -qw root"
rm -rf "$R/.hfshare"; mv "$R/.moved" "$R/.hfshare"
# root's record wins: a config that disagrees is a finding, never an instruction
python3 - "$R/.hfshare/config.json" "$OTHER" "$ogid" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["group"] = sys.argv[2]; c["gid"] = int(sys.argv[3])
open(sys.argv[1], "w").write(json.dumps(c))
PY
set +e; aout=$("$HFSHARE" audit "$R" 2>&1); set -e
check "a config.json that disagrees with /etc/hfshare/roots is a state-mismatch finding" grep -q "state-mismatch" <<<"$aout"
check "... and the recorded group is still the one checked (no wrong-group flood)" bash -c '! grep -q "dir-wrong-group" <<<"$1"' _ "$aout"
"$HFSHARE" init "$R" --group "$G" -q
check "init rewrites it from root's record" bash -c "! '$HFSHARE' audit '$R' | grep -q state-mismatch"
rm -f "$R/hub/victim"

# 3. names that are not UTF-8 hide nothing; every byte 1-255 in names survives walk, judge, act, report.
bad=$'\377'
as_m bash -c "umask 000; mkdir -m 2777 '$R/hub/$bad'; cd '$R/hub/$bad'; touch f; chmod 4777 f; mkfifo fifo; touch g; chmod 666 g"
as_m mkdir "$R/hub/bytes"
as_m python3 - "$R/hub/bytes" <<'PY'
import os, sys
d = sys.argv[1]
for b in range(1, 256):
    if b == 0x2F: continue
    p = os.path.join(d.encode(), b"n" + bytes([b]))
    fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o666); os.close(fd); os.chmod(p, 0o666)
PY
set +e; "$HFSHARE" audit "$R" --format jsonl >"$T/bytes.jsonl"; set -e
check "audit sees the 4777 file, the FIFO and the 0666 file under a \\377 dir" python3 - "$T/bytes.jsonl" "$R/hub/" <<'PY'
import json, sys, base64
seen = set()
for line in open(sys.argv[1]):
    o = json.loads(line)
    p = base64.b64decode(o["path_b64"]) if "path_b64" in o else o["path"].encode()
    seen.add((o["kind"], p))
d = sys.argv[2].encode() + b"\xff"
need = {("dir-world-writable", d), ("file-setid", d + b"/f"), ("file-world-writable", d + b"/f"), ("special-file", d + b"/fifo"), ("file-world-writable", d + b"/g")}
missing = need - seen
assert not missing, missing
PY
check "jsonl names all 254 byte names exactly (path_b64 where not plain)" python3 - "$T/bytes.jsonl" "$R/hub/bytes/" <<'PY'
import json, sys, base64
got = set()
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["kind"] != "file-world-writable": continue
    p = base64.b64decode(o["path_b64"]) if "path_b64" in o else o["path"].encode()
    if p.startswith(sys.argv[2].encode()): got.add(p[len(sys.argv[2]):])
want = {b"n" + bytes([b]) for b in range(1, 256) if b != 0x2F}
assert got == want, (len(got), sorted(want - got)[:5])
PY
set +e; "$HFSHARE" repair "$R" -q >/dev/null; set -e
check "repair fixed every one of them (mode and setuid)" bash -c "[[ \$(stat -c %a '$R/hub/$bad/f') == 77[05] ]] && [[ \$(stat -c %a '$R/hub/$bad') == 2775 ]] && ! find $R/hub/bytes -perm -o+w | grep -q ."
set +e; aout=$("$HFSHARE" audit "$R" --format jsonl); set -e
check "after repair only the FIFO is left (report-only)" bash -c '[[ $(grep -c . <<<"$1") == 1 ]] && grep -q special-file <<<"$1"' _ "$aout"
rm -f "$R/hub/$bad/fifo"

# 4. terminal escapes in names never reach the admin's terminal.
evil=$'g\e[31m\a\e]0;pwned\a\nall clean: 0 finding(s)'
as_m bash -c "umask 000; touch \"\$1\"; chmod 666 \"\$1\"" _ "$R/hub/$evil"
for cmd in audit repair namei-l namei; do
    set +e
    case $cmd in
    audit) out=$("$HFSHARE" audit "$R" 2>&1) ;;
    repair) out=$("$HFSHARE" repair --dry-run "$R" 2>&1) ;;
    namei-l) out=$("$HFSHARE" namei -l "$R/hub/$evil" 2>&1) ;;
    namei) out=$("$HFSHARE" namei "$R/hub/$evil" --group "$G" 2>&1) ;;
    esac
    set -e
    check "no ESC or BEL byte, no forged line in: hfshare $cmd" python3 -c '
import sys
s = sys.argv[1]
assert "\x1b" not in s and "\x07" not in s, repr(s[:200])
assert not any(l.startswith("all clean") for l in s.split("\n")), repr(s[:300])' "$out"
done
rm -f "$R/hub/$evil"

# 5. hard links made while repair runs never make root change a file outside ROOT.
mkdir -p "$T/outside"; chmod 755 "$T/outside"
echo secret >"$T/outside/O"; chmod 666 "$T/outside/O"
before=$(stat -c '%a %U %G' "$T/outside/O"); acl_before=$(getfacl -cp "$T/outside/O" 2>/dev/null)
as_m bash -c "for i in \$(seq 1 3000); do ln $T/outside/O $R/hub/l\$i 2>/dev/null; umask 077; : > $R/hub/own\$i; ln $R/hub/own\$i $T/home-m/out\$i 2>/dev/null; rm -f $R/hub/l\$((i-1)) $R/hub/own\$((i-1)) $T/home-m/out\$((i-1)); done" &
linker=$!
runs=0
while kill -0 $linker 2>/dev/null; do "$HFSHARE" repair "$R" -q >/dev/null 2>&1 || true; runs=$((runs + 1)); done
wait $linker || true
after=$(stat -c '%a %U %G' "$T/outside/O"); acl_after=$(getfacl -cp "$T/outside/O" 2>/dev/null)
check "outside file untouched after $runs repairs raced with 3000 links ($after)" test "$before" = "$after" -a "$acl_before" = "$acl_after"
check "and its bytes" grep -qx secret "$T/outside/O"
rm -f "$R"/hub/l* "$R"/hub/own* "$T"/home-m/out*
# ... and migrate never changes a file it finds hard-linked out (a private snapshot file linked to O)
priv=$T/home-m/.cache/huggingface/hub
commit=0123456789abcdef0123456789abcdef01234567
as_m bash -c "mkdir -p $priv/models--o--r/snapshots/$commit $priv/models--o--r/refs && printf $commit > $priv/models--o--r/refs/main && ln $T/outside/O $priv/models--o--r/snapshots/$commit/weights.bin"
before=$(stat -c '%a %U %G' "$T/outside/O")
set +e; mout=$("$HFSHARE" migrate "$priv" "$R" 2>&1); set -e
check "migrate leaves a hard-linked private file and the outside file alone ($(stat -c '%a %U %G' "$T/outside/O"))" \
    bash -c "[[ \"\$(stat -c '%a %U %G' '$T/outside/O')\" == '$before' ]] && grep -q 'hard links' <<<\"\$1\"" _ "$mout"
rm -rf "$priv" "$R/hub/models--o--r"

# 6. bad input an admin can type: exit 2, one line, nothing changed.
reg_before=$(md5sum <"$HFSHARE_SYSCONFDIR/roots")
mkdir -p "$T/cwd"; before_cwd=$(stat -c '%a %G' "$T/cwd")
bad_input() { # bad_input WHAT ARGS...: exit 2, a single line on stderr, registry unchanged
    local what=$1 rc err; shift
    set +e; err=$(cd "$T/cwd" && "$HFSHARE" "$@" 2>&1 >/dev/null); rc=$?; set -e
    check "refused ($rc): $what" bash -c "[[ $rc == 2 ]] && [[ \$(grep -c . <<<\"\$1\") == 1 ]] && [[ \$(md5sum <'$HFSHARE_SYSCONFDIR/roots') == '$reg_before' ]]" _ "$err"
}
bad_input 'init ""' init "" --group "$G"
bad_input 'init with a newline in ROOT' init $'/srv/a\nb' --group "$G"
bad_input 'init with a path longer than PATH_MAX' init "$T/$(printf 'x%.0s' $(seq 5000))" --group "$G"
bad_input 'init /' init / --group "$G"
bad_input "init in a user's home" init "$T/home-m/cache" --group "$G"
bad_input 'repair /etc' repair /etc --group "$G"
bad_input 'repair / --dry-run' repair / --group "$G" --dry-run
bad_input 'repair ROOT --group root' repair "$R" --group root
bad_input 'user add with another --group' user add "$N" --group "$OTHER" "$R"
bad_input 'migrate /etc' migrate /etc "$R"
bad_input '--stale-age -1s' audit "$R" --stale-age -1s
bad_input '--stale-age 1e400' audit "$R" --stale-age 1e400
bad_input 'init --group with $(...)' init "$T/c2" --group 'a$(touch /tmp/x)' --create-group
check "the current directory was not changed" test "$(stat -c '%a %G' "$T/cwd")" = "$before_cwd"
check "no cache was made in the home dir" test ! -e "$T/home-m/cache"

# 7. the profile snippet: every value quoted; sourcing it runs nothing.
check "profile snippet quotes the group and paths (sh -n, and sourcing it runs nothing)" bash -c "sh -n '$HFSHARE_PROFILE' && su -s /bin/sh $M -c '. $HFSHARE_PROFILE; test \"\$HF_HUB_CACHE\" = \"$R/hub\"'"

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
