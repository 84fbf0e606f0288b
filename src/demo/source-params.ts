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
import { catalogGuestSpec, v86SourceSpec, type V86ImageSlot, type V86SpecOptions } from '../host/v86-source-spec.ts';
import { loadImage } from './persistence.ts';
import { WORKLOADS, type Workload } from '../sources/workload.ts';
import { parseToneHz } from '../sound/test-tone.ts';

export { MissingFileError } from '../host/v86-source-spec.ts';

export interface ResolvedSource {
  spec: SourceSpec;
  /** Identifies the source, e.g. for its saved-state slot. */
  key: string;
  title: string;
}

export async function resolveSource(params: URLSearchParams): Promise<ResolvedSource> {
  const images: NonNullable<V86SpecOptions['images']> = {};
  for (const k of ['fda', 'hda', 'cdrom', 'bzimage', 'initrd'] as const satisfies readonly V86ImageSlot[]) {
    const v = params.get(k);
    if (v) images[k] = { url: v };
  }
  const vm: Omit<V86SpecOptions, 'images'> = {
    ...(params.has('memory') && { memoryMB: Number(params.get('memory')) }),
    ...(params.has('cmdline') && { cmdline: params.get('cmdline')! }),
    ...(params.has('bios') && { bios: params.get('bios')! }),
    ...(params.has('vgabios') && { vgaBios: params.get('vgabios')! }),
    ...(params.get('sound') === '1' && { sound: true }),
  };
  const guest = params.get('guest');
  const imageId = params.get('image');
  if (guest) {
    const { spec, title } = await catalogGuestSpec(guest, vm);
    return { spec, key: `guest:${guest}`, title };
  }
  if (imageId) {
    const stored = await loadImage(imageId);
    if (!stored) throw new Error(`image "${imageId}" is no longer stored in this browser; load it again`);
    return { spec: await v86SourceSpec({ ...vm, images: { [stored.meta.kind]: { buffer: stored.bytes } } }), key: `image:${imageId}`, title: stored.meta.name };
  }
  if (Object.keys(images).length) {
    const key = Object.entries(images)
      .map(([k, v]) => `${k}=${v.url}`)
      .join('&');
    return { spec: await v86SourceSpec({ ...vm, images }), key, title: Object.values(images)[0]!.url! };
  }
  if (params.get('workload')) {
    const workload = params.get('workload')!;
    if (!(WORKLOADS as readonly string[]).includes(workload)) {
      throw new Error(`workload: expected one of ${WORKLOADS.join(', ')}, got "${workload}"`);
    }
    return { spec: { kind: 'workload', workload: workload as Workload }, key: `workload:${workload}`, title: `Benchmark workload: ${workload}` };
  }
  if (params.get('vm') === 'bios') return { spec: await v86SourceSpec(vm), key: 'bios', title: 'SeaBIOS (no boot disk)' };
  const tone = params.get('tone');
  return {
    spec: { kind: 'test-pattern', ...(tone !== null && { tone: parseToneHz(tone) }) },
    key: 'test-pattern',
    title: tone !== null ? `Test pattern with a ${tone} Hz tone` : 'Test pattern',
  };
}
