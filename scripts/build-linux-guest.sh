#!/usr/bin/env bash
# Builds the Linux guest into .cache/guests/linux/: bzImage (a Debian i386
# "686" kernel), initrd.img (busybox-static plus the bochs DRM, input, virtio 9p
# and Sound Blaster 16 / OSS modules and a test sound file, gzip'd
# newc cpio) and manifest.json (versions, sizes, kernel command line).
#
# Everything comes from Debian packages fetched with `apt-get download` (the
# i386 architecture is added to dpkg if needed). The /init, inittab and shell
# profile of the initramfs are in scripts/linux-guest/. Re-running with the
# outputs present and built by the same recipe does nothing; FORCE=1 rebuilds,
# LINUX_PACKAGE=linux-image-<version>-686 picks a kernel package explicitly.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HELPERS="$ROOT/scripts/linux-guest"
OUT="$ROOT/.cache/guests/linux"
WORK="$ROOT/.cache/guests/linux-work"
CMDLINE="console=ttyS0 console=tty1 quiet"
MARKER="SPICE-WEB-GUEST READY"
MEMORY_MB=128   # v86 puts the initrd at 64 MiB

log() { echo "build-linux-guest: $*"; }
die() { echo "build-linux-guest: error: $*" >&2; exit 1; }

# The recipe hash ties the outputs to this script and its helper files.
RECIPE="$(cat "${BASH_SOURCE[0]}" "$HELPERS"/* | sha256sum | cut -c1-16)"
if [ -z "${FORCE:-}" ] && [ -s "$OUT/bzImage" ] && [ -s "$OUT/initrd.img" ] && [ -s "$OUT/manifest.json" ] &&
  grep -q "\"recipe\": \"$RECIPE\"" "$OUT/manifest.json"; then
  log "up to date: $OUT (FORCE=1 rebuilds)"
  exit 0
fi

for tool in apt-get apt-cache dpkg dpkg-deb cpio gzip xz zstd sha256sum find sort; do
  command -v "$tool" >/dev/null || die "expected the '$tool' command; run scripts/setup-system.sh (Debian 12 with apt)"
done
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "expected to run as root or with sudo (apt-get update, dpkg --add-architecture)"
  SUDO="sudo"
fi

# --- apt: i386 packages --------------------------------------------------------
has_i386_lists() {
  # Captured first: with pipefail, grep -q closing the pipe early would fail the test.
  local policy
  policy="$(apt-cache policy busybox-static:i386 2>/dev/null || true)"
  grep -q 'Candidate: [^(]' <<<"$policy"
}
if ! dpkg --print-foreign-architectures | grep -qx i386; then
  log "adding the i386 architecture to dpkg"
  $SUDO dpkg --add-architecture i386
fi
if ! has_i386_lists; then
  log "apt-get update (for the i386 package lists)"
  # One i386 list may fail to update once the architecture is new; that is harmless.
  $SUDO apt-get update || log "apt-get update reported an error; continuing"
  has_i386_lists || die "apt has no i386 package lists after apt-get update (expected busybox-static:i386 to be available)"
fi

KPKG="${LINUX_PACKAGE:-}"
if [ -z "$KPKG" ]; then
  # Newest non-PAE 686 kernel image (e.g. linux-image-6.1.0-28-686); PAE and
  # unsigned/dbg variants do not match the pattern.
  KPKG="$(apt-cache search --names-only '^linux-image-[0-9][0-9.]*-[0-9]+-686$' | awk '{print $1}' | sort -V | tail -n1 || true)"
fi
[ -n "$KPKG" ] || die "no linux-image-<version>-686 package in the apt lists (expected one for i386, e.g. linux-image-6.1.0-28-686)"
KVER="${KPKG#linux-image-}"
log "kernel package: $KPKG"

