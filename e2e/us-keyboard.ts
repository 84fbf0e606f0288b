/** A US keyboard for typing text through the real clients: Playwright key names and PC AT set-1 scancodes. */

const LETTERS = 'qwertyuiopasdfghjklzxcvbnm';
const LETTER_CODES = [
  0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26,
  0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32,
];

export interface UsKey {
  /** Playwright/DOM code, e.g. "KeyA", "Digit4". */
  code: string;
  /** Set-1 make code. */
  scancode: number;
  shift: boolean;
}

const MAP = new Map<string, UsKey>();
for (let i = 0; i < LETTERS.length; i++) {
  const c = LETTERS[i]!;
  MAP.set(c, { code: `Key${c.toUpperCase()}`, scancode: LETTER_CODES[i]!, shift: false });
  MAP.set(c.toUpperCase(), { code: `Key${c.toUpperCase()}`, scancode: LETTER_CODES[i]!, shift: true });
}
const DIGIT_SHIFTED = ')!@#$%^&*(';
for (let d = 0; d <= 9; d++) {
  const scancode = d === 0 ? 0x0b : d + 1;
  MAP.set(String(d), { code: `Digit${d}`, scancode, shift: false });
  MAP.set(DIGIT_SHIFTED[d]!, { code: `Digit${d}`, scancode, shift: true });
}
for (const [ch, code, scancode, shift] of [
  [' ', 'Space', 0x39, false],
  ['\n', 'Enter', 0x1c, false],
  ['-', 'Minus', 0x0c, false],
  ['_', 'Minus', 0x0c, true],
  ['=', 'Equal', 0x0d, false],
  ['+', 'Equal', 0x0d, true],
  ['.', 'Period', 0x34, false],
  ['>', 'Period', 0x34, true],
  [',', 'Comma', 0x33, false],
  ['<', 'Comma', 0x33, true],
  ['/', 'Slash', 0x35, false],
  ['|', 'Backslash', 0x2b, true],
  ["'", 'Quote', 0x28, false],
  ['"', 'Quote', 0x28, true],
  [';', 'Semicolon', 0x27, false],
  [':', 'Semicolon', 0x27, true],
] as const) {
  MAP.set(ch, { code, scancode, shift });
}

export function usKey(ch: string): UsKey {
  const k = MAP.get(ch);
  if (!k) throw new Error(`no US key for ${JSON.stringify(ch)}`);
  return k;
}

/** Left Shift's set-1 make code. */
export const LEFT_SHIFT = 0x2a;
