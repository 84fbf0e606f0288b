/**
 * Deterministic test pattern: the default source when nothing else is
 * available, and the backbone of the tests.
 *
 * {@link renderTestPattern} is a pure function of (frame, width, height).
 * {@link TestPatternSource} renders frames on a timer, finds what changed since
 * the last successfully pushed state, and pushes copy drawables for it through
 * a {@link QxlProducer}. No DOM: it runs on a page, in a worker or in Node.
 */

import { createLogger } from '../util/logger.ts';
import type { CursorShape, QxlProducer } from '../qxl/qxl-producer.ts';
import { FramebufferPusher } from './framebuffer-pusher.ts';
import type { AgentSink, ResizeRequest } from '../server/agent-sink.ts';
import type { InputSink } from '../server/input-sink.ts';

const log = createLogger('test-pattern');

/** Barcode geometry: bit i of the frame number is cell i, left to right, at the top-left. */
export const BARCODE_BITS = 32;
/** Side of one barcode cell in pixels. */
export const BARCODE_CELL = 8;
const WHITE = 0xffffff;
const BLACK = 0x000000;

/** Text area geometry. */
const GLYPH_W = 8;
const GLYPH_H = 12;
const TEXT_X = 16;
const TEXT_Y = 24;
/** Every LIVE_LINE_PERIOD-th line (offset LIVE_LINE_PHASE) has a prefix that changes each frame. */
const LIVE_LINE_PERIOD = 6;
const LIVE_LINE_PHASE = 3;
const LIVE_PREFIX_CHARS = 12;
const PANEL = 0xf2f0e6;
const INK = 0x202830;

/** A 32-bit integer hash (xor-shift-multiply avalanche); deterministic across platforms. */
export function hash32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d);
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

function hash3(a: number, b: number, c: number): number {
  return hash32((hash32((hash32(a) ^ b) >>> 0) ^ c) >>> 0);
}

/** Top-left corner and side of the moving box at `frame`. */
export function movingBox(frame: number, width: number, height: number): { x: number; y: number; size: number } {
  const size = Math.max(1, Math.min(96, Math.floor(width / 8), Math.floor(height / 6)));
  const tri = (t: number, span: number): number => {
    if (span <= 0) return 0;
    const p = t % (2 * span);
    return p < span ? p : 2 * span - p;
  };
  return { x: tri(frame * 7, width - size), y: tri(frame * 5, height - size), size };
}

/** Draws `frame` as the 32-cell barcode at the top-left (white = bit set, bit 0 leftmost). */
export function drawBarcode(out: Uint32Array, width: number, frame: number): void {
  for (let i = 0; i < BARCODE_BITS; i++) {
    const c = (frame >>> i) & 1 ? WHITE : BLACK;
    for (let y = 0; y < BARCODE_CELL; y++) out.fill(c, y * width + i * BARCODE_CELL, y * width + (i + 1) * BARCODE_CELL);
  }
}

/** Reads the frame number back from the barcode of a rendered frame (inverse of the pattern's encoding). */
export function readBarcode(pixels: Uint32Array, width: number): number {
  let n = 0;
  for (let i = 0; i < BARCODE_BITS; i++) {
    const x = i * BARCODE_CELL + (BARCODE_CELL >> 1);
    if (x >= width) break;
    const p = pixels[(BARCODE_CELL >> 1) * width + x]! & 0xffffff;
    if (p === WHITE) n |= 1 << i;
  }
  return n >>> 0;
}

/**
 * Renders frame `frame` of the pattern into `out` (width*height pixels,
 * 0x00RRGGBB, i.e. bytes B,G,R,0 in memory): a smooth gradient background, a
 * text-like panel (glyph blocks from a seeded hash; some lines change with the
 * frame), a moving solid box, and a 32-cell frame-counter barcode (8x8 cells,
 * white = bit set, bit 0 leftmost) at the top-left.
 */