# --- download and unpack ---------------------------------------------------------
DEBS="$WORK/debs"
mkdir -p "$DEBS"
fetch() { # package name, deb file glob -> path of the .deb (progress on stderr)
  local found
  found="$(find "$DEBS" -maxdepth 1 -name "$2" | sort -V | tail -n1)"
  if [ -z "$found" ]; then
    log "downloading $1" >&2
    (cd "$DEBS" && apt-get download "$1:i386") >&2 || die "apt-get download $1:i386 failed"
    found="$(find "$DEBS" -maxdepth 1 -name "$2" | sort -V | tail -n1)"
    [ -n "$found" ] || die "apt-get download $1:i386 produced no file matching $2 in $DEBS"
  else
    log "using cached $(basename "$found")" >&2
  fi
  echo "$found"
}
KDEB="$(fetch "$KPKG" "${KPKG}_*_i386.deb")"
BDEB="$(fetch busybox-static "busybox-static_*_i386.deb")"

rm -rf "$WORK/kernel" "$WORK/busybox" "$WORK/initramfs"
log "unpacking $(basename "$KDEB")"
dpkg-deb -x "$KDEB" "$WORK/kernel"
dpkg-deb -x "$BDEB" "$WORK/busybox"

VMLINUZ="$WORK/kernel/boot/vmlinuz-$KVER"
CONFIG="$WORK/kernel/boot/config-$KVER"
[ -s "$VMLINUZ" ] || die "expected boot/vmlinuz-$KVER in $(basename "$KDEB"), it is not there"
[ -s "$CONFIG" ] || die "expected boot/config-$KVER in $(basename "$KDEB"), it is not there"
MODDIR=""
for d in "$WORK/kernel/lib/modules/$KVER" "$WORK/kernel/usr/lib/modules/$KVER"; do
  [ -d "$d/kernel" ] && MODDIR="$d"
done
[ -n "$MODDIR" ] || die "expected lib/modules/$KVER/kernel/ in $(basename "$KDEB"), it is not there"
BUSYBOX="$WORK/busybox/bin/busybox"
[ -x "$BUSYBOX" ] || die "expected bin/busybox in $(basename "$BDEB"), it is not there"

config_value() { # CONFIG_X -> y / m / "" (not set)
  sed -n "s/^$1=//p" "$CONFIG" | head -n1
}

# --- modules ------------------------------------------------------------------
# The package has no modules.dep (depmod makes it at install time, and this
# host need not have kmod), so dependencies come from each module's .modinfo
# "depends=" entry, the same data depmod uses.
declare -A BYNAME=() SEEN=()
while IFS= read -r -d '' f; do
  name="$(basename "$f")"
  name="${name%%.ko*}"
  BYNAME["${name//-/_}"]="${f#"$MODDIR"/}"
done < <(find "$MODDIR/kernel" -name '*.ko*' -print0)
[ "${#BYNAME[@]}" -gt 0 ] || die "no kernel modules under $MODDIR/kernel"

module_bytes() { # path relative to MODDIR -> the uncompressed module on stdout
  case "$1" in
    *.ko.xz) xz -dc "$MODDIR/$1" ;;
    *.ko.zst) zstd -qdc "$MODDIR/$1" ;;
    *.ko.gz) gzip -dc "$MODDIR/$1" ;;
    *.ko) cat "$MODDIR/$1" ;;
    *) die "unexpected module file name $1" ;;
  esac
}
module_depends() { # path -> names of the modules it needs, space separated
  # awk reads everything (no early exit), so no SIGPIPE upsets pipefail.
  module_bytes "$1" | tr '\0' '\n' | awk -F= '$1 == "depends" && !done { print $2; done = 1 }' | tr ',' ' '
}

