#!/usr/bin/env bash
# Generates man/ and completions/ from the CLI definition (swift-argument-parser), never by hand.
#   scripts/gen-docs.sh          rewrite man/ and completions/
#   scripts/gen-docs.sh --check  fail if they are stale
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
[ "${1:-}" = "--check" ] && check=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/man" "$out/completions"

# A fixed date keeps the pages byte-stable, so the staleness check compares content only.
swift package plugin generate-manual --multi-page --date 2026-01-01 --configuration debug >/dev/null
src=.build/plugins/GenerateManual/outputs/hfshare
for page in "$src"/*.1; do
    base=$(basename "$page" .1)
    [ "$base" = hfshare.help ] && continue
    name=${base//./-}
    sed -e 's/\.Xr hfshare\.\([a-z]*\)/.Xr hfshare-\1/' -e '/\.Xr hfshare-help 1 ,/d' \
        -e 's/^\.Dt HFSHARE\.\([A-Z]*\)/.Dt HFSHARE-\1/' \
        -e ':x' -e 's/^\(\.Xr hfshare[a-z-]*\)\.\([a-z]\)/\1-\2/' -e 'tx' \
        -e ':y' -e 's/^\(\.Dt HFSHARE[A-Z-]*\)\.\([A-Z]\)/\1-\2/' -e 'ty' "$page" >"$out/man/$name.1"
done

bin=$(swift build --show-bin-path)/hfshare
"$bin" --generate-completion-script bash >"$out/completions/hfshare.bash"
"$bin" --generate-completion-script zsh >"$out/completions/_hfshare"
"$bin" --generate-completion-script fish >"$out/completions/hfshare.fish"

if [ $check = 1 ]; then
    if diff -ru man "$out/man" && diff -ru completions "$out/completions"; then
        echo "docs: man/ and completions/ are up to date"
    else
        echo "docs: man/ or completions/ are stale; run scripts/gen-docs.sh and commit" >&2
        exit 1
    fi
else
    rm -rf man completions
    cp -r "$out/man" man
    cp -r "$out/completions" completions
    echo "docs: wrote man/ ($(ls man | wc -l) pages) and completions/"
fi
