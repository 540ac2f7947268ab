#!/usr/bin/env bash
# Create (or reuse) the venv with the real huggingface_hub client used by the e2e tests, readable
# and executable by every uid. Prints the venv path. Debian's /usr/bin/python3 on purpose: a
# pyenv python under /root cannot be run by other users.
set -euo pipefail

venv=${HFSHARE_TEST_VENV:-/var/tmp/hfshare-test-venv}

die() { echo "venv.sh: $*" >&2; exit 1; }

if ! "$venv/bin/python" -c 'import huggingface_hub' 2>/dev/null; then
    [[ ! -e $venv || -f $venv/pyvenv.cfg ]] || die "$venv exists and is not a venv; not touching it"
    /usr/bin/python3 -m venv --clear "$venv" >&2 || die "cannot create venv $venv (apt-get install python3-venv?)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check huggingface_hub >&2 ||
        die "pip install huggingface_hub into $venv failed"
    "$venv/bin/python" -c 'import huggingface_hub' || die "huggingface_hub does not import in $venv"
fi
chmod -R a+rX "$venv"
echo "$venv"
