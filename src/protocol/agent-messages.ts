/**
 * VDAgent message codecs (spice-protocol `spice/vd_agent.h`, spice-wire.md §5.5):
 * what a SPICE client's agent half and the guest agent (here: the page) say to
 * each other inside the main channel's AGENT_DATA. One codec per message.
 *
 * We never announce VD_AGENT_CAP_CLIPBOARD_SELECTION or _GRAB_SERIAL, so no
 * clipboard message carries the 4-byte selection header or a serial: a client
 * only adds them when the agent announced the capability.
 */
import { ProtocolError, WireReader, WireWriter } from './wire.ts';

/** VD_AGENT_PROTOCOL: the only protocol version there is. */
export const VD_AGENT_PROTOCOL = 1;
/** VDAgentMessage header: u32 protocol, u32 type, u64 opaque, u32 size. */
export const AGENT_HEADER_SIZE = 20;
/** VD_AGENT_MAX_DATA_SIZE: the most agent-stream bytes one AGENT_DATA carries. */
export const AGENT_MAX_DATA_SIZE = 2048;

export const AgentMsg = {
  MOUSE_STATE: 1,
  MONITORS_CONFIG: 2,
  REPLY: 3,
  CLIPBOARD: 4,
  DISPLAY_CONFIG: 5,
  ANNOUNCE_CAPABILITIES: 6,
  CLIPBOARD_GRAB: 7,
  CLIPBOARD_REQUEST: 8,
  CLIPBOARD_RELEASE: 9,
  FILE_XFER_START: 10,
  FILE_XFER_STATUS: 11,
  FILE_XFER_DATA: 12,
  CLIENT_DISCONNECTED: 13,
  MAX_CLIPBOARD: 14,
  AUDIO_VOLUME_SYNC: 15,
  GRAPHICS_DEVICE_INFO: 16,
} as const;

export function agentMsgName(type: number): string {
  for (const [name, value] of Object.entries(AgentMsg)) if (value === type) return name;
  return `type ${type}`;
}

/** VD_AGENT_CAP_* bit numbers. */
export const AgentCap = {
  MOUSE_STATE: 0,
  MONITORS_CONFIG: 1,
  REPLY: 2,
  CLIPBOARD: 3,
  DISPLAY_CONFIG: 4,
  CLIPBOARD_BY_DEMAND: 5,
  CLIPBOARD_SELECTION: 6,
  SPARSE_MONITORS_CONFIG: 7,
  GUEST_LINEEND_LF: 8,
  GUEST_LINEEND_CRLF: 9,
  MAX_CLIPBOARD: 10,
  AUDIO_VOLUME_SYNC: 11,
  MONITORS_CONFIG_POSITION: 12,
  FILE_XFER_DISABLED: 13,
  FILE_XFER_DETAILED_ERRORS: 14,
  GRAPHICS_DEVICE_INFO: 15,
  CLIPBOARD_NO_RELEASE_ON_REGRAB: 16,
  CLIPBOARD_GRAB_SERIAL: 17,
} as const;

/** VD_AGENT_CLIPBOARD_* data types. */
export const ClipboardType = {
  NONE: 0,
  UTF8_TEXT: 1,
  IMAGE_PNG: 2,
  IMAGE_BMP: 3,
  IMAGE_TIFF: 4,
  IMAGE_JPG: 5,
} as const;

/** VD_AGENT_SUCCESS / VD_AGENT_ERROR in REPLY. */
export const AgentReplyError = { SUCCESS: 1, ERROR: 2 } as const;

/** VD_AGENT_FILE_XFER_STATUS_*. */
export const FileXferStatus = {
  CAN_SEND_DATA: 0,
  CANCELLED: 1,
  ERROR: 2,
  SUCCESS: 3,
  NOT_ENOUGH_SPACE: 4,
  SESSION_LOCKED: 5,
  VDAGENT_NOT_CONNECTED: 6,
  DISABLED: 7,
} as const;

/** VD_AGENT_CONFIG_MONITORS_FLAG_*. */
export const MonitorsConfigFlag = { USE_POS: 1, PHYSICAL_SIZE: 2 } as const;

export interface AgentHeader {
  protocol: number;
  type: number;
  opaque: bigint;
  size: number;
}

export function decodeAgentHeader(bytes: Uint8Array): AgentHeader {
  const r = new WireReader(bytes, 'VDAgentMessage header');
  return { protocol: r.u32('protocol'), type: r.u32('type'), opaque: r.u64('opaque'), size: r.u32('size') };
}

