# Shared by the e2e scripts (sourced after `here`, `T` and `die` are set): test accounts, the fake
# hub, and the ok/not-ok check they report with.

free_id() { # an id in 64000-64999 that is neither a uid nor a gid yet
    local id
    for ((id = 64000; id < 65000; id++)); do
        if ! getent passwd "$id" >/dev/null && ! getent group "$id" >/dev/null; then echo "$id"; return 0; fi
    done
    die "no free id in 64000-64999"
}

# The Swift tests take the same lock: "find a free id, then groupadd/useradd" and userdel/groupdel
# are atomic across concurrent test processes.
accounts_lock() { exec 9>/run/lock/hfshare-test-accounts.lock && flock 9; }
accounts_unlock() { flock -u 9; }

start_fakehub() { # copies client.py and the manifest into $T (other uids read them there); sets $url, $fakehub_pid
    install -m 0644 "$here/client.py" "$T/client.py"
    /usr/bin/python3 "$here/fakehub.py" --print-manifest >"$T/manifest.json"
    chmod 0644 "$T/manifest.json"
    /usr/bin/python3 "$here/fakehub.py" --port 0 >"$T/fakehub.out" 2>"$T/fakehub.err" &
    fakehub_pid=$!
    url=
    local _
    for _ in $(seq 100); do
        url=$(head -n1 "$T/fakehub.out")
        [[ -n $url ]] && break
        kill -0 "$fakehub_pid" 2>/dev/null || break
        sleep 0.1
    done
    [[ -n $url ]] || die "fakehub did not start: $(cat "$T/fakehub.err")"
}

stop_fakehub() {
    if [[ -n ${fakehub_pid:-} ]]; then kill "$fakehub_pid" 2>/dev/null || true; wait "$fakehub_pid" 2>/dev/null || true; fi
}

passed=0 failed=0
check() { # check WHAT CMD...: run CMD, report ok / not ok with the last line of its output
    local what=$1 out lines
    shift
    if out=$("$@" 2>&1); then
        echo "ok - $what"
        passed=$((passed + 1))
    else
        echo "not ok - $what: $(tail -n1 <<<"$out" | cut -c1-400)"
        failed=$((failed + 1))
    fi
    if [[ -n $out ]]; then mapfile -t lines <<<"$out" && printf '#   %s\n' "${lines[@]}"; fi
}

remove_accounts() { # remove_accounts USER... -- GROUP...: those that exist, under the accounts lock
    local users=() x
    while (($#)) && [[ $1 != -- ]]; do users+=("$1"); shift; done
    (($#)) && shift
    accounts_lock
    for x in "${users[@]}"; do if getent passwd "$x" >/dev/null; then userdel "$x" || true; fi; done
    for x in "$@"; do if getent group "$x" >/dev/null; then groupdel "$x" || true; fi; done
    accounts_unlock
}

remove_tmp() { # $T, unless E2E_KEEP is set (then say where it is)
    if [[ -n ${E2E_KEEP:-} ]]; then echo "# kept $T" >&2; else rm -rf "$T"; fi
}

# preflight TOOL...: what every e2e script checks first (root, $HFSHARE, the tools it runs); the
# script defines die() before sourcing this file.
preflight() {
    [[ $(id -u) == 0 ]] || die "must run as root (it creates users and groups)"
    [[ -x ${HFSHARE:-} ]] || die "set HFSHARE to the hfshare binary"
    local tool
    for tool in "$@"; do command -v "$tool" >/dev/null || die "$tool is missing"; done
}

# begin_accounts: the script's cleanup() runs on exit (INT/TERM exit 130), $T/home is made for the
# test accounts' homes, and the cross-process accounts lock is taken (free_id needs it).
begin_accounts() {
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    mkdir -m 0711 "$T/home"
    accounts_lock
}