export function renderTestPattern(frame: number, width: number, height: number, out: Uint32Array): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`renderTestPattern: expected positive integer width and height, got ${width}x${height}`);
  }
  if (out.length < width * height) {
    throw new RangeError(`renderTestPattern: expected out to hold at least ${width * height} pixels, got ${out.length}`);
  }
  if (!Number.isInteger(frame) || frame < 0) {
    throw new RangeError(`renderTestPattern: expected a non-negative integer frame, got ${frame}`);
  }
  const f = frame >>> 0;

  // Background: red along x, green along y, blue along the diagonal.
  const wx = Math.max(1, width - 1);
  const hy = Math.max(1, height - 1);
  const wd = Math.max(1, width + height - 2);
  for (let y = 0; y < height; y++) {
    const g = ((y * 255) / hy) | 0;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const r = ((x * 255) / wx) | 0;
      const b = 255 - ((((x + y) * 191) / wd) | 0);
      out[row + x] = (r << 16) | (g << 8) | b;
    }
  }

  // Text panel.
  const cols = Math.max(0, Math.floor((width - 2 * TEXT_X) / GLYPH_W));
  const lines = Math.max(0, Math.floor((height / 2 - TEXT_Y) / GLYPH_H));
  if (cols > 0 && lines > 0) {
    fillRect(out, width, TEXT_X - 4, TEXT_Y - 4, cols * GLYPH_W + 8, lines * GLYPH_H + 8, PANEL);
    for (let line = 0; line < lines; line++) {
      const lineLen = Math.min(cols, 16 + (hash3(0x7e57, line, 0) % Math.max(1, cols - 15)));
      const live = line % LIVE_LINE_PERIOD === LIVE_LINE_PHASE;
      for (let col = 0; col < lineLen; col++) {
        const seed = live && col < LIVE_PREFIX_CHARS ? hash3(line, col, f + 1) : hash3(line, col, 0);
        if (seed % 7 === 0) continue; // a space
        drawGlyph(out, width, TEXT_X + col * GLYPH_W, TEXT_Y + line * GLYPH_H, seed);
      }
    }
  }

  // Moving box, colour stepping every 30 frames.
  const box = movingBox(f, width, height);
  const palette = [0xe04020, 0x20a040, 0x3050e0, 0xe0c020];
  fillRect(out, width, box.x, box.y, box.size, box.size, palette[Math.floor(f / 30) % palette.length]!);

  // Frame counter barcode.
  drawBarcode(out, width, f);
}

/** Draws a 5x8 glyph-like block pattern from `seed` in an 8x12 cell. */
function drawGlyph(out: Uint32Array, width: number, x0: number, y0: number, seed: number): void {
  const bits = hash32(seed ^ 0x9e3779b9);
  const bits2 = hash32(seed ^ 0x85ebca6b);
  const height = out.length / width;
  for (let gy = 0; gy < 8; gy++) {
    const y = y0 + 2 + gy;
    if (y >= height) return;
    // Rows 0..5 from the first hash, 6..7 from the second; mirrored columns look letter-ish.
    const rowBits = gy < 6 ? (bits >>> (gy * 5)) & 0x1f : (bits2 >>> ((gy - 6) * 5)) & 0x1f;
    for (let gx = 0; gx < 5; gx++) {
      if ((rowBits >>> gx) & 1) {
        const x = x0 + 1 + gx;
        if (x < width) out[y * width + x] = INK;
      }
    }
  }
}

function fillRect(out: Uint32Array, width: number, x: number, y: number, w: number, h: number, color: number): void {
  const height = Math.floor(out.length / width);
  const x1 = Math.min(width, x + w);
  const y1 = Math.min(height, y + h);
  for (let yy = Math.max(0, y); yy < y1; yy++) out.fill(color, yy * width + Math.max(0, x), yy * width + x1);
}

/** A 32x32 ALPHA arrow cursor: white fill, black outline, soft shadow (0xAARRGGBB). */
export function testPatternCursor(): CursorShape {
  const size = 32;
  const argb = new Uint32Array(size * size);
  // Arrow tip at (1, 1) so the outline is complete: a head (triangle) and a stem.
  const inside = (px: number, py: number): boolean => {
    const x = px - 1;
    const y = py - 1;
    if (y < 0 || x < 0) return false;
    if (y < 20 && x <= y * 0.62) return true;
    return y >= 14 && y < 27 && x >= 5 && x < 9 && x <= y * 0.62 + 1;
  };
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let p = 0;
      if (inside(x, y)) {
        const edge = !inside(x - 1, y) || !inside(x + 1, y) || !inside(x, y - 1) || !inside(x, y + 1);
        p = edge ? 0xff000000 : 0xffffffff;
      } else if (inside(x - 2, y - 2)) {
        p = 0x60000000; // shadow: translucent black
      }
      argb[y * size + x] = p >>> 0;
    }
  }
  return { width: size, height: size, hotX: 1, hotY: 1, argb };
}

