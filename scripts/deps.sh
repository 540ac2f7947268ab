#!/usr/bin/env bash
# Debian packages hfshare needs to build, install and test. Idempotent; run as root.
set -euo pipefail
pkgs=(libacl1-dev acl attr pkg-config util-linux passwd libnss-extrausers man-db bash-completion python3-venv time e2fsprogs xfsprogs btrfs-progs fuse3 debootstrap lintian dpkg-dev)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "hfshare needs a Swift 6 toolchain on PATH (see https://www.swift.org/install/linux/)" >&2; exit 2; }
