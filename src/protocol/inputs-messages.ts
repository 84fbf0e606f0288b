/** Inputs channel message codecs (spice-wire.md §9). */
import { WireReader, WireWriter } from './wire.ts';

export function encodeInputsInit(modifiers: number): Uint8Array {
  return new WireWriter(2).u16(modifiers).finish();
}

export function encodeKeyModifiers(modifiers: number): Uint8Array {
  return new WireWriter(2).u16(modifiers).finish();
}

/**
 * Scancode bytes of a KEY_DOWN/KEY_UP code: LSB first, up to the first 00 byte.
 * An E0/E1 prefix takes exactly one following byte; anything after is ignored
 * (spice-html5 appends a stray DF to extended keys).
 */
export function scancodeBytes(code: number): number[] {
  const bytes: number[] = [];
  for (let i = 0; i < 4; i++) {
    const b = (code >>> (8 * i)) & 0xff;
    if (b === 0) break;
    bytes.push(b);
  }
  if (bytes.length >= 2 && (bytes[0] === 0xe0 || bytes[0] === 0xe1)) return bytes.slice(0, 2);
  return bytes.slice(0, 1);
}

export function decodeKey(body: Uint8Array, what: string): { code: number; scancode: number[] } {
  const code = new WireReader(body, what).u32('code');
  return { code, scancode: scancodeBytes(code) };
}

export function decodeKeyModifiers(body: Uint8Array): { modifiers: number } {
  return { modifiers: new WireReader(body, 'KEY_MODIFIERS').u16('modifiers') };
}

export function decodeKeyScancode(body: Uint8Array): { bytes: number[] } {
  if (body.byteLength === 0) return { bytes: [] };
  return { bytes: Array.from(body) };
}

/**
 * Splits a KEY_SCANCODE byte run into keys: an E0/E1 prefix and the byte after
 * it, else one byte. A prefix with nothing after it is no key and is dropped.
 */
export function splitScancodeRun(bytes: readonly number[]): number[][] {
  const keys: number[][] = [];
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    if (b === 0xe0 || b === 0xe1) {
      if (i + 1 < bytes.length) keys.push([b, bytes[i + 1]!]);
      i += 2;
    } else {
      keys.push([b]);
      i += 1;
    }
  }
  return keys;
}

/** Client side of KEY_DOWN / KEY_UP: the scancode bytes packed LSB first. */
export function encodeKey(scancode: readonly number[]): Uint8Array {
  const w = new WireWriter(4);
  for (let i = 0; i < 4; i++) w.u8(scancode[i] ?? 0);
  return w.finish();
}

export interface MouseMotion {
  dx: number;
  dy: number;
  buttons: number;
}

/** 10 bytes; spice-html5 sends 11 (a trailing u8), so extra bytes are accepted. */
export function decodeMouseMotion(body: Uint8Array): MouseMotion {
  const r = new WireReader(body, 'MOUSE_MOTION');
  return { dx: r.i32('dx'), dy: r.i32('dy'), buttons: r.u16('buttons_state') };
}

/** Client side of MOUSE_MOTION. */
export function encodeMouseMotion(m: MouseMotion): Uint8Array {
  return new WireWriter(10).i32(m.dx).i32(m.dy).u16(m.buttons).finish();
}

export interface MousePosition {
  x: number;
  y: number;
  buttons: number;
  displayId: number;
}

export function decodeMousePosition(body: Uint8Array): MousePosition {
  const r = new WireReader(body, 'MOUSE_POSITION');
  return { x: r.u32('x'), y: r.u32('y'), buttons: r.u16('buttons_state'), displayId: r.u8('display_id') };
}

/** Client side of MOUSE_POSITION. */
export function encodeMousePosition(p: MousePosition): Uint8Array {
  return new WireWriter(11).u32(p.x).u32(p.y).u16(p.buttons).u8(p.displayId).finish();
}

export interface MouseButton {
  button: number;
  buttons: number;
}

export function decodeMouseButton(body: Uint8Array, what: string): MouseButton {
  const r = new WireReader(body, what);
  return { button: r.u8('button'), buttons: r.u16('buttons_state') };
}

/** Client side of MOUSE_PRESS / MOUSE_RELEASE. */
export function encodeMouseButton(b: MouseButton): Uint8Array {
  return new WireWriter(3).u8(b.button).u16(b.buttons).finish();
}