/**
 * The test pattern's input: relative motion (server mouse mode) moves its
 * cursor, the right button shows or hides it. Keys and absolute positions
 * change nothing (in client mode the client draws the cursor itself).
 */
export class TestPatternInput implements InputSink {
  constructor(private readonly pattern: TestPatternSource) {}
  keyDown(): void {}
  keyUp(): void {}
  setKeyModifiers(): void {}
  mousePosition(): void {}
  mouseMotion(dx: number, dy: number): void {
    const c = this.pattern.cursor;
    this.pattern.moveCursor(c.x + dx, c.y + dy);
  }
  mousePress(button: number): void {
    if (button === 3) this.pattern.setCursorVisible(!this.pattern.cursor.visible);
  }
  mouseRelease(): void {}
}

/**
 * The test pattern's side of the agent: it follows a client's window size
 * (a new primary surface) and keeps the text clients copied, for the page to show.
 */
export class TestPatternAgent implements AgentSink {
  /** The last text a client copied. */
  clipboard: string | null = null;
  /** The smallest screen the pattern draws (its barcode and text panel need room). */
  static readonly MIN_SIDE = 64;

  constructor(
    private readonly pattern: TestPatternSource,
    private readonly createPrimary: (width: number, height: number) => Promise<void>,
  ) {}

  clipboardText(text: string): void {
    this.clipboard = text;
  }

  async resizeRequest({ width, height }: ResizeRequest): Promise<boolean> {
    if (width < TestPatternAgent.MIN_SIDE || height < TestPatternAgent.MIN_SIDE) return false;
    await this.pattern.resize(width, height, this.createPrimary);
    return true;
  }
}

/** Options of {@link TestPatternSource}. */
export interface TestPatternOptions {
  width?: number;
  height?: number;
  fps?: number;
  /** Surface the drawables target (default 0, the primary surface). */
  surfaceId?: number;
}

/** A source that renders the test pattern on a timer and pushes the changes. */
export class TestPatternSource {
  private w: number;
  private h: number;
  readonly fps: number;
  readonly surfaceId: number;
  private readonly producer: QxlProducer;
  /** The frame currently rendered. */
  private fb: Uint32Array;
  /** Finds what changed since the last push and pushes it. */
  private pusher: FramebufferPusher;
  private current = 0;
  private rendered = false;
  /** A cursor command waits for room in the ring: SET (with shape), MOVE or HIDE. */
  private cursorPending: 'set' | 'move' | 'hide' | null = null;
  private cursorX = 0;
  private cursorY = 0;
  private cursorVisible = true;
  private running = false;
  private paused = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private nextDue = 0;

  constructor(producer: QxlProducer, opts: TestPatternOptions = {}) {
    this.producer = producer;
    this.w = opts.width ?? 1024;
    this.h = opts.height ?? 768;
    this.fps = opts.fps ?? 30;
    this.surfaceId = opts.surfaceId ?? 0;
    if (!Number.isInteger(this.width) || !Number.isInteger(this.height) || this.width <= 0 || this.height <= 0) {
      throw new RangeError(`TestPatternSource: expected positive integer width and height, got ${this.width}x${this.height}`);
    }
    if (!(this.fps > 0 && this.fps <= 1000)) throw new RangeError(`TestPatternSource: expected fps in (0, 1000], got ${this.fps}`);
    this.pusher = new FramebufferPusher(producer, this.width, this.height, this.surfaceId);
    this.fb = this.pusher.fb;
  }

  get width(): number {
    return this.w;
  }

  get height(): number {
    return this.h;
  }

