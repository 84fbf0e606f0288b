/**
 * The v86 VGA as a framebuffer source. Implements the calls v86 makes on its
 * screen adapter (cells, font, cursor, sizes, graphics layers), keeps one xRGB
 * framebuffer of the current mode, and on each {@link V86Display.pump} pushes
 * what changed as QXL copy drawables. A change of mode or size first recreates
 * the primary surface (the host's create-primary request), then pushes the
 * whole new frame.
 */
import { MAX_SURFACE_HEIGHT as MAX_HEIGHT, MAX_SURFACE_WIDTH as MAX_WIDTH } from '../../qxl/qxl-layout.ts';
import type { QxlProducer } from '../../qxl/qxl-producer.ts';
import { createLogger } from '../../util/logger.ts';
import { FramebufferPusher } from '../framebuffer-pusher.ts';
import { CURSOR_BLINK_MS, TextScreen } from './text-renderer.ts';

const log = createLogger('v86-display');

/** What the display needs from its host: the QXL create-primary request. */
export interface DisplayHost {
  createPrimary(width: number, height: number): Promise<void>;
}

/** One rectangle of v86's graphics buffer placed on the screen (v86's "layer"). */
export interface V86Layer {
  image_data: { data: Uint8ClampedArray; width: number; height: number };
  screen_x: number;
  screen_y: number;
  buffer_x: number;
  buffer_y: number;
  buffer_width: number;
  buffer_height: number;
}

/** The subset of v86's VGA device the display drives. */
export interface V86Vga {
  screen_fill_buffer(): void;
  svga_enabled: boolean;
  svga_bpp: number;
  /** Bochs DISPI enable register; bit 5 = the guest asked for an 8-bit DAC. */
  dispi_enable_value: number;
}

/**
 * v86 widens the 6-bit DAC values a guest writes approximately (42 → 0xA8,
 * 21 → 0x57); VGA hardware spans the range evenly (v·255/63: 42 → 0xAA,
 * 21 → 0x55). Each channel is taken back to its 6 bits and widened properly.
 */
export function expandDac(rgb: number): number {
  const v = (rgb >>> 2) & 0x3f3f3f;
  return (v << 2) | ((v >>> 4) & 0x030303);
}


export class V86Display {
  mode: 'text' | 'graphics' = 'text';
  readonly text = new TextScreen();
  private gfxWidth = 0;
  private gfxHeight = 0;
  private fb: Uint32Array = new Uint32Array(0);
  /** Rows [from, to) the guest redrew since the last push (graphics modes): the only ones compared. */
  private dirtyFrom = Infinity;
  private dirtyTo = 0;
  private pusher: FramebufferPusher | null = null;
  private surface: { width: number; height: number } | null = null;
  private blinkOn = true;
  private lastBlink = 0;
  private pumping = false;
  /** Frames pushed and mode changes, for stats. */
  surfacesCreated = 0;

  constructor(
    private readonly producer: QxlProducer,
    private readonly host: DisplayHost,
    private readonly vga: () => V86Vga | null,
  ) {}

  get size(): { width: number; height: number } | null {
    return this.surface;
  }

  /** The current frame (xRGB), for tests and previews. */
  get framebuffer(): Uint32Array {
    return this.fb;
  }

  /** True while pushed state lags the framebuffer. */
  get pending(): boolean {
    return this.pusher?.pending ?? false;
  }

  /** The methods v86 calls on its screen adapter; assign them onto `emulator.screen_adapter`. */
  adapterMethods(): Record<string, (...args: never[]) => unknown> {
    const t = this.text;
    return {
      put_char: (row: number, col: number, chr: number, flags: number, bg: number, fg: number) =>
        t.putChar(row, col, chr, flags, expandDac(bg), expandDac(fg)),
      set_mode: (graphical: boolean) => {
        this.mode = graphical ? 'graphics' : 'text';
        if (!graphical) t.invalidate();
      },
      set_size_text: (cols: number, rows: number) => t.setSize(cols, rows),
      set_size_graphical: (width: number, height: number) => {
        this.gfxWidth = width;
        this.gfxHeight = height;
      },
      set_font_bitmap: (height: number, width9: boolean, double: boolean, copy8th: boolean, bitmap: Uint8Array) =>
        // Plane 2 is live guest memory: keep a copy so later font writes are seen only when v86 says so.
        t.setFont({ height, width9, double, copy8th, bitmap: bitmap.slice() }),
      set_font_page: (a: number, b: number) => t.setFontPages(a, b),
      update_cursor: (row: number, col: number) => t.setCursor(row, col),
      update_cursor_scanline: (start: number, end: number, enabled: boolean) => t.setCursorShape(start, end, enabled),
      update_buffer: (layers: V86Layer[]) => this.copyLayers(layers),
      clear_screen: () => {
        this.fb.fill(0);
        this.markDirty(0, this.surface?.height ?? 0);
      },
      clear_text_state: () => t.invalidate(),
      get_text_screen: () => t.textLines(),
      get_text_row: (row: number) => t.textLines()[row] ?? '',
      destroy: () => {},
      pause: () => {},
      continue: () => {},
      set_scale: () => {},
    };
  }

