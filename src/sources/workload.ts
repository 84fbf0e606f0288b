/**
 * Benchmark workloads: deterministic desktop scenes that change the way real
 * use does, at a fixed frame rate, each frame carrying its number in the
 * barcode at the top-left (so a client's picture says which frame it shows):
 * - `typing`: a terminal where text is typed and the screen scrolls;
 * - `drag`: a 300x200 window dragged over a desktop;
 * - `video`: a 320x240 region that changes completely every frame;
 * - `idle`: nothing changes.
 * The source records when each frame was pushed, for latency figures.
 */
import type { QxlProducer } from '../qxl/qxl-producer.ts';
import { FramebufferPusher } from './framebuffer-pusher.ts';
import { drawBarcode, hash32 } from './test-pattern.ts';

export const WORKLOADS = ['typing', 'drag', 'video', 'idle'] as const;
export type Workload = (typeof WORKLOADS)[number];

const LINE_H = 16;
const CHAR_W = 8;
const TERM_BG = 0x101418;
const TERM_FG = 0xd0d8c8;
const DESKTOP = 0x2f6f9f;

export interface WorkloadOptions {
  width?: number;
  height?: number;
  fps?: number;
}

export class WorkloadSource {
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly fb: Uint32Array;
  private readonly pusher: FramebufferPusher;
  private frameNo = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  /** performance.timeOrigin + now() when each recent frame was pushed, by frame number (bounded). */
  readonly pushedAt = new Map<number, number>();
  /** Frames that could not be pushed whole on time (device full). */
  late = 0;

  constructor(
    private readonly producer: QxlProducer,
    readonly workload: Workload,
    opts: WorkloadOptions = {},
  ) {
    this.width = opts.width ?? 1024;
    this.height = opts.height ?? 768;
    this.fps = opts.fps ?? 60;
    this.pusher = new FramebufferPusher(producer, this.width, this.height);
    this.fb = this.pusher.fb;
    this.drawBackground();
  }

  get frame(): number {
    return this.frameNo;
  }

  start(): void {
    if (this.workload === 'idle') {
      // Nothing changes: no timer at all once the first frame is out (idle must cost no CPU).
      this.flushIdle();
      return;
    }
    this.pusher.flush();
    this.timer = setInterval(() => this.tick(), 1000 / this.fps);
  }

  /** Pushes the current frame, retrying only while the device had no room for it (idle, and after stop). */
  private flushIdle(): void {
    this.timer = null;
    if (this.pusher.flush()) return;
    this.late++;
    this.timer = setTimeout(() => this.flushIdle(), 1000 / this.fps);
  }

  /**
   * `video` only: stops drawing but redraws the last frame's 320x240 area,
   * unchanged, at the frame rate. A video stream over it stays (the clients
   * show that one frame) for as long as someone looks; stop() ends it.
   */
  hold(): void {
    if (this.workload !== 'video') throw new Error(`hold: expected the video workload, got ${this.workload}`);
    if (this.timer) clearInterval(this.timer);
    const area = { left: (this.width - 320) >> 1, top: (this.height - 240) >> 1, width: 320, height: 240 };
    this.timer = setInterval(() => {
      // What is still pending of the last frame goes first; then the area again, bypassing change detection (nothing changed).
      const ok = this.pusher.pending ? this.pusher.flush() : this.producer.pushCopy(0, area, this.fb, this.width);
      if (!ok) this.late++;
    }, 1000 / this.fps);
  }

