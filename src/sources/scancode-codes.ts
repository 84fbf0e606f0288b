/**
 * PC AT set-1 scancodes (what SPICE clients send) to DOM KeyboardEvent codes
 * and keys, for sources that replay client keys as DOM events (the canvas
 * adapter). US layout; keys without a DOM meaning are left out.
 */

/** A key as a DOM event describes it. */
export interface DomKey {
  code: string;
  /** `key` without Shift, and with Shift. */
  key: string;
  shiftedKey: string;
}

const PLAIN: ReadonlyArray<readonly [number, string, string, string]> = [
  [0x01, 'Escape', 'Escape', 'Escape'],
  [0x0c, 'Minus', '-', '_'], [0x0d, 'Equal', '=', '+'], [0x0e, 'Backspace', 'Backspace', 'Backspace'],
  [0x0f, 'Tab', 'Tab', 'Tab'], [0x1a, 'BracketLeft', '[', '{'], [0x1b, 'BracketRight', ']', '}'],
  [0x1c, 'Enter', 'Enter', 'Enter'], [0x1d, 'ControlLeft', 'Control', 'Control'],
  [0x27, 'Semicolon', ';', ':'], [0x28, 'Quote', "'", '"'], [0x29, 'Backquote', '`', '~'],
  [0x2a, 'ShiftLeft', 'Shift', 'Shift'], [0x2b, 'Backslash', '\\', '|'],
  [0x33, 'Comma', ',', '<'], [0x34, 'Period', '.', '>'], [0x35, 'Slash', '/', '?'],
  [0x36, 'ShiftRight', 'Shift', 'Shift'], [0x38, 'AltLeft', 'Alt', 'Alt'], [0x39, 'Space', ' ', ' '],
  [0x3a, 'CapsLock', 'CapsLock', 'CapsLock'],
];

const EXTENDED: ReadonlyArray<readonly [number, string, string]> = [
  [0x1c, 'NumpadEnter', 'Enter'], [0x1d, 'ControlRight', 'Control'], [0x38, 'AltRight', 'Alt'],
  [0x47, 'Home', 'Home'], [0x48, 'ArrowUp', 'ArrowUp'], [0x49, 'PageUp', 'PageUp'],
  [0x4b, 'ArrowLeft', 'ArrowLeft'], [0x4d, 'ArrowRight', 'ArrowRight'], [0x4f, 'End', 'End'],
  [0x50, 'ArrowDown', 'ArrowDown'], [0x51, 'PageDown', 'PageDown'], [0x52, 'Insert', 'Insert'],
  [0x53, 'Delete', 'Delete'], [0x5b, 'MetaLeft', 'Meta'], [0x5c, 'MetaRight', 'Meta'],
];

const TABLE = new Map<number, DomKey>();
const ROWS = ['qwertyuiop', 'asdfghjkl', 'zxcvbnm'];
const ROW_START = [0x10, 0x1e, 0x2c];
ROWS.forEach((row, r) => {
  for (let i = 0; i < row.length; i++) {
    const c = row[i]!;
    TABLE.set(ROW_START[r]! + i, { code: `Key${c.toUpperCase()}`, key: c, shiftedKey: c.toUpperCase() });
  }
});
const SHIFTED_DIGITS = '!@#$%^&*()';
for (let d = 1; d <= 10; d++) {
  const digit = String(d % 10);
  TABLE.set(d + 1, { code: `Digit${digit}`, key: digit, shiftedKey: SHIFTED_DIGITS[d - 1]! });
}
for (let f = 1; f <= 12; f++) {
  TABLE.set(f <= 10 ? 0x3a + f : 0x56 + f - 10, { code: `F${f}`, key: `F${f}`, shiftedKey: `F${f}` });
}
for (const [sc, code, key, shiftedKey] of PLAIN) TABLE.set(sc, { code, key, shiftedKey });
for (const [sc, code, key] of EXTENDED) TABLE.set(0xe000 | sc, { code, key, shiftedKey: key });

/** The DOM key for set-1 make bytes (E0 prefix included; break bit ignored), or null. */
export function domKeyForScancode(bytes: readonly number[]): DomKey | null {
  if (bytes.length === 0) return null;
  const extended = bytes[0] === 0xe0 && bytes.length >= 2;
  const make = (extended ? bytes[1]! : bytes[0]!) & 0x7f;
  return TABLE.get(extended ? 0xe000 | make : make) ?? null;
}

/** The key that types a character on a US keyboard: its set-1 make code, and whether Shift is held. */
export interface UsKeyStroke {
  scancode: number;
  shift: boolean;
}

/** Characters to keys, inverted from the table above (single-character keys only; Enter and Tab by their control characters). */
const BY_CHAR = new Map<string, UsKeyStroke>([
  ['\n', { scancode: 0x1c, shift: false }],
  ['\t', { scancode: 0x0f, shift: false }],
]);
for (const [sc, k] of TABLE) {
  if (sc > 0xff) continue;
  if (k.key.length === 1 && !BY_CHAR.has(k.key)) BY_CHAR.set(k.key, { scancode: sc, shift: false });
  if (k.shiftedKey.length === 1 && !BY_CHAR.has(k.shiftedKey)) BY_CHAR.set(k.shiftedKey, { scancode: sc, shift: true });
}

/** The US-layout key stroke that types `ch` ("\n" is Enter, "\t" Tab), or null when no key types it. */
export function usKeyForChar(ch: string): UsKeyStroke | null {
  return BY_CHAR.get(ch) ?? null;
}

/** Left Shift's set-1 make code. */
export const LEFT_SHIFT = 0x2a;