  private wanted(): { width: number; height: number } | null {
    if (this.mode === 'text') {
      if (!this.text.font) return null;
      return { width: this.text.pixelWidth, height: this.text.pixelHeight };
    }
    if (!this.gfxWidth || !this.gfxHeight) return null;
    return { width: this.gfxWidth, height: this.gfxHeight };
  }

  /**
   * Brings the surface up to date: recreates it on a mode or size change,
   * redraws, pushes changes. Never runs twice at once.
   */
  async pump(now = performance.now()): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      const want = this.wanted();
      if (!want) return;
      if (want.width > MAX_WIDTH || want.height > MAX_HEIGHT) {
        log.warn(`guest mode ${want.width}x${want.height} larger than ${MAX_WIDTH}x${MAX_HEIGHT}; not shown`);
        return;
      }
      if (!this.surface || this.surface.width !== want.width || this.surface.height !== want.height) {
        await this.recreate(want.width, want.height);
      }
      if (this.mode === 'graphics') {
        this.vga()?.screen_fill_buffer();
      } else {
        if (now - this.lastBlink >= CURSOR_BLINK_MS) {
          this.lastBlink = now;
          this.blinkOn = !this.blinkOn;
          this.text.blinkChanged();
        }
        this.text.render(this.fb, this.blinkOn);
        this.markDirty(0, this.surface!.height);
      }
      const rows: [number, number] = this.dirtyTo > this.dirtyFrom ? [this.dirtyFrom, this.dirtyTo] : [0, 0];
      this.dirtyFrom = Infinity;
      this.dirtyTo = 0;
      this.pusher!.flush(rows);
    } finally {
      this.pumping = false;
    }
  }

  private async recreate(width: number, height: number): Promise<void> {
    // Draws still queued for the old surface go first; then the new surface, then its whole frame.
    await this.host.createPrimary(width, height);
    this.surface = { width, height };
    this.pusher = new FramebufferPusher(this.producer, width, height);
    this.fb = this.pusher.fb;
    this.text.invalidate();
    this.surfacesCreated++;
    log.info(`guest ${this.mode} mode ${width}x${height}`);
  }

  private markDirty(from: number, to: number): void {
    this.dirtyFrom = Math.min(this.dirtyFrom, from);
    this.dirtyTo = Math.max(this.dirtyTo, to);
  }

  /** Copies v86's RGBA layers into the xRGB framebuffer, clipped to the surface. */
  private copyLayers(layers: V86Layer[]): void {
    const s = this.surface;
    if (!s || this.mode !== 'graphics') return;
    const vga = this.vga();
    // Palette modes come from the 6-bit DAC; direct-colour VBE modes (and an 8-bit DAC) are the guest's own bytes.
    const palette = !vga || ((!vga.svga_enabled || vga.svga_bpp === 8) && !(vga.dispi_enable_value & 32));
    for (const l of layers) {
      const d = l.image_data.data;
      if (d.byteLength === 0) continue;
      const src = new Uint32Array(d.buffer, d.byteOffset, d.byteLength >>> 2);
      const srcWidth = l.image_data.width;
      const dx = l.screen_x - l.buffer_x;
      const dy = l.screen_y - l.buffer_y;
      const x0 = Math.max(l.buffer_x, -dx);
      const x1 = Math.min(l.buffer_x + l.buffer_width, s.width - dx, srcWidth);
      const y0 = Math.max(l.buffer_y, -dy);
      const y1 = Math.min(l.buffer_y + l.buffer_height, s.height - dy, l.image_data.height);
      if (y1 > y0) this.markDirty(y0 + dy, y1 + dy);
      for (let y = y0; y < y1; y++) {
        const from = y * srcWidth;
        const to = (y + dy) * s.width + dx;
        for (let x = x0; x < x1; x++) {
          // RGBA bytes read as a little-endian word are 0xAABBGGRR; xRGB wants 0x00RRGGBB.
          const p = src[from + x]!;
          const rgb = ((p & 0xff) << 16) | (p & 0xff00) | ((p >>> 16) & 0xff);
          this.fb[to + x] = palette ? expandDac(rgb) : rgb;
        }
      }
    }
  }
}
