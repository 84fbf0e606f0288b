/**
 * The guests the v86 source can boot, and where their files are served.
 *
 * URLs are relative to the site root: the floppy guests are committed under
 * guests/, the Linux guest and the BIOS are built into .cache/ by scripts
 * (see guests/README.md). The page and the CLI share this table; it has no
 * DOM or Node dependencies.
 */

/** How v86 gets the guest: a disk image, or a Linux kernel with an initrd. */
export type GuestKind = 'floppy' | 'hda' | 'cdrom' | 'kernel';

/** The catalogued guests. */
export type GuestName = 'graphics' | 'text' | 'linux';

/** One bootable guest. */
export interface GuestSpec {
  name: GuestName;
  /** Short human-readable name for menus. */
  title: string;
  kind: GuestKind;
  /** The disk image (kinds floppy, hda, cdrom). */
  url?: string;
  /** The kernel (kind kernel). */
  bzimageUrl?: string;
  /** The initramfs (kind kernel). */
  initrdUrl?: string;
  /** What the build wrote about the kernel guest (versions, sizes, cmdline). */
  manifestUrl?: string;
  /** Guest RAM in MiB. */
  memoryMB: number;
  /** Kernel command line (kind kernel). */
  cmdline?: string;
  /** Printed on the serial console (COM1) once the guest is ready, when it has one. */
  readyMarker?: string;
  /** The command that produces the files when they are not committed. */
  buildCommand?: string;
  description: string;
}

/** SeaBIOS and its VGA BIOS, put there by `npx tsx scripts/fetch-bios.ts`. */
export const BIOS_URLS = {
  bios: '/.cache/bios/bios.bin',
  vgaBios: '/.cache/bios/vgabios-stdvga.bin',
} as const;

/** Every guest, by name. */
export const GUEST_CATALOG: Readonly<Record<GuestName, GuestSpec>> = {
  graphics: {
    name: 'graphics',
    title: 'Graphics test guest',
    kind: 'floppy',
    url: '/guests/graphics.img',
    memoryMB: 32,
    description:
      'Boots into VBE 1024x768x32 and draws the input state: the last scancode as bit cells, ' +
      'key and mouse-packet counters, the mouse buttons and a crosshair at the pointer. ' +
      'Keys 1-4 switch to text 80x25, VGA 320x200x8, VBE 1024x768x32 and VBE 1920x1080x32. ' +
      'The picture depends only on the input.',
  },
  text: {
    name: 'text',
    title: 'Text-mode test guest',
    kind: 'floppy',
    url: '/guests/text.img',
    memoryMB: 32,
    description:
      'A fixed 80x25 text screen (attributes, blinking, all 256 characters) with the cursor ' +
      'at row 20, column 13; typed characters are echoed at the cursor.',
  },
  linux: {
    name: 'linux',
    title: 'Debian Linux (busybox)',
    kind: 'kernel',
    bzimageUrl: '/.cache/guests/linux/bzImage',
    initrdUrl: '/.cache/guests/linux/initrd.img',
    manifestUrl: '/.cache/guests/linux/manifest.json',
    // v86 loads the initrd at 64 MiB, so the guest needs more than that.
    memoryMB: 128,
    cmdline: 'console=ttyS0 console=tty1 quiet',
    readyMarker: 'SPICE-WEB-GUEST READY',
    buildCommand: 'npm run guest:linux',
    description:
      'A Debian i386 kernel with a busybox initramfs: bochs DRM gives a 1024x768 framebuffer ' +
      'console with a shell on tty1, and a second shell on the serial console.',
  },
};

/** The guests in menu order. */
export const GUESTS: readonly GuestSpec[] = [GUEST_CATALOG.graphics, GUEST_CATALOG.text, GUEST_CATALOG.linux];

/** Looks a guest up by name; throws listing the known names when there is none. */
export function getGuest(name: string): GuestSpec {
  const spec = Object.hasOwn(GUEST_CATALOG, name) ? GUEST_CATALOG[name as GuestName] : undefined;
  if (!spec) throw new Error(`unknown guest "${name}": expected one of ${GUESTS.map((g) => g.name).join(', ')}`);
  return spec;
}

/** Every file a guest needs (image, or kernel and initrd), BIOS excluded. */
export function guestFileUrls(spec: GuestSpec): string[] {
  return spec.kind === 'kernel'
    ? [spec.bzimageUrl, spec.initrdUrl].filter((u): u is string => u !== undefined)
    : spec.url !== undefined
      ? [spec.url]
      : [];
}