/** A whole VDAgentMessage: header then `data`. */
export function encodeAgentMessage(type: number, data: Uint8Array): Uint8Array {
  return new WireWriter(AGENT_HEADER_SIZE + data.byteLength)
    .u32(VD_AGENT_PROTOCOL)
    .u32(type)
    .u64(0n)
    .u32(data.byteLength)
    .bytes(data)
    .finish();
}

/** Capability bits as u32 words (bit n is word n>>5, bit n&31). */
export function agentCapsFromBits(bits: readonly number[]): number[] {
  const words: number[] = [];
  for (const b of bits) {
    const i = b >> 5;
    while (words.length <= i) words.push(0);
    words[i] = (words[i]! | (1 << (b & 31))) >>> 0;
  }
  return words;
}

export function hasAgentCap(caps: readonly number[], bit: number): boolean {
  return (((caps[bit >> 5] ?? 0) >>> (bit & 31)) & 1) === 1;
}

// ---- ANNOUNCE_CAPABILITIES: u32 request, u32 caps[] ----------------------------

export interface AnnounceCapabilities {
  /** The sender wants the receiver's capabilities back. */
  request: boolean;
  caps: number[];
}

export function encodeAnnounceCapabilities(m: AnnounceCapabilities): Uint8Array {
  const w = new WireWriter(4 + 4 * m.caps.length).u32(m.request ? 1 : 0);
  for (const c of m.caps) w.u32(c);
  return w.finish();
}

export function decodeAnnounceCapabilities(data: Uint8Array): AnnounceCapabilities {
  const r = new WireReader(data, 'ANNOUNCE_CAPABILITIES');
  const request = r.u32('request') !== 0;
  const caps: number[] = [];
  while (r.remaining >= 4) caps.push(r.u32('caps'));
  return { request, caps };
}

// ---- CLIPBOARD_GRAB: u32 types[] ------------------------------------------------

export function encodeClipboardGrab(types: readonly number[]): Uint8Array {
  const w = new WireWriter(4 * types.length);
  for (const t of types) w.u32(t);
  return w.finish();
}

export function decodeClipboardGrab(data: Uint8Array): { types: number[] } {
  if (data.byteLength % 4 !== 0) {
    throw new ProtocolError(`CLIPBOARD_GRAB: expected a multiple of 4 bytes of types, got ${data.byteLength}`);
  }
  const r = new WireReader(data, 'CLIPBOARD_GRAB');
  const types: number[] = [];
  while (r.remaining > 0) types.push(r.u32('type'));
  return { types };
}

// ---- CLIPBOARD_REQUEST: u32 type ------------------------------------------------

export function encodeClipboardRequest(type: number): Uint8Array {
  return new WireWriter(4).u32(type).finish();
}

export function decodeClipboardRequest(data: Uint8Array): { type: number } {
  return { type: new WireReader(data, 'CLIPBOARD_REQUEST').u32('type') };
}

// ---- CLIPBOARD: u32 type, data[] ------------------------------------------------

export function encodeClipboard(type: number, payload: Uint8Array): Uint8Array {
  return new WireWriter(4 + payload.byteLength).u32(type).bytes(payload).finish();
}

export function decodeClipboard(data: Uint8Array): { type: number; data: Uint8Array } {
  const r = new WireReader(data, 'CLIPBOARD');
  return { type: r.u32('type'), data: r.rest() };
}

// ---- REPLY: u32 type, u32 error -------------------------------------------------

export function encodeAgentReply(type: number, error: number): Uint8Array {
  return new WireWriter(8).u32(type).u32(error).finish();
}

export function decodeAgentReply(data: Uint8Array): { type: number; error: number } {
  const r = new WireReader(data, 'REPLY');
  return { type: r.u32('type'), error: r.u32('error') };
}

// ---- MONITORS_CONFIG: u32 num_of_monitors, u32 flags, {u32 height, width, depth; i32 x, y}[] ----

export interface AgentMonitor {
  width: number;
  height: number;
  depth: number;
  x: number;
  y: number;
}

export interface AgentMonitorsConfig {
  flags: number;
  monitors: AgentMonitor[];
}

/** Each VDAgentMonConfig is 20 bytes. */
const MON_CONFIG_SIZE = 20;
/** spice-server refuses configs for more monitors than this (and so do we). */
export const MAX_AGENT_MONITORS = 16;

export function encodeAgentMonitorsConfig(m: AgentMonitorsConfig): Uint8Array {
  const w = new WireWriter(8 + MON_CONFIG_SIZE * m.monitors.length).u32(m.monitors.length).u32(m.flags);
  // Height comes first on the wire.
  for (const mon of m.monitors) w.u32(mon.height).u32(mon.width).u32(mon.depth).i32(mon.x).i32(mon.y);
  return w.finish();
}

