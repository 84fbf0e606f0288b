import { describe, expect, it } from 'vitest';
import { TextScreen } from '../src/sources/v86/text-renderer.ts';
import { expandDac } from '../src/sources/v86/v86-display.ts';

/** A font where character c's scan line y is (c + y) & 0xff, so every glyph row is known. */
function font(height = 4, width9 = true, double = false): { height: number; width9: boolean; double: boolean; copy8th: boolean; bitmap: Uint8Array } {
  const bitmap = new Uint8Array(8 * 256 * 32);
  for (let c = 0; c < 256; c++) for (let y = 0; y < 32; y++) bitmap[c * 32 + y] = (c + y) & 0xff;
  return { height, width9, double, copy8th: true, bitmap };
}

const FG = 0xffffff;
const BG = 0x0000aa;

describe('TextScreen', () => {
  it('draws glyph bits MSB first, a blank 9th column, and copies column 8 for line-drawing characters', () => {
    const t = new TextScreen();
    t.setSize(2, 1);
    t.setFont(font());
    t.setCursorShape(0, 0, false);
    t.putChar(0, 0, 0x41, 0, BG, FG);
    t.putChar(0, 1, 0xc1, 0, BG, FG);
    expect([t.pixelWidth, t.pixelHeight]).toEqual([18, 4]);
    const fb = new Uint32Array(18 * 4);
    expect(t.render(fb, true)).toBe(true);
    for (let y = 0; y < 4; y++) {
      const a = (0x41 + y) & 0xff;
      const row = Array.from(fb.subarray(y * 18, y * 18 + 9));
      expect(row).toEqual([...Array.from({ length: 8 }, (_, b) => ((a >> (7 - b)) & 1 ? FG : BG)), BG]);
      const l = (0xc1 + y) & 0xff;
      expect(fb[y * 18 + 17]).toBe(l & 1 ? FG : BG);
    }
    // Nothing dirty: nothing drawn.
    expect(t.render(fb, true)).toBe(false);
  });

  it('blinking characters and the cursor show only in the visible phase', () => {
    const t = new TextScreen();
    t.setSize(1, 1);
    t.setFont(font(2, false));
    t.putChar(0, 0, 0xff, 1, BG, FG);
    t.setCursor(0, 0);
    t.setCursorShape(1, 1, true);
    const fb = new Uint32Array(8 * 2);
    t.render(fb, false);
    expect(Array.from(fb).every((p) => p === BG)).toBe(true);
    t.blinkChanged();
    t.render(fb, true);
    // Row 0: glyph 0xff; row 1: the cursor line in the foreground colour.
    expect(Array.from(fb)).toEqual(new Array(16).fill(FG));
  });

  it('double-width cells draw each bit twice', () => {
    const t = new TextScreen();
    t.setSize(1, 1);
    t.setFont(font(1, false, true));
    t.setCursorShape(0, 0, false);
    t.putChar(0, 0, 0x80, 0, BG, FG);
    const fb = new Uint32Array(16);
    t.render(fb, true);
    expect(Array.from(fb)).toEqual([FG, FG, ...new Array(14).fill(BG)]);
  });

  it('expands v86 6-bit DAC colours to the full 8-bit range', () => {
    expect(expandDac(0xa8a8a8)).toBe(0xaaaaaa);
    expect(expandDac(0xfcfcfc)).toBe(0xffffff);
    expect(expandDac(0x545454)).toBe(0x555555);
    expect(expandDac(0x575757)).toBe(0x555555); // v86 fills odd values' low bits with ones
    expect(expandDac(0xab57fc)).toBe(0xaa55ff);
    expect(expandDac(0)).toBe(0);
  });
});
