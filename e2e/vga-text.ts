/**
 * Expected pictures of VGA text mode, built in the test from the guest's raw
 * VGA memory (character and attribute bytes, font plane) — independently of the
 * server's text renderer — so a client's picture can be checked cell by cell.
 */
import type { VgaTextDump } from '../src/sources/v86/v86-api.ts';
import type { RgbImage } from './harness.ts';

/** The default VGA text palette as SeaBIOS programs it (6-bit DAC values widened to 8 bits). */
const PALETTE = [
  0x000000, 0x0000aa, 0x00aa00, 0x00aaaa, 0xaa0000, 0xaa00aa, 0xaa5500, 0xaaaaaa,
  0x555555, 0x5555ff, 0x55ff55, 0x55ffff, 0xff5555, 0xff55ff, 0xffff55, 0xffffff,
];

export interface CellMismatch {
  row: number;
  col: number;
  chr: number;
  attr: number;
  /** The first differing pixel: what the picture has and what was expected (0xRRGGBB hex). */
  got: string;
  want: string;
}

/**
 * Compares a client picture with the text screen, cell by cell; returns the
 * cells that differ. Blinking cells (attribute bit 7 while blinking is on) show
 * or hide their glyph with the blink phase and are left out.
 */
export function compareTextScreen(
  img: RgbImage,
  dump: VgaTextDump,
  skip: (row: number, col: number) => boolean = () => false,
): CellMismatch[] {
  const cw = dump.width9 ? 9 : 8;
  const ch = dump.fontHeight;
  if (img.width !== dump.cols * cw || img.height !== dump.rows * ch) {
    throw new Error(`picture ${img.width}x${img.height}, expected ${dump.cols * cw}x${dump.rows * ch} for ${dump.cols}x${dump.rows} cells`);
  }
  const bad: CellMismatch[] = [];
  for (let row = 0; row < dump.rows; row++) {
    for (let col = 0; col < dump.cols; col++) {
      if (skip(row, col)) continue;
      const i = (row * dump.cols + col) * 2;
      const chr = dump.cells[i]!;
      const attr = dump.cells[i + 1]!;
      if (dump.blinkEnabled && attr & 0x80) continue;
      const fg = PALETTE[attr & 15]!;
      const bg = PALETTE[dump.blinkEnabled ? (attr >> 4) & 7 : attr >> 4]!;
      let ok = true;
      let got = 0;
      let want = 0;
      for (let y = 0; y < ch && ok; y++) {
        const bits = dump.font[chr * 32 + y]!;
        for (let x = 0; x < cw && ok; x++) {
          const on = x < 8 ? (bits >> (7 - x)) & 1 : chr >= 0xc0 && chr <= 0xdf ? bits & 1 : 0;
          want = on ? fg : bg;
          const o = ((row * ch + y) * img.width + col * cw + x) * 3;
          got = (img.rgb[o]! << 16) | (img.rgb[o + 1]! << 8) | img.rgb[o + 2]!;
          ok = got === want;
        }
      }
      if (!ok) bad.push({ row, col, chr, attr, got: got.toString(16), want: want.toString(16) });
    }
  }
  return bad;
}

/** The screen as text (printable ASCII; other bytes as '.'), for messages. */
export function textOf(dump: VgaTextDump): string[] {
  const lines: string[] = [];
  for (let r = 0; r < dump.rows; r++) {
    let s = '';
    for (let c = 0; c < dump.cols; c++) {
      const b = dump.cells[(r * dump.cols + c) * 2]!;
      s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : b === 0 ? ' ' : '.';
    }
    lines.push(s.trimEnd());
  }
  return lines;
}