export function decodeAgentMonitorsConfig(data: Uint8Array): AgentMonitorsConfig {
  const r = new WireReader(data, 'MONITORS_CONFIG');
  const count = r.u32('num_of_monitors');
  const flags = r.u32('flags');
  if (count > MAX_AGENT_MONITORS) {
    throw new ProtocolError(`MONITORS_CONFIG: expected at most ${MAX_AGENT_MONITORS} monitors, got ${count}`);
  }
  const monitors: AgentMonitor[] = [];
  for (let i = 0; i < count; i++) {
    const height = r.u32('height');
    const width = r.u32('width');
    monitors.push({ width, height, depth: r.u32('depth'), x: r.i32('x'), y: r.i32('y') });
  }
  // A client that sends PHYSICAL_SIZE appends per-monitor sizes; we do not need them.
  return { flags, monitors };
}

// ---- FILE_XFER_START: u32 id, keyfile text ("[vdagent-file-xfer]\nname=…\nsize=…") ----

export interface FileXferStart {
  id: number;
  name: string;
  size: number;
}

const KEYFILE_GROUP = 'vdagent-file-xfer';

export function encodeFileXferStart(m: FileXferStart): Uint8Array {
  const text = `[${KEYFILE_GROUP}]\nname=${m.name}\nsize=${m.size}\n\0`;
  return new WireWriter(4 + text.length * 3).u32(m.id).bytes(new TextEncoder().encode(text)).finish();
}

/** GKeyFile value escapes (spice-gtk writes the name with g_key_file): \s \n \t \r \\. */
function unescapeKeyFileValue(v: string): string {
  return v.replace(/\\([sntr\\])/g, (_, c: string) => ({ s: ' ', n: '\n', t: '\t', r: '\r', '\\': '\\' })[c]!);
}

export function decodeFileXferStart(data: Uint8Array): FileXferStart {
  const r = new WireReader(data, 'FILE_XFER_START');
  const id = r.u32('id');
  const text = new TextDecoder('utf-8', { fatal: false }).decode(r.rest()).replace(/\0+$/, '');
  let group = '';
  let name: string | null = null;
  let size: number | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[') && line.endsWith(']')) group = line.slice(1, -1);
    else if (group === KEYFILE_GROUP && line.startsWith('name=')) name = unescapeKeyFileValue(line.slice(5));
    else if (group === KEYFILE_GROUP && line.startsWith('size=')) size = /^\d+$/.test(line.slice(5)) ? Number(line.slice(5)) : NaN;
  }
  if (name === null || size === null || !Number.isSafeInteger(size)) {
    throw new ProtocolError(`FILE_XFER_START ${id}: expected [${KEYFILE_GROUP}] with name= and a numeric size=, got ${JSON.stringify(text.slice(0, 200))}`);
  }
  return { id, name, size };
}

// ---- FILE_XFER_STATUS: u32 id, u32 result, data[] -------------------------------

export function encodeFileXferStatus(id: number, result: number, detail: Uint8Array = new Uint8Array(0)): Uint8Array {
  return new WireWriter(8 + detail.byteLength).u32(id).u32(result).bytes(detail).finish();
}

export function decodeFileXferStatus(data: Uint8Array): { id: number; result: number; detail: Uint8Array } {
  const r = new WireReader(data, 'FILE_XFER_STATUS');
  return { id: r.u32('id'), result: r.u32('result'), detail: r.rest() };
}

// ---- FILE_XFER_DATA: u32 id, u64 size, data[size] -------------------------------

export function encodeFileXferData(id: number, payload: Uint8Array): Uint8Array {
  return new WireWriter(12 + payload.byteLength).u32(id).u64(payload.byteLength).bytes(payload).finish();
}

export function decodeFileXferData(data: Uint8Array): { id: number; data: Uint8Array } {
  const r = new WireReader(data, 'FILE_XFER_DATA');
  const id = r.u32('id');
  const size = r.u64('size');
  if (size !== BigInt(r.remaining)) {
    throw new ProtocolError(`FILE_XFER_DATA ${id}: size field says ${size} bytes, the message carries ${r.remaining}`);
  }
  return { id, data: r.rest() };
}

// ---- MAX_CLIPBOARD: i32 max -----------------------------------------------------

export function decodeMaxClipboard(data: Uint8Array): { max: number } {
  return { max: new WireReader(data, 'MAX_CLIPBOARD').i32('max') };
}
