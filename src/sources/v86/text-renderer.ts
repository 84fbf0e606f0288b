/**
 * VGA text mode rendered by us: characters, attributes and the guest's own
 * font (VGA plane 2), with blinking characters and the blinking hardware
 * cursor. v86 hands over cells and the font bitmap; its graphical text renderer
 * is not used (it garbles rows), so what clients see is drawn here.
 */

/** Bytes per character in VGA plane 2: 32 scan lines, one byte each. */
const FONT_CHAR_STRIDE = 32;
/** VGA hardware: the cursor blinks every 16 frames, blinking text every 32 (at ~60 Hz). */
export const CURSOR_BLINK_MS = 267;

export interface VgaFont {
  /** Scan lines per character (1..32). */
  height: number;
  /** 9-pixel-wide cells (the 9th column blank, or copied for line-drawing chars). */
  width9: boolean;
  /** Double-width cells (each font bit drawn twice). */
  double: boolean;
  /** Copy the 8th column into the 9th for characters 0xC0–0xDF. */
  copy8th: boolean;
  /** Plane 2: 8 font pages × 256 characters × 32 bytes. */
  bitmap: Uint8Array;
}

export interface TextCursor {
  row: number;
  col: number;
  /** First and last scan line of the cursor within the cell. */
  start: number;
  end: number;
  enabled: boolean;
}

export class TextScreen {
  cols = 80;
  rows = 25;
  chars = new Uint8Array(80 * 25);
  flags = new Uint8Array(80 * 25);
  bg = new Uint32Array(80 * 25);
  fg = new Uint32Array(80 * 25);
  font: VgaFont | null = null;
  fontPageA = 0;
  fontPageB = 0;
  cursor: TextCursor = { row: 0, col: 0, start: 13, end: 14, enabled: true };
  /** Rows whose pixels must be redrawn. */
  private dirty = new Uint8Array(25);

  get cellWidth(): number {
    if (!this.font) return 9;
    return this.font.double ? 16 : this.font.width9 ? 9 : 8;
  }

  get cellHeight(): number {
    return this.font ? this.font.height : 16;
  }

  get pixelWidth(): number {
    return this.cols * this.cellWidth;
  }

  get pixelHeight(): number {
    return this.rows * this.cellHeight;
  }

  setSize(cols: number, rows: number): void {
    if (cols === this.cols && rows === this.rows) return;
    this.cols = cols;
    this.rows = rows;
    const n = cols * rows;
    this.chars = new Uint8Array(n);
    this.flags = new Uint8Array(n);
    this.bg = new Uint32Array(n);
    this.fg = new Uint32Array(n);
    this.dirty = new Uint8Array(rows);
    this.invalidate();
  }

  /** v86 flags: bit 0 blink, bit 1 second font page. Colours are 0xRRGGBB. */
  putChar(row: number, col: number, chr: number, flags: number, bg: number, fg: number): void {
    if (row < 0 || row >= this.rows || col < 0 || col >= this.cols) return;
    const i = row * this.cols + col;
    this.chars[i] = chr;
    this.flags[i] = flags;
    this.bg[i] = bg & 0xffffff;
    this.fg[i] = fg & 0xffffff;
    this.dirty[row] = 1;
  }

  setFont(font: VgaFont): void {
    this.font = font;
    this.invalidate();
  }

  setFontPages(a: number, b: number): void {
    this.fontPageA = a;
    this.fontPageB = b;
    this.invalidate();
  }

  setCursor(row: number, col: number): void {
    this.markCursorRow();
    this.cursor.row = row;
    this.cursor.col = col;
    this.markCursorRow();
  }

  setCursorShape(start: number, end: number, enabled: boolean): void {
    Object.assign(this.cursor, { start, end, enabled });
    this.markCursorRow();
  }

  /** Blink phase changed: rows with blinking cells and the cursor row need redrawing. */
  blinkChanged(): void {
    for (let r = 0; r < this.rows; r++) {
      for (let c = 0; c < this.cols; c++) {
        if (this.flags[r * this.cols + c]! & 1) {
          this.dirty[r] = 1;
          break;
        }
      }
    }
    this.markCursorRow();
  }

  invalidate(): void {
    this.dirty.fill(1);
  }

  private markCursorRow(): void {
    if (this.cursor.row >= 0 && this.cursor.row < this.rows) this.dirty[this.cursor.row] = 1;
  }

  /**
   * Draws dirty rows into `fb` (xRGB, `pixelWidth` per row). `blinkOn` is the
   * phase in which blinking text and the cursor are visible. Returns whether
   * anything was drawn.
   */
  render(fb: Uint32Array, blinkOn: boolean): boolean {
    const font = this.font;
    if (!font) return false;
    const cw = this.cellWidth;
    const ch = this.cellHeight;
    const stride = this.pixelWidth;
    let any = false;
    for (let row = 0; row < this.rows; row++) {
      if (!this.dirty[row]) continue;
      this.dirty[row] = 0;
      any = true;
      for (let col = 0; col < this.cols; col++) {
        const i = row * this.cols + col;
        const chr = this.chars[i]!;
        const flags = this.flags[i]!;
        const bg = this.bg[i]!;
        const fg = this.fg[i]!;
        const visible = !(flags & 1) || blinkOn;
        const page = flags & 2 ? this.fontPageB : this.fontPageA;
        const glyph = ((page << 8) + chr) * FONT_CHAR_STRIDE;
        const lineChar = font.copy8th && chr >= 0xc0 && chr <= 0xdf;
        const x0 = col * cw;
        for (let y = 0; y < ch; y++) {
          const bits = visible ? font.bitmap[glyph + y] ?? 0 : 0;
          const o = (row * ch + y) * stride + x0;
          if (font.double) {
            for (let b = 0; b < 8; b++) {
              const c = (bits >> (7 - b)) & 1 ? fg : bg;
              fb[o + 2 * b] = c;
              fb[o + 2 * b + 1] = c;
            }
          } else {
            for (let b = 0; b < 8; b++) fb[o + b] = (bits >> (7 - b)) & 1 ? fg : bg;
            if (font.width9) fb[o + 8] = lineChar && bits & 1 ? fg : bg;
          }
        }
      }
      const c = this.cursor;
      if (blinkOn && c.enabled && c.row === row && c.col >= 0 && c.col < this.cols && c.start <= c.end) {
        const colour = this.fg[row * this.cols + c.col]!;
        for (let y = c.start; y <= Math.min(c.end, ch - 1); y++) {
          const o = (row * ch + y) * stride + c.col * cw;
          fb.fill(colour, o, o + cw);
        }
      }
    }
    return any;
  }

  /** The screen as text lines, code page 437 bytes mapped by `charmap` (default: printable ASCII, others as '?'). */
  textLines(charmap?: (chr: number) => string): string[] {
    const map = charmap ?? ((c: number) => (c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : c === 0 ? ' ' : '?'));
    const lines: string[] = [];
    for (let r = 0; r < this.rows; r++) {
      let s = '';
      for (let c = 0; c < this.cols; c++) s += map(this.chars[r * this.cols + c]!);
      lines.push(s);
    }
    return lines;
  }
}