  /**
   * Follows a new screen size (a client's window, through the agent): the
   * session gets a new primary surface from `createPrimary`, then the current
   * frame is rendered at the new size and pushed whole.
   */
  async resize(width: number, height: number, createPrimary: (width: number, height: number) => Promise<void>): Promise<void> {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new RangeError(`TestPatternSource.resize: expected positive integer width and height, got ${width}x${height}`);
    }
    if (width === this.w && height === this.h) return;
    // No frame may be pushed for the old surface while the new one is being made.
    this.clearTimer();
    const wasRunning = this.running;
    this.running = false;
    try {
      await createPrimary(width, height);
    } finally {
      this.running = wasRunning;
    }
    this.w = width;
    this.h = height;
    this.pusher = new FramebufferPusher(this.producer, width, height, this.surfaceId);
    this.fb = this.pusher.fb;
    this.cursorX = Math.min(this.cursorX, width - 1);
    this.cursorY = Math.min(this.cursorY, height - 1);
    this.render(this.current);
    this.flush();
    if (this.running) this.schedule();
    log.info(`resized to ${width}x${height}`);
  }

  /** Number of the frame currently rendered (the one being pushed). */
  get frame(): number {
    return this.current;
  }

  /** True while changed areas (or the cursor) are not yet pushed. */
  get pending(): boolean {
    return this.pusher.pending || this.cursorPending !== null;
  }

  /** True between {@link start} and {@link stop}. */
  get isRunning(): boolean {
    return this.running;
  }

  /** True while paused. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** The current frame's pixels (read-only by convention). */
  get framebuffer(): Uint32Array {
    return this.fb;
  }

  /** Pushes the cursor and the current frame, then advances one frame per tick. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.cursorX = this.width >> 1;
    this.cursorY = this.height >> 1;
    this.cursorPending = this.cursorVisible ? 'set' : 'hide';
    if (!this.rendered) this.render(this.current);
    this.flush();
    this.nextDue = now() + this.interval();
    this.schedule();
    log.debug(`started ${this.width}x${this.height} @ ${this.fps} fps`);
  }

  /** Where the cursor is and whether it shows. */
  get cursor(): { x: number; y: number; visible: boolean } {
    return { x: this.cursorX, y: this.cursorY, visible: this.cursorVisible };
  }

  /** Moves the hardware-like cursor (a MOVE on the cursor channel); clamped to the screen. */
  moveCursor(x: number, y: number): void {
    this.cursorX = Math.max(0, Math.min(this.width - 1, Math.round(x)));
    this.cursorY = Math.max(0, Math.min(this.height - 1, Math.round(y)));
    // A pending SET already carries the position; a HIDE must stay a HIDE.
    if (this.cursorVisible && this.cursorPending !== 'set') this.cursorPending = 'move';
    this.flush();
  }

  /** Shows (SET, with the shape) or hides (HIDE) the cursor. */
  setCursorVisible(visible: boolean): void {
    if (visible === this.cursorVisible) return;
    this.cursorVisible = visible;
    this.cursorPending = visible ? 'set' : 'hide';
    this.flush();
  }

  /** Stops the timer; the current frame stays as is. */
  stop(): void {
    this.running = false;
    this.clearTimer();
  }

  /** Stops advancing frames (pending pushes are still retried). */
  pause(): void {
    this.paused = true;
  }

  /** Resumes advancing frames. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.nextDue = now() + this.interval();
    if (this.running) this.schedule();
  }

  /**
   * Renders frame `n` and pushes what changed; works while paused or stopped
   * (when stopped, a push that does not fit is retried on the next start or setFrame).
   */
  setFrame(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`setFrame: expected a non-negative integer, got ${n}`);
    this.render(n);
    this.flush();
    if (this.running && this.pending) this.schedule();
  }

  private interval(): number {
    return 1000 / this.fps;
  }

  private render(n: number): void {
    this.current = n;
    renderTestPattern(n, this.width, this.height, this.fb);
    this.rendered = true;
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer !== null || !this.running) return;
    if (this.paused && !this.pending) return;
    const delay = Math.max(0, this.nextDue - now());
    this.timer = setTimeout(() => this.tick(), delay);
  }

  private tick(): void {
    this.timer = null;
    if (!this.running) return;
    const t = now();
    this.nextDue += this.interval();
    // Fell far behind (slow machine, throttled tab): don't try to catch up.
    if (this.nextDue < t - this.interval()) this.nextDue = t + this.interval();
    if (!this.paused) this.render(this.current + 1);
    this.flush();
    this.schedule();
  }

  /** Pushes the cursor (if due) and every area where the frame differs from what was pushed. */
  private flush(): void {
    if (this.cursorPending) {
      const p = this.producer;
      const x = this.cursorX;
      const y = this.cursorY;
      const pushed =
        this.cursorPending === 'set'
          ? p.pushCursorSet(x, y, testPatternCursor())
          : this.cursorPending === 'move'
            ? p.pushCursorMove(x, y)
            : p.pushCursorHide();
      if (pushed) this.cursorPending = null;
    }
    this.pusher.flush();
  }
}

function now(): number {
  return performance.now();
}