  /** Stops drawing; what was drawn last still goes out (retried while the device is full). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.flushIdle();
  }

  private tick(): void {
    this.frameNo++;
    this.render(this.frameNo);
    drawBarcode(this.fb, this.width, this.frameNo);
    if (!this.pusher.flush()) this.late++;
    this.pushedAt.set(this.frameNo, performance.timeOrigin + performance.now());
    if (this.pushedAt.size > 2000) this.pushedAt.delete(this.pushedAt.keys().next().value as number);
  }

  private drawBackground(): void {
    const { width, height, fb } = this;
    if (this.workload === 'typing') fb.fill(TERM_BG);
    else {
      fb.fill(DESKTOP);
      // Desktop furniture: icons and a taskbar, so a dragged window uncovers real content.
      for (let i = 0; i < 30; i++) this.rect(24 + (i % 3) * 72, 40 + Math.floor(i / 3) * 70, 48, 48, [0xf0c040, 0x60a060, 0xd05050][i % 3]!);
      this.rect(0, height - 32, width, 32, 0x202838);
      for (let x = 260; x < width - 40; x += 96) this.rect(x, 60, 80, (x * 7) % (height - 200), 0x4f8fbf);
    }
    drawBarcode(fb, width, 0);
  }

  private rect(x: number, y: number, w: number, h: number, c: number): void {
    const x0 = Math.max(0, x);
    const x1 = Math.min(this.width, x + w);
    for (let yy = Math.max(0, y); yy < Math.min(this.height, y + h); yy++) this.fb.fill(c, yy * this.width + x0, yy * this.width + x1);
  }

  private render(n: number): void {
    if (this.workload === 'typing') this.renderTyping(n);
    else if (this.workload === 'drag') this.renderDrag(n);
    else if (this.workload === 'video') this.renderVideo(n);
  }

  /** One character per frame; a full line scrolls the text area up one line. */
  private renderTyping(n: number): void {
    const { width, height, fb } = this;
    const cols = Math.floor((width - 16) / CHAR_W);
    const top = 16;
    const rows = Math.floor((height - top) / LINE_H);
    const col = (n - 1) % cols;
    if (col === 0 && n > 1) {
      // Scroll: every text row moves up one line; the new bottom line starts empty.
      fb.copyWithin(top * width, (top + LINE_H) * width, (top + rows * LINE_H) * width);
      fb.fill(TERM_BG, (top + (rows - 1) * LINE_H) * width, (top + rows * LINE_H) * width);
    }
    const y0 = top + (rows - 1) * LINE_H;
    const x0 = 8 + col * CHAR_W;
    const glyph = hash32(n) & 0xffffff;
    if (glyph % 5 !== 0) {
      for (let y = 2; y < 13; y++) {
        for (let x = 0; x < 6; x++) if ((glyph >>> ((y * 6 + x) % 24)) & 1) fb[(y0 + y) * width + x0 + x] = TERM_FG;
      }
    }
  }

  /** A 300x200 window moving along a loop; what it uncovers is the desktop again. */
  private renderDrag(n: number): void {
    const pos = (k: number): { x: number; y: number } => {
      const t = (k % 240) / 240;
      const a = t * 2 * Math.PI;
      return {
        x: Math.round((this.width - 300) / 2 + Math.cos(a) * (this.width - 360) * 0.45),
        y: Math.round((this.height - 200) / 2 + Math.sin(a) * (this.height - 260) * 0.45),
      };
    };
    const prev = pos(n - 1);
    const cur = pos(n);
    // Uncover: redraw the desktop where the window was (background + furniture drawn procedurally).
    this.desktopRect(prev.x, prev.y, 300, 200);
    this.rect(cur.x - 1, cur.y - 1, 302, 202, 0x101010);
    this.rect(cur.x, cur.y, 300, 24, 0x1c4f8a);
    this.rect(cur.x, cur.y + 24, 300, 176, 0xf4f4f4);
    // Window content moves with it, as a real window does.
    for (let row = cur.y + 34; row < cur.y + 190; row += 18) this.rect(cur.x + 10, row, 180 + (((row - cur.y) * 13) % 100), 8, 0xb8b8b8);
  }

  private desktopRect(x: number, y: number, w: number, h: number): void {
    this.rect(x - 1, y - 1, w + 2, h + 2, DESKTOP);
    // Furniture intersecting the area.
    for (let i = 0; i < 30; i++) {
      const ix = 24 + (i % 3) * 72;
      const iy = 40 + Math.floor(i / 3) * 70;
      if (ix < x + w + 1 && ix + 48 > x - 1 && iy < y + h + 1 && iy + 48 > y - 1) {
        this.clipRect(ix, iy, 48, 48, [0xf0c040, 0x60a060, 0xd05050][i % 3]!, x - 1, y - 1, w + 2, h + 2);
      }
    }
    for (let bx = 260; bx < this.width - 40; bx += 96) {
      this.clipRect(bx, 60, 80, (bx * 7) % (this.height - 200), 0x4f8fbf, x - 1, y - 1, w + 2, h + 2);
    }
    this.clipRect(0, this.height - 32, this.width, 32, 0x202838, x - 1, y - 1, w + 2, h + 2);
  }

  private clipRect(x: number, y: number, w: number, h: number, c: number, cx: number, cy: number, cw: number, ch: number): void {
    const x0 = Math.max(x, cx);
    const y0 = Math.max(y, cy);
    const x1 = Math.min(x + w, cx + cw);
    const y1 = Math.min(y + h, cy + ch);
    if (x1 > x0 && y1 > y0) this.rect(x0, y0, x1 - x0, y1 - y0, c);
  }

  /** A 320x240 picture that changes completely each frame (smooth, photo-like). */
  private renderVideo(n: number): void {
    const x0 = (this.width - 320) >> 1;
    const y0 = (this.height - 240) >> 1;
    for (let y = 0; y < 240; y++) {
      const row = (y0 + y) * this.width + x0;
      for (let x = 0; x < 320; x++) {
        const r = (x + n * 3) & 0xff;
        const g = (y * 2 + n) & 0xff;
        const b = ((x + y) >> 1) + ((n * 5) & 0x7f);
        this.fb[row + x] = (r << 16) | (g << 8) | (b & 0xff);
      }
    }
  }
}
