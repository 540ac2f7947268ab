#!/usr/bin/env bash
# Installs hfshare (binary, man pages, bash/zsh/fish completions, systemd timer, cron example) as root.
#   bash scripts/install.sh          install
#   bash scripts/install.sh --demo   install, then run init + audit + repair on a throwaway demo tree
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root (sudo bash scripts/install.sh)" >&2; exit 2; }
bash scripts/deps.sh
PREFIX=${PREFIX:-/usr/local}
swift build -c release --product hfshare
bin=$(swift build -c release --show-bin-path)/hfshare
install -Dm755 "$bin" "$PREFIX/bin/hfshare"
install -d "$PREFIX/share/man/man1"
install -m644 man/*.1 "$PREFIX/share/man/man1/"
install -Dm644 completions/hfshare.bash /usr/share/bash-completion/completions/hfshare
install -Dm644 completions/_hfshare /usr/share/zsh/vendor-completions/_hfshare
install -Dm644 completions/hfshare.fish /usr/share/fish/vendor_completions.d/hfshare.fish
install -Dm644 dist/hfshare-audit.service /etc/systemd/system/hfshare-audit.service
install -Dm644 dist/hfshare-audit.timer /etc/systemd/system/hfshare-audit.timer
install -Dm644 dist/hfshare-repair.service /etc/systemd/system/hfshare-repair.service   # enabled by: hfshare init --enable-timer
install -Dm644 dist/hfshare-repair.timer /etc/systemd/system/hfshare-repair.timer
install -Dm644 dist/hfshare-prune.service /etc/systemd/system/hfshare-prune.service     # not enabled: systemctl enable --now hfshare-prune.timer
install -Dm644 dist/hfshare-prune.timer /etc/systemd/system/hfshare-prune.timer
install -Dm644 dist/hfshare.cron /usr/share/doc/hfshare/examples/hfshare.cron
command -v mandb >/dev/null && mandb -q 2>/dev/null || true
echo "installed $PREFIX/bin/hfshare ($("$PREFIX/bin/hfshare" --version)), man pages, completions, systemd units"
[ "${1:-}" = "--demo" ] && exec bash scripts/demo.sh
exit 0
