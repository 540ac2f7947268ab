#!/usr/bin/env bash
# Issue #13: random ACLs on a few hundred entries, members really try; see access_property.py.
#   HFSHARE=/path/to/hfshare bash Tests/attacks/access_property.sh [--seed N] [--entries N]   (as root)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "access_property.sh: $*" >&2; exit 2; }
# shellcheck source=../e2e/lib.sh
source "$here/../e2e/lib.sh"
[[ $(id -u) == 0 ]] || die "must run as root"
[[ -x ${HFSHARE:-} ]] || die "set HFSHARE to the hfshare binary"
T=$(mktemp -d /var/tmp/hfprop.XXXXXX)
chmod 755 "$T"
export HFSHARE_SYSCONFDIR=$T/etc HFSHARE_PROFILE=$T/profile.sh
G=hfprg$$ O=hfpro$$ A=hfpra$$ B=hfprb$$ C=hfprc$$
trap 'remove_accounts "$A" "$B" "$C" -- "$G" "$O" "$A" "$B" "$C"; remove_tmp' EXIT
accounts_lock
groupadd -g "$(free_id)" "$G"; groupadd -g "$(free_id)" "$O"
for u in "$A" "$B" "$C"; do useradd -M -d / -u "$(free_id)" -G "$G,$O" -s /bin/sh "$u" 2>/dev/null; done
accounts_unlock
cp "$here/access_property.py" "$T/"; chmod 755 "$T/access_property.py"
"$HFSHARE" init "$T/cache" --group "$G" -q
python3 "$T/access_property.py" "$T/cache" "$HFSHARE" "$G" "$O" "$A" "$B" "$C" "$@"
