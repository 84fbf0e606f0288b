/**
 * Reads what to serve from the demo page's query string:
 * - `guest=NAME`: a built-in guest (graphics, text, linux);
 * - `image=ID`: an image the user loaded earlier (kept in IndexedDB);
 * - `fda=URL` | `hda=URL` | `cdrom=URL` | `bzimage=URL&initrd=URL&cmdline=…`: images by URL;
 * - `vm=bios`: the BIOS alone;
 * - nothing: the test pattern.
 * `memory=MB`, `bios=URL`, `vgabios=URL` adjust a VM.
 */
import type { SourceSpec } from '../host/session-host.ts';
import type { GuestImage } from '../sources/v86/v86-api.ts';
import { loadImage } from './persistence.ts';

/** Where `npm run bios` puts Debian's SeaBIOS (never committed). */
export const DEFAULT_BIOS_URL = '/.cache/bios/bios.bin';
export const DEFAULT_VGA_BIOS_URL = '/.cache/bios/vgabios-stdvga.bin';

/** The built-in guests. The Linux one is built by `npm run guest:linux` into .cache. */
export const GUESTS: Record<string, { title: string; images: Partial<Record<'fda' | 'bzimage' | 'initrd', string>>; memoryMB: number; cmdline?: string }> = {
  graphics: { title: 'Graphics demo guest', images: { fda: '/guests/graphics.img' }, memoryMB: 32 },
  text: { title: 'Text-mode demo guest', images: { fda: '/guests/text.img' }, memoryMB: 32 },
  linux: {
    title: 'Debian i386 Linux (busybox)',
    images: { bzimage: '/.cache/guests/linux/bzImage', initrd: '/.cache/guests/linux/initrd.img' },
    memoryMB: 256,
    cmdline: 'console=ttyS0 console=tty1',
  },
};

/** The page cannot boot a VM: says what to run. */
export class MissingFileError extends Error {
  constructor(
    readonly url: string,
    readonly fix: string,
  ) {
    super(`${url} is not there. ${fix}`);
    this.name = 'MissingFileError';
  }
}

export interface ResolvedSource {
  spec: SourceSpec;
  /** Identifies the source, e.g. for its saved-state slot. */
  key: string;
  title: string;
}

async function mustExist(url: string, fix: string): Promise<void> {
  const res = await fetch(url, { method: 'HEAD' });
  if (!res.ok) throw new MissingFileError(url, fix);
}

export async function resolveSource(params: URLSearchParams): Promise<ResolvedSource> {
  const images: Partial<Record<'fda' | 'hda' | 'cdrom' | 'bzimage' | 'initrd', GuestImage>> = {};
  for (const k of ['fda', 'hda', 'cdrom', 'bzimage', 'initrd'] as const) {
    const v = params.get(k);
    if (v) images[k] = { url: v };
  }
  let memoryMB = 64;
  let cmdline = params.get('cmdline') ?? undefined;
  let key = '';
  let title = '';
  const guest = params.get('guest');
  const imageId = params.get('image');
  if (guest) {
    const g = GUESTS[guest];
    if (!g) throw new Error(`guest: expected one of ${Object.keys(GUESTS).join(', ')}, got "${guest}"`);
    for (const [k, url] of Object.entries(g.images)) {
      const fix =
        guest === 'linux' ? 'Build the Linux guest first: npm run guest:linux' : 'The built-in guest images are in guests/; rebuild them with npm run guests';
      await mustExist(url, fix);
      images[k as 'fda'] = { url };
    }
    memoryMB = g.memoryMB;
    cmdline = cmdline ?? g.cmdline;
    key = `guest:${guest}`;
    title = g.title;
  } else if (imageId) {
    const stored = await loadImage(imageId);
    if (!stored) throw new Error(`image "${imageId}" is no longer stored in this browser; load it again`);
    images[stored.meta.kind] = { buffer: stored.bytes };
    key = `image:${imageId}`;
    title = stored.meta.name;
  } else if (Object.keys(images).length) {
    key = Object.entries(images)
      .map(([k, v]) => `${k}=${v.url}`)
      .join('&');
    title = Object.values(images)[0]!.url!;
  } else if (params.get('vm') === 'bios') {
    key = 'bios';
    title = 'SeaBIOS (no boot disk)';
  } else {
    return { spec: { kind: 'test-pattern' }, key: 'test-pattern', title: 'Test pattern' };
  }
  if (params.has('memory')) memoryMB = Number(params.get('memory'));
  else if (images.bzimage) memoryMB = Math.max(memoryMB, 128); // v86 puts the initrd at 64 MiB
  if (!Number.isInteger(memoryMB) || memoryMB < 16 || memoryMB > 2048) {
    throw new Error(`memory: expected a whole number of MiB from 16 to 2048, got "${params.get('memory')}"`);
  }
  const bios = params.get('bios') ?? DEFAULT_BIOS_URL;
  const vgaBios = params.get('vgabios') ?? DEFAULT_VGA_BIOS_URL;
  const biosFix = 'Run `npm run bios` (it copies Debian\'s SeaBIOS into .cache/bios) and reload.';
  await mustExist(bios, biosFix);
  await mustExist(vgaBios, biosFix);
  return {
    spec: { kind: 'v86', vm: { bios: { url: bios }, vgaBios: { url: vgaBios }, ...images, cmdline, memoryMB } },
    key,
    title,
  };
}
