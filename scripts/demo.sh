#!/usr/bin/env bash
# The main job on a throwaway tree: a demo group, a cache with legacy damage, hfshare init, audit,
# a user breaking it again, audit, repair, audit. Cleans up after itself; touches nothing in /etc.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root" >&2; exit 2; }
hfshare=${HFSHARE:-hfshare}
group=hfshare-demo
demo=$(mktemp -d /tmp/hfshare-demo.XXXXXX)
chmod 755 "$demo"
export HFSHARE_SYSCONFDIR=$demo/etc   # keep the throwaway root out of /etc/hfshare/roots
created_group=0
cleanup() { rm -rf "$demo"; [ $created_group = 1 ] && groupdel "$group" 2>/dev/null; true; }
trap cleanup EXIT
getent group "$group" >/dev/null || { groupadd "$group"; created_group=1; }

run() { echo; echo "\$ $*"; "$@" || echo "(exit $?)"; }
# An existing cache made the naive way: a 0600 blob, a 0644 lock, a dir with the wrong group.
mkdir -p "$demo/cache/hub/models--demo--tiny/blobs" "$demo/cache/hub/.locks/models--demo--tiny"
echo weights >"$demo/cache/hub/models--demo--tiny/blobs/0123abcd"
chmod 600 "$demo/cache/hub/models--demo--tiny/blobs/0123abcd"
touch "$demo/cache/hub/.locks/models--demo--tiny/0123abcd.lock"
commit=0123456789abcdef0123456789abcdef01234567   # a snapshot of the revision, as the client lays it out
mkdir -p "$demo/cache/hub/models--demo--tiny/snapshots/$commit" "$demo/cache/hub/models--demo--tiny/refs"
printf %s "$commit" >"$demo/cache/hub/models--demo--tiny/refs/main"
ln -s ../../blobs/0123abcd "$demo/cache/hub/models--demo--tiny/snapshots/$commit/model.safetensors"
run "$hfshare" audit "$demo/cache" --group "$group"
run "$hfshare" init "$demo/cache" --group "$group" --root-is-member --no-profile
run "$hfshare" audit "$demo/cache"
echo; echo "# somebody with umask 077 drops a private file and an old client leaves a lock..."
(umask 077; echo x >"$demo/cache/hub/models--demo--tiny/blobs/4567ef"; chmod 600 "$demo/cache/hub/models--demo--tiny/blobs/4567ef"; chgrp root "$demo/cache/hub/models--demo--tiny/blobs/4567ef"
    ln -s ../../blobs/4567ef "$demo/cache/hub/models--demo--tiny/snapshots/$commit/config.json")
run "$hfshare" audit "$demo/cache"
run "$hfshare" repair "$demo/cache"
run "$hfshare" audit "$demo/cache"
echo; echo "demo done: the tree and the group were throwaway and are removed now"
