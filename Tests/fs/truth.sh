#!/usr/bin/env bash
# What a filesystem really does, found with ordinary tools (mkdir/stat, setfacl/getfacl, flock(1),
# python's fcntl, ln, mv, chown) instead of hfshare's own code, so that ProbeTests can check every
# answer of 'hfshare probe' against it. Prints "check-id yes|no" lines, the ids of 'hfshare probe'.
#   truth.sh DIR GID [PEERDIR]   DIR: an empty scratch dir; PEERDIR: the same dir through another mount
# Lock checks run each attempt in a new process, 16 of them, like the probe: a "yes" needs all 16.
set -u
d=$1 g=$2 peer=${3:-}
tries=16
py=/usr/bin/python3
cd "$d" || exit 2
say() { echo "$1 $2"; }
yn() { if "$@"; then echo yes; else echo no; fi; }

# setgid inheritance
mkdir sg && chgrp "$g" sg && chmod 2770 sg && touch sg/f && mkdir sg/d
say setgid-group-file "$(yn test "$(stat -c %g sg/f)" = "$g")"
say setgid-group-dir "$(yn test "$(stat -c %g sg/d)" = "$g")"
say setgid-bit-dir "$(yn test -g sg/d)"

# ACLs
mkdir acl
say acl-access "$(yn sh -c "setfacl -m g:$g:rwx acl 2>/dev/null && getfacl -cpn acl 2>/dev/null | grep -q '^group:$g:rwx'")"
if setfacl -d -m "u::rwx,g::r-x,g:$g:rwx,m::rwx,o::---" acl 2>/dev/null; then
    (umask 022; touch acl/f; mkdir acl/d)
    say acl-default-file "$(yn sh -c "getfacl -cpn acl/f | grep -q '^group:$g:rwx'")"
    say acl-default-dir "$(yn sh -c "getfacl -cpnd acl/d | grep -q '^group:$g:rwx' && getfacl -cpn acl/d | grep -q '^group:$g:rwx'")"
else
    say acl-default-file no
    say acl-default-dir no
fi

# names
say symlink "$(yn sh -c 'ln -s tgt sl && test "$(readlink sl)" = tgt')"
say hardlink "$(yn sh -c 'touch h1 && ln h1 h2 && test "$(stat -c %h h1)" = 2')"
say o-tmpfile "$(yn "$py" -c 'import os,sys; os.close(os.open(".", os.O_TMPFILE | os.O_RDWR, 0o600))' 2>/dev/null)"
say rename-over "$(yn sh -c 'echo new >r1 && echo old >r2 && mv -T r1 r2 && test "$(cat r2)" = new && test ! -e r1')"
if [ "$(id -u)" = 0 ]; then
    say root-chown "$(yn sh -c "touch c && chown 65534:$g c 2>/dev/null && test \"\$(stat -c %u:%g c)\" = 65534:$g")"
fi

# locks: 16 separate processes each; "held" (exit 75 from flock -E 75) counts as a failure too
echo lock >lk
every() { # every CMD...: all $tries runs succeed
    local i
    for i in $(seq $tries); do "$@" 2>/dev/null || return 1; done
}
say flock-exclusive "$(yn every flock -n -x -E 75 lk true)"
say flock-shared "$(yn every flock -n -s -E 75 lk true)"
# lockf (F_SETLK): exit 0 taken, 75 held by another process, 1 any other error
lockf_once='import errno,fcntl,os,sys
fd=os.open(sys.argv[1], os.O_RDWR)
try: fcntl.lockf(fd, fcntl.LOCK_EX|fcntl.LOCK_NB)
except OSError as e: sys.exit(75 if e.errno in (errno.EAGAIN, errno.EACCES) else 1)'

# hold FILE API: a background process that holds the lock until "$d/release" exists; up to 16 tries.
hold() {
    local i
    rm -f "$d/held" "$d/release"
    for i in $(seq $tries); do
        if [ "$2" = flock ]; then
            flock -n -x "$1" sh -c "touch '$d/held'; while [ ! -e '$d/release' ]; do sleep 0.05; done" 2>/dev/null &
        else
            "$py" -c "$lockf_once"'
import time
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]): time.sleep(0.05)' "$1" "$d/held" "$d/release" 2>/dev/null &
        fi
        holder=$!
        while kill -0 $holder 2>/dev/null && [ ! -e "$d/held" ]; do sleep 0.02; done
        [ -e "$d/held" ] && return 0
        wait $holder
    done
    return 1
}
release() { touch "$d/release"; wait $holder 2>/dev/null; rm -f "$d/held" "$d/release"; }
# blocked FILE API: every one of 16 fresh processes finds the lock held (not taken, no error)
blocked() {
    local i rc
    for i in $(seq $tries); do
        if [ "$2" = flock ]; then flock -n -x -E 75 "$1" true 2>/dev/null; rc=$?
        else "$py" -c "$lockf_once" "$1" 2>/dev/null; rc=$?
        fi
        [ "$rc" = 75 ] || return 1
    done
}
contention() { # contention API TARGETFILE
    if hold lk "$1"; then
        if blocked "$2" "$1"; then echo yes; else echo no; fi
        release
    else
        echo no
    fi
}
say flock-nonblocking "$(contention flock lk)"
if every "$py" -c "$lockf_once" lk && [ "$(contention posix lk)" = yes ]; then say fcntl-lock yes; else say fcntl-lock no; fi

if [ -n "$peer" ]; then
    echo token >"$d/v"
    for i in $(seq 50); do [ "$(cat "$peer/v" 2>/dev/null)" = token ] && break; sleep 0.1; done
    say peer-visible "$(yn test "$(cat "$peer/v" 2>/dev/null)" = token)"
    if hold lk flock; then
        if blocked "$peer/lk" flock; then say peer-flock yes; else say peer-flock no; fi
        release
    fi
    if hold lk posix; then
        if blocked "$peer/lk" posix; then say peer-fcntl yes; else say peer-fcntl no; fi
        release
    fi
    mkdir "$peer/sg/from-peer"
    for i in $(seq 50); do [ -e sg/from-peer ] && break; sleep 0.1; done
    say peer-group "$(yn test "$(stat -c %u:%g sg/f)" = "$(stat -c %u:%g "$peer/sg/f")" -a "$(stat -c %u:%g sg/from-peer 2>/dev/null)" = "$(stat -c %u:%g "$peer/sg/from-peer")")"
fi
exit 0
