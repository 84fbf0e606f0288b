/**
 * The source spec of a v86 VM, from its images or a built-in guest's name:
 * what the demo page's query string, the `<spice-server>` element and
 * embedders all need, checked before a VM is started (the BIOS and guest
 * files exist, the memory is sane), so a missing file is a clear error
 * saying what to run rather than a VM that never boots.
 */
import type { GuestImage } from '../sources/v86/v86-api.ts';
import { BIOS_URLS, getGuest, guestFileUrls } from '../sources/v86/guest-catalog.ts';
import type { SourceSpec } from './session-host.ts';

/** Where `npm run bios` puts Debian's SeaBIOS (never committed). */
export const DEFAULT_BIOS_URL = BIOS_URLS.bios;
export const DEFAULT_VGA_BIOS_URL = BIOS_URLS.vgaBios;

/** A VM's file is not there: says what to run. */
export class MissingFileError extends Error {
  constructor(
    readonly url: string,
    readonly fix: string,
  ) {
    super(`${url} is not there. ${fix}`);
    this.name = 'MissingFileError';
  }
}

export type V86ImageSlot = 'fda' | 'hda' | 'cdrom' | 'bzimage' | 'initrd';

export interface V86SpecOptions {
  images?: Partial<Record<V86ImageSlot, GuestImage>>;
  /** Default 64, at least 128 with a kernel (v86 puts the initrd at 64 MiB). */
  memoryMB?: number;
  cmdline?: string;
  bios?: string;
  vgaBios?: string;
  /** Clients hear the VM's Sound Blaster 16. */
  sound?: boolean;
}

/** v86 puts the initrd at 64 MiB, so a kernel guest needs at least this much. */
const KERNEL_MIN_MEMORY_MB = 128;

async function mustExist(url: string, fix: string): Promise<void> {
  const res = await fetch(url, { method: 'HEAD' });
  if (!res.ok) throw new MissingFileError(url, fix);
}

/** A v86 VM's spec (no images: the BIOS alone); throws MissingFileError or a RangeError saying what was wrong. */
export async function v86SourceSpec(o: V86SpecOptions = {}): Promise<SourceSpec> {
  const images = o.images ?? {};
  const memoryMB = o.memoryMB ?? (images.bzimage ? KERNEL_MIN_MEMORY_MB : 64);
  if (!Number.isInteger(memoryMB) || memoryMB < 16 || memoryMB > 2048) {
    throw new RangeError(`memory: expected a whole number of MiB from 16 to 2048, got "${o.memoryMB}"`);
  }
  const bios = o.bios ?? DEFAULT_BIOS_URL;
  const vgaBios = o.vgaBios ?? DEFAULT_VGA_BIOS_URL;
  const biosFix = 'Run `npm run bios` (it copies Debian\'s SeaBIOS into .cache/bios) and reload.';
  await mustExist(bios, biosFix);
  await mustExist(vgaBios, biosFix);
  return {
    kind: 'v86',
    // Kernel guests (the Linux guest) mount the 9p share where dropped files land and have spice-clip on COM2.
    vm: { bios: { url: bios }, vgaBios: { url: vgaBios }, ...images, cmdline: o.cmdline, memoryMB, ...(images.bzimage ? { sharedFolder: true, guestClipboard: true } : {}) },
    ...(o.sound && { sound: true }),
  };
}

/** A built-in guest (graphics, text, linux: see guest-catalog.ts) as a spec, with its title. */
export async function catalogGuestSpec(
  name: string,
  o: Omit<V86SpecOptions, 'images'> = {},
): Promise<{ spec: SourceSpec; title: string }> {
  const g = getGuest(name);
  const fix = g.buildCommand ? `Build it first with \`${g.buildCommand}\`, then reload.` : 'The built-in guest images are committed in guests/.';
  for (const url of guestFileUrls(g)) await mustExist(url, fix);
  const images: V86SpecOptions['images'] = {};
  if (g.kind === 'kernel') {
    images.bzimage = { url: g.bzimageUrl! };
    if (g.initrdUrl) images.initrd = { url: g.initrdUrl };
  } else images[g.kind === 'floppy' ? 'fda' : g.kind] = { url: g.url! };
  const spec = await v86SourceSpec({ ...o, images, memoryMB: o.memoryMB ?? (g.kind === 'kernel' ? Math.max(g.memoryMB, KERNEL_MIN_MEMORY_MB) : g.memoryMB), cmdline: o.cmdline ?? g.cmdline });
  return { spec, title: g.title };
}