ORDER=()
add_module() { # module path; dependencies first
  local path="$1" dep deps
  [ -n "${SEEN[$path]:-}" ] && return
  SEEN["$path"]=1
  deps="$(module_depends "$path")"
  for dep in $deps; do
    [ -n "${BYNAME[${dep//-/_}]:-}" ] || die "$(basename "$path") depends on $dep, which is not in the package"
    add_module "${BYNAME[${dep//-/_}]}"
  done
  ORDER+=("$path")
}
want_module() { # module name, CONFIG symbol[, optional]: added when the kernel builds it as a module
  local value
  value="$(config_value "$2")"
  case "$value" in
    y) log "  $1: built into the kernel ($2=y)" ;;
    m)
      [ -n "${BYNAME[${1//-/_}]:-}" ] || die "$2=m but the package has no $1 module"
      add_module "${BYNAME[${1//-/_}]}"
      ;;
    *)
      [ "${3:-}" = optional ] || die "the kernel has no $1 ($2 is not set); it cannot drive v86's display"
      log "  $1: not available ($2 unset)"
      ;;
  esac
}
log "resolving module dependencies"
# bochs: the DRM driver of the Bochs/QEMU standard VGA that v86 emulates
# (called bochs-drm before Linux 5.x).
if [ -n "$(config_value CONFIG_DRM_BOCHS)" ]; then
  if [ -n "${BYNAME[bochs]:-}" ]; then want_module bochs CONFIG_DRM_BOCHS; else want_module bochs_drm CONFIG_DRM_BOCHS; fi
else
  die "the kernel has no bochs DRM driver (CONFIG_DRM_BOCHS is not set)"
fi
want_module psmouse CONFIG_MOUSE_PS2 optional       # PS/2 mouse, including its vmmouse protocol
want_module atkbd CONFIG_KEYBOARD_ATKBD optional    # PS/2 keyboard
want_module evdev CONFIG_INPUT_EVDEV optional       # /dev/input/event*
want_module mousedev CONFIG_INPUT_MOUSEDEV optional # /dev/input/mice
# v86's 9p filesystem (a virtio PCI device, mount tag host9p): files clients
# drop onto their window appear in /mnt/host. virtio_pci first: nothing
# depends on it, but it must probe the device before 9pnet_virtio looks.
want_module virtio_pci CONFIG_VIRTIO_PCI optional
want_module 9pnet_virtio CONFIG_NET_9P_VIRTIO optional
want_module 9p CONFIG_9P_FS optional
# Sound: v86's Sound Blaster 16 (ISA, not PnP: 220h, IRQ 5, DMA 1 and 5) and ALSA's
# OSS emulation, so `cat FILE >/dev/dsp` plays (8-bit unsigned mono 8 kHz by default).
want_module snd-sb16 CONFIG_SND_SB16 optional
want_module snd-pcm-oss CONFIG_SND_PCM_OSS optional
log "  load order: $(for p in "${ORDER[@]}"; do basename "$p"; done | tr '\n' ' ')"

# --- initramfs ----------------------------------------------------------------
IR="$WORK/initramfs"
mkdir -p "$IR"/{bin,sbin,etc,proc,sys,dev,tmp,root,usr/bin,usr/sbin,lib/modules}
cp "$BUSYBOX" "$IR/bin/busybox"
ln -s busybox "$IR/bin/sh"
install -m 0755 "$HELPERS/init" "$IR/init"
install -m 0755 "$HELPERS/rc.ready" "$IR/etc/rc.ready"
install -m 0644 "$HELPERS/inittab" "$IR/etc/inittab"
install -m 0644 "$HELPERS/profile" "$IR/etc/profile"
install -m 0755 "$HELPERS/spice-clip" "$IR/bin/spice-clip"
: >"$IR/etc/modules"
MODULE_NAMES=()
for path in "${ORDER[@]}"; do
  name="$(basename "$path")"
  plain="${name%%.ko*}.ko"
  module_bytes "$path" >"$IR/lib/modules/$plain"
  case "$plain" in
    # Its resources by hand: v86's card answers at fixed places, not through ISA PnP.
    snd-sb16.ko) echo "$plain isapnp=0 port=0x220 irq=5 dma8=1 dma16=5" >>"$IR/etc/modules" ;;
    *) echo "$plain" >>"$IR/etc/modules" ;;
  esac
  MODULE_NAMES+=("$plain")
