/**
 * Downloads a VM's files (BIOS, disk images, kernel) on the page before the VM
 * starts, so the page can show how far the download is; the v86 worker then
 * gets the bytes instead of URLs.
 */
import type { SourceSpec } from '../host/session-host.ts';
import type { GuestImage, V86StartOptions } from '../sources/v86/v86-api.ts';

export interface LoadProgress {
  /** File names still downloading (all of them while none has finished). */
  files: string[];
  loaded: number;
  /** Null while some file's size is unknown. */
  total: number | null;
}

/** Image fields of a VM spec that may name a URL. */
const IMAGE_FIELDS = ['bios', 'vgaBios', 'fda', 'hda', 'cdrom', 'bzimage', 'initrd'] as const;

type VmSpec = Omit<V86StartOptions, 'memory'>;

/** The last part of a URL's path, for progress messages. */
export function fileName(url: string): string {
  const path = url.split(/[?#]/)[0]!;
  return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1)) || url;
}

/** Fetches one file, calling `onBytes(loaded, total)` as chunks arrive. */
export async function fetchWithProgress(url: string, onBytes: (loaded: number, total: number | null) => void): Promise<ArrayBuffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`could not download ${url}: HTTP ${res.status} ${res.statusText}`.trimEnd());
  const length = Number(res.headers.get('Content-Length'));
  const total = Number.isFinite(length) && length > 0 ? length : null;
  onBytes(0, total);
  if (!res.body) {
    const buf = await res.arrayBuffer();
    onBytes(buf.byteLength, buf.byteLength);
    return buf;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onBytes(loaded, total);
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out.buffer;
}

/**
 * Returns the spec with every image URL replaced by its bytes, downloaded in
 * parallel; `onProgress` sees the sum over all files. Other specs pass through.
 */
export async function preloadSource(spec: SourceSpec, onProgress: (p: LoadProgress) => void): Promise<SourceSpec> {
  if (spec.kind !== 'v86') return spec;
  const vm: VmSpec = { ...spec.vm };
  const pending = IMAGE_FIELDS.filter((k) => vm[k]?.url !== undefined && vm[k]?.buffer === undefined);
  const state = new Map(pending.map((k) => [k, { name: fileName(vm[k]!.url!), loaded: 0, total: null as number | null, done: false }]));
  const report = (): void => {
    const all = [...state.values()];
    const open = all.filter((f) => !f.done);
    onProgress({
      files: (open.length ? open : all).map((f) => f.name),
      loaded: all.reduce((a, f) => a + f.loaded, 0),
      total: all.every((f) => f.total !== null) ? all.reduce((a, f) => a + f.total!, 0) : null,
    });
  };
  await Promise.all(
    pending.map(async (k) => {
      const f = state.get(k)!;
      const buffer = await fetchWithProgress(vm[k]!.url!, (loaded, total) => {
        f.loaded = loaded;
        f.total = total;
        report();
      });
      f.done = true;
      f.total = buffer.byteLength;
      report();
      const image: GuestImage = { buffer };
      vm[k] = image;
    }),
  );
  return { ...spec, vm };
}
