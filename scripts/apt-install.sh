#!/usr/bin/env bash
# Install, as root, the packages of the given lists (scripts/apt-packages*.txt)
# that are not installed yet; nothing is done when none is missing, and nothing
# is ever removed (--no-remove: apt fails instead).
# Usage: scripts/apt-install.sh LIST...   Env: PODRT_SKIP_APT=1 skips it all.
set -euo pipefail

if [ "${PODRT_SKIP_APT:-0}" = 1 ]; then
    echo "apt-install: PODRT_SKIP_APT=1, skipping apt"
    exit 0
fi
# Package names (comments and blank lines stripped).
mapfile -t pkgs < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$@" | tr -d ' \t')
# dpkg-query, not apt, so a fully provisioned machine needs no network.
missing=()
for p in "${pkgs[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "apt-install: all packages of $* already installed"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing packages (${missing[*]}); run $0 $* as root" >&2
    exit 1
fi
echo "apt-install: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
inst=(apt-get install -y -q --no-install-recommends --no-remove)

# A package apt can only install by removing another goes to a second round.
# Example: the Debian image's qemu-utils comes from bookworm-backports and
# Breaks bookworm's qemu-system-common, which qemu-system-x86 needs.
plain=() other=()
for p in "${missing[@]}"; do
    if "${inst[@]}" -s "$p" >/dev/null 2>&1; then plain+=("$p"); else other+=("$p"); fi
done
[ "${#plain[@]}" -eq 0 ] || "${inst[@]}" "${plain[@]}"
if [ "${#other[@]}" -eq 0 ]; then exit 0; fi

# Second round: the same packages from backports, as the installed ones are
# (qemu-system-x86 then matches qemu-utils). Through a private source list and
# lists dir, seeded from the host's, so the host's apt setup stays as it is.
. /etc/os-release
bpo="${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}-backports"
echo "apt-install: ${other[*]} cannot be installed without removing a package; trying $bpo"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp -a /var/lib/apt/lists "$tmp/lists"
{ cat /etc/apt/sources.list 2>/dev/null || true
  echo "deb http://deb.debian.org/debian $bpo main"; } > "$tmp/sources.list"
o=(-o Dir::Etc::sourcelist="$tmp/sources.list" -o Dir::State::lists="$tmp/lists" -o APT::Sandbox::User=root)
apt-get "${o[@]}" update -q
if ! "${inst[@]}" "${o[@]}" -t "$bpo" "${other[@]}"; then
    echo "error: apt cannot install ${other[*]}, from $bpo either, without removing a package (see above); nothing was removed" >&2
    exit 1
fi
