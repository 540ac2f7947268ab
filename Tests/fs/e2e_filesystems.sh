#!/usr/bin/env bash
# Issue #8: `hfshare init` + the real-client multi-user test (Tests/e2e/e2e_init.sh: two users,
# umask 022 and 077, download/read/delete with huggingface_hub) on each local filesystem, each
# loop-mounted (or mounted) here for the run: ext4, xfs, btrfs, tmpfs.
# JuiceFS is not in this list on purpose: 'hfshare probe' (ProbeTests) shows that JuiceFS 0.14.2
# fails flock/fcntl with EIO for about half the processes, and huggingface_hub's downloads then fail
# with OSError 5 whatever the permissions; see README "Filesystems".
#   HFSHARE=path/to/hfshare bash Tests/fs/e2e_filesystems.sh [ext4 xfs btrfs tmpfs]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${HFSHARE:?set HFSHARE to the hfshare binary}"
fss=("$@")
[ ${#fss[@]} -gt 0 ] || fss=(ext4 xfs btrfs tmpfs)
work=$(mktemp -d /var/tmp/hffs-e2e.XXXXXX)
chmod 755 "$work"
mnt=$work/mnt
cleanup() {
    mountpoint -q "$mnt" && umount "$mnt"
    rm -rf "$work"
}
trap cleanup EXIT

passed=() failed=()
for fs in "${fss[@]}"; do
    mkdir -p "$mnt"
    case $fs in
        tmpfs) mount -t tmpfs -o size=256m,mode=755 hfshare-e2e "$mnt" ;;
        ext4 | xfs | btrfs)
            truncate -s 400M "$work/$fs.img"
            case $fs in
                ext4) mkfs.ext4 -q -F "$work/$fs.img" ;;
                xfs) mkfs.xfs -q -f "$work/$fs.img" ;;
                btrfs) mkfs.btrfs -q -f "$work/$fs.img" >/dev/null ;;
            esac
            mount -o loop "$work/$fs.img" "$mnt"
            ;;
        *) echo "e2e_filesystems.sh: unknown filesystem $fs" >&2; exit 2 ;;
    esac
    chmod 755 "$mnt"
    echo "# $fs: $(findmnt -no FSTYPE,OPTIONS "$mnt")"
    if E2E_TMPDIR=$mnt bash "$here/../e2e/e2e_init.sh" >"$work/$fs.log" 2>&1; then
        passed+=("$fs")
        echo "ok - $fs: $(tail -n1 "$work/$fs.log")"
    else
        failed+=("$fs")
        echo "not ok - $fs: $(tail -n1 "$work/$fs.log")"
        grep -E '^not ok' "$work/$fs.log" | head -n 20 | sed 's/^/#   /'
    fi
    umount "$mnt"
    rm -f "$work/$fs.img"
done
echo "${#passed[@]} filesystems passed (${passed[*]:-}), ${#failed[@]} failed (${failed[*]:-})"
[ ${#failed[@]} -eq 0 ]
