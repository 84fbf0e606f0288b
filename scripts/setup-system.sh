#!/usr/bin/env bash
# Installs the Debian packages the demo and the tests need (run as root, or it uses sudo).
# Chromium drives the page and spice-html5; spice-client-gtk (spicy, spicy-screenshot) and
# virt-viewer (remote-viewer) are the real native clients, python3-gi + gir1.2-spiceclientglib-2.0
# let tests drive spice-gtk; nasm builds the guest boot images; seabios is the VM BIOS;
# openssl makes the TLS tests' throw-away CA and iproute2 their network namespace; haproxy
# balances two relays in the many-relays test (deploy/haproxy.cfg).
set -uo pipefail

PACKAGES=(chromium spice-client-gtk virt-viewer xvfb xauth fonts-dejavu-core nasm seabios python3-gi gir1.2-spiceclientglib-2.0 cpio xdotool xclip openssl iproute2 haproxy)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-system: all packages present (${PACKAGES[*]})"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup-system: installing ${missing[*]}"
# apt-get update may report a passing error on one list (e.g. after adding i386); do not abort on it.
$SUDO apt-get update || echo "setup-system: apt-get update reported an error; continuing"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
