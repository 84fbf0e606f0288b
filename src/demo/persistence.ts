/**
 * What the demo page keeps in IndexedDB (idb-keyval): disk images a user
 * loaded, and saved VM states, so both survive a reload.
 */
import { del, get, keys, set } from 'idb-keyval';

/** How an image is attached to the VM. */
export type ImageKind = 'fda' | 'hda' | 'cdrom' | 'bzimage';

export interface StoredImageMeta {
  id: string;
  name: string;
  kind: ImageKind;
  size: number;
  storedAt: string;
}

export interface StoredStateMeta {
  source: string;
  size: number;
  savedAt: string;
}

const IMAGE = 'image:';
const IMAGE_META = 'image-meta:';
const STATE = 'state:';
const STATE_META = 'state-meta:';

/** Picks the attachment from the file: ISO → CD-ROM, 1.44 MB or smaller → floppy, else hard disk. */
export function guessImageKind(name: string, size: number): ImageKind {
  if (/\.iso$/i.test(name)) return 'cdrom';
  if (/bzimage|vmlinuz/i.test(name)) return 'bzimage';
  return size <= 2949120 ? 'fda' : 'hda';
}

export async function storeImage(name: string, kind: ImageKind, bytes: ArrayBuffer): Promise<StoredImageMeta> {
  const id = `${Date.now().toString(36)}-${name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40)}`;
  const meta: StoredImageMeta = { id, name, kind, size: bytes.byteLength, storedAt: new Date().toISOString() };
  await set(IMAGE + id, bytes);
  await set(IMAGE_META + id, meta);
  return meta;
}

export async function loadImage(id: string): Promise<{ meta: StoredImageMeta; bytes: ArrayBuffer } | null> {
  const [meta, bytes] = await Promise.all([get<StoredImageMeta>(IMAGE_META + id), get<ArrayBuffer>(IMAGE + id)]);
  return meta && bytes ? { meta, bytes } : null;
}

export async function listImages(): Promise<StoredImageMeta[]> {
  const all = (await keys()).filter((k): k is string => typeof k === 'string' && k.startsWith(IMAGE_META));
  const metas = await Promise.all(all.map((k) => get<StoredImageMeta>(k)));
  return metas.filter((m): m is StoredImageMeta => !!m).sort((a, b) => b.storedAt.localeCompare(a.storedAt));
}

export async function deleteImage(id: string): Promise<void> {
  await Promise.all([del(IMAGE + id), del(IMAGE_META + id)]);
}

/** Saves a VM state for a source (one slot per source). */
export async function storeState(source: string, state: ArrayBuffer): Promise<StoredStateMeta> {
  const meta: StoredStateMeta = { source, size: state.byteLength, savedAt: new Date().toISOString() };
  await set(STATE + source, state);
  await set(STATE_META + source, meta);
  return meta;
}

export async function loadState(source: string): Promise<{ meta: StoredStateMeta; state: ArrayBuffer } | null> {
  const [meta, state] = await Promise.all([get<StoredStateMeta>(STATE_META + source), get<ArrayBuffer>(STATE + source)]);
  return meta && state ? { meta, state } : null;
}

export async function stateMeta(source: string): Promise<StoredStateMeta | null> {
  return (await get<StoredStateMeta>(STATE_META + source)) ?? null;
}
