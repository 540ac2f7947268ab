#!/usr/bin/env bash
# Builds hfshare_<version>_<arch>.deb with dpkg-deb: a release binary with the Swift runtime linked in
# statically (the machine it is installed on needs no Swift), man pages, bash/zsh/fish completions,
# the systemd units of dist/ (pointing at /usr/bin/hfshare), the cron example, README and copyright.
# Depends: is computed by dpkg-shlibdeps from what the binary really links. lintian must report no
# error (it runs when installed; scripts/deps.sh installs it).
#
#   bash scripts/build-deb.sh [--out DIR]     (default DIR: .build-release/deb)
#
# The release build uses its own scratch path, .build-release, so it does not disturb the debug build.
# gzip, not xz: xz -6 takes 2 minutes on the 63 MB binary here (the static Foundation carries ICU data).
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build-release/deb
while (($#)); do
    case $1 in
    --out) out=$2; shift 2 ;;
    *) echo "usage: scripts/build-deb.sh [--out DIR]" >&2; exit 2 ;;
    esac
done
die() { echo "build-deb.sh: $*" >&2; exit 2; }
for tool in swift dpkg-deb dpkg-shlibdeps fakeroot gzip strip; do
    if [[ $tool == fakeroot ]]; then continue; fi # dpkg-deb --root-owner-group makes it unnecessary
    command -v "$tool" >/dev/null || die "$tool is missing (scripts/deps.sh installs the build tools)"
done

scratch=.build-release
swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product hfshare
bin=$(swift build -c release --static-swift-stdlib --scratch-path "$scratch" --show-bin-path)/hfshare
[[ -x $bin ]] || die "no binary at $bin"
if ldd "$bin" | grep -E 'libswift|libFoundation|libdispatch|libBlocksRuntime'; then
    die "$bin still links the Swift runtime dynamically (see above); it would not run without Swift"
fi

version=$("$bin" --version)
[[ $version =~ ^[0-9][0-9A-Za-z.+~-]*$ ]] || die "hfshare --version printed '$version', not a Debian version"
arch=$(dpkg --print-architecture)
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pkg=$work/pkg
doc=$pkg/usr/share/doc/hfshare

install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/share/man/man1" "$doc/examples" "$pkg/lib/systemd/system" \
    "$pkg/usr/share/bash-completion/completions" "$pkg/usr/share/zsh/vendor-completions" "$pkg/usr/share/fish/vendor_completions.d"
install -m 0755 "$bin" "$pkg/usr/bin/hfshare"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$pkg/usr/bin/hfshare"
for page in man/*.1; do
    install -m 0644 "$page" "$pkg/usr/share/man/man1/"
    gzip -9n "$pkg/usr/share/man/man1/$(basename "$page")"
done
# bash-completion sources the file: no #! line (lintian: bash-completion-with-hashbang)
sed "1{/^#!/d}" completions/hfshare.bash >"$pkg/usr/share/bash-completion/completions/hfshare"
chmod 0644 "$pkg/usr/share/bash-completion/completions/hfshare"
install -m 0644 completions/_hfshare "$pkg/usr/share/zsh/vendor-completions/_hfshare"
install -m 0644 completions/hfshare.fish "$pkg/usr/share/fish/vendor_completions.d/hfshare.fish"
# The units in dist/ name the binary scripts/install.sh puts in /usr/local/bin; the package's is in /usr/bin.
for unit in dist/*.service dist/*.timer; do
    sed 's|/usr/local/bin/hfshare|/usr/bin/hfshare|g' "$unit" >"$pkg/lib/systemd/system/$(basename "$unit")"
    chmod 0644 "$pkg/lib/systemd/system/$(basename "$unit")"
done
sed 's|/usr/local/bin/hfshare|/usr/bin/hfshare|g' dist/hfshare.cron >"$doc/examples/hfshare.cron"
chmod 0644 "$doc/examples/hfshare.cron"
install -m 0644 README.md "$doc/README.md"
gzip -9n "$doc/README.md"
install -m 0644 packaging/copyright "$doc/copyright"
date=$(git log -1 --format=%aD 2>/dev/null || date -R)
# The maintainer: HFSHARE_MAINTAINER, else the author of the project's first commit.
maintainer=${HFSHARE_MAINTAINER:-$(git log --max-parents=0 --format='%an <%ae>' 2>/dev/null | tail -n1)}
[[ $maintainer =~ ^[^\<]+\ \<[^@\>]+@[^\>]+\.[^\>]+\>$ ]] || die "no maintainer 'Name <mail@host.domain>' (set HFSHARE_MAINTAINER)"
cat >"$work/changelog" <<EOF
hfshare ($version) unstable; urgency=medium

  * Release $version, built from $(git rev-parse --short HEAD 2>/dev/null || echo "a source tree").

 -- $maintainer  $date
EOF
gzip -9nc "$work/changelog" >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

# Depends from the libraries the binary links: dpkg-shlibdeps reads the symbols/shlibs files of the
# packages that ship them (it wants a debian/control to read, so give it one in the work dir).
mkdir -p "$work/src/debian"
printf 'Source: hfshare\n\nPackage: hfshare\nArchitecture: any\n' >"$work/src/debian/control"
depends=$(cd "$work/src" && dpkg-shlibdeps -O "$pkg/usr/bin/hfshare" 2>"$work/shlibdeps.err" | sed -n 's/^shlibs:Depends=//p') ||
    { cat "$work/shlibdeps.err" >&2; die "dpkg-shlibdeps failed"; }
[[ -n $depends ]] || { cat "$work/shlibdeps.err" >&2; die "dpkg-shlibdeps found no dependencies"; }

size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s|@MAINTAINER@|$maintainer|" -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$depends/" -e "s/@SIZE@/$size/" packaging/control.in >"$pkg/DEBIAN/control"
(cd "$pkg" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/md5sums"
find "$pkg" -type d -exec chmod 0755 {} +

deb=$out/hfshare_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zgzip -z9 --build "$pkg" "$deb" >/dev/null
echo "built $deb ($(du -h "$deb" | cut -f1)), Depends: $depends"
if command -v lintian >/dev/null; then
    lintian --fail-on error "$deb" || die "lintian reports errors in $deb (above)"
    echo "lintian: no errors"
else
    echo "build-deb.sh: lintian is not installed: the package was NOT checked (apt-get install lintian)" >&2
fi