done

# A file to play: 3 s of a 1000 Hz sine in /dev/dsp's default format (u8, mono, 8000 Hz).
mkdir -p "$IR/usr/share/sounds"
LC_ALL=C awk 'BEGIN { for (i = 0; i < 24000; i++) printf "%c", 128 + int(100 * sin(2 * 3.14159265358979 * 1000 * i / 8000)) }' \
  >"$IR/usr/share/sounds/tone-1000hz.u8"
[ "$(stat -c %s "$IR/usr/share/sounds/tone-1000hz.u8")" = 24000 ] || die "expected 24000 bytes of test sound, awk wrote another size"

log "packing initrd.img"
mkdir -p "$OUT"
# Fixed timestamps, owners and order: the same inputs give the same initrd.
find "$IR" -exec touch -h -d @0 {} +
(cd "$IR" && find . -print0 | LC_ALL=C sort -z | cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) |
  gzip -9 -n >"$OUT/initrd.img.tmp"
mv "$OUT/initrd.img.tmp" "$OUT/initrd.img"
cp "$VMLINUZ" "$OUT/bzImage.tmp"
mv "$OUT/bzImage.tmp" "$OUT/bzImage"

# --- manifest -----------------------------------------------------------------
deb_version() { dpkg-deb -f "$1" Version; }
size_of() { stat -c %s "$1"; }
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
json_list() { local first=1 x; printf '['; for x in "$@"; do [ $first = 1 ] || printf ', '; first=0; printf '"%s"' "$x"; done; printf ']'; }
cat >"$OUT/manifest.json.tmp" <<EOF
{
  "name": "linux",
  "recipe": "$RECIPE",
  "kernelPackage": "$KPKG",
  "kernelPackageVersion": "$(deb_version "$KDEB")",
  "kernelVersion": "$KVER",
  "busyboxPackageVersion": "$(deb_version "$BDEB")",
  "cmdline": "$CMDLINE",
  "memoryMB": $MEMORY_MB,
  "readyMarker": "$MARKER",
  "files": {
    "bzImage": { "size": $(size_of "$OUT/bzImage"), "sha256": "$(sha_of "$OUT/bzImage")" },
    "initrd.img": { "size": $(size_of "$OUT/initrd.img"), "sha256": "$(sha_of "$OUT/initrd.img")" }
  },
  "modules": $(json_list "${MODULE_NAMES[@]}"),
  "kernelConfig": {
    "DRM_BOCHS": "$(config_value CONFIG_DRM_BOCHS)",
    "FRAMEBUFFER_CONSOLE": "$(config_value CONFIG_FRAMEBUFFER_CONSOLE)",
    "SERIO_I8042": "$(config_value CONFIG_SERIO_I8042)",
    "KEYBOARD_ATKBD": "$(config_value CONFIG_KEYBOARD_ATKBD)",
    "MOUSE_PS2": "$(config_value CONFIG_MOUSE_PS2)",
    "MOUSE_PS2_VMMOUSE": "$(config_value CONFIG_MOUSE_PS2_VMMOUSE)",
    "SERIAL_8250_CONSOLE": "$(config_value CONFIG_SERIAL_8250_CONSOLE)",
    "NET_9P_VIRTIO": "$(config_value CONFIG_NET_9P_VIRTIO)",
    "9P_FS": "$(config_value CONFIG_9P_FS)",
    "SND_SB16": "$(config_value CONFIG_SND_SB16)",
    "SND_PCM_OSS": "$(config_value CONFIG_SND_PCM_OSS)"
  }
}
EOF
mv "$OUT/manifest.json.tmp" "$OUT/manifest.json"
rm -rf "$WORK/kernel" "$WORK/busybox" "$WORK/initramfs"
log "done: $OUT/bzImage ($(size_of "$OUT/bzImage") bytes), $OUT/initrd.img ($(size_of "$OUT/initrd.img") bytes), manifest.json"
