/**
 * Reads what to serve from the demo page's query string:
 * - `guest=NAME`: a built-in guest (graphics, text, linux);
 * - `image=ID`: an image the user loaded earlier (kept in IndexedDB);
 * - `fda=URL` | `hda=URL` | `cdrom=URL` | `bzimage=URL&initrd=URL&cmdline=…`: images by URL;
 * - `vm=bios`: the BIOS alone;
 * - nothing: the test pattern (`tone=HZ` adds its test signal, a sine of HZ).
 * `memory=MB`, `bios=URL`, `vgabios=URL` adjust a VM; `sound=1` lets clients hear its Sound Blaster 16.
 */
import type { SourceSpec } from '../host/session-host.ts';
import type { GuestImage } from '../sources/v86/v86-api.ts';
import { BIOS_URLS, getGuest, guestFileUrls } from '../sources/v86/guest-catalog.ts';
import { loadImage } from './persistence.ts';
import { WORKLOADS, type Workload } from '../sources/workload.ts';
import { parseToneHz } from '../sound/test-tone.ts';

/** Where `npm run bios` puts Debian's SeaBIOS (never committed). */
export const DEFAULT_BIOS_URL = BIOS_URLS.bios;
export const DEFAULT_VGA_BIOS_URL = BIOS_URLS.vgaBios;

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
    const g = getGuest(guest);
    const fix = g.buildCommand ? `Build it first with \`${g.buildCommand}\`, then reload.` : 'The built-in guest images are committed in guests/.';
    for (const url of guestFileUrls(g)) await mustExist(url, fix);
    if (g.kind === 'kernel') {
      images.bzimage = { url: g.bzimageUrl! };
      if (g.initrdUrl) images.initrd = { url: g.initrdUrl };
    } else images[g.kind === 'floppy' ? 'fda' : g.kind] = { url: g.url! };
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
  } else if (params.get('workload')) {
    const workload = params.get('workload')!;
    if (!(WORKLOADS as readonly string[]).includes(workload)) {
      throw new Error(`workload: expected one of ${WORKLOADS.join(', ')}, got "${workload}"`);
    }
    return { spec: { kind: 'workload', workload: workload as Workload }, key: `workload:${workload}`, title: `Benchmark workload: ${workload}` };
  } else if (params.get('vm') === 'bios') {
    key = 'bios';
    title = 'SeaBIOS (no boot disk)';
  } else {
    const tone = params.get('tone');
    return {
      spec: { kind: 'test-pattern', ...(tone !== null && { tone: parseToneHz(tone) }) },
      key: 'test-pattern',
      title: tone !== null ? `Test pattern with a ${tone} Hz tone` : 'Test pattern',
    };
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
    // Kernel guests (the Linux guest) mount the 9p share where dropped files land and have spice-clip on COM2.
    spec: {
      kind: 'v86',
      vm: { bios: { url: bios }, vgaBios: { url: vgaBios }, ...images, cmdline, memoryMB, ...(images.bzimage ? { sharedFolder: true, guestClipboard: true } : {}) },
      ...(params.get('sound') === '1' && { sound: true }),
    },
    key,
    title,
  };
}
