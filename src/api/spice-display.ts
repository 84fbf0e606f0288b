/**
 * The {@link SpiceDisplay} a session hands to a library source: the primary
 * surface (created in the RedWorker through the dispatcher), a framebuffer
 * pusher with change detection, and the cursor.
 */
import type { CursorShape, QxlProducer } from '../qxl/qxl-producer.ts';
import { MAX_SURFACE_HEIGHT, MAX_SURFACE_WIDTH } from '../qxl/qxl-layout.ts';
import { FramebufferPusher } from '../sources/framebuffer-pusher.ts';
import type { Rect, SpiceDisplay } from './spice-source.ts';

export class SessionDisplay implements SpiceDisplay {
  private pusher: FramebufferPusher | null = null;
  private cursorShown = false;

  constructor(
    readonly producer: QxlProducer,
    private readonly createPrimary: (width: number, height: number) => Promise<void>,
  ) {}

  get width(): number {
    return this.pusher?.width ?? 0;
  }

  get height(): number {
    return this.pusher?.height ?? 0;
  }

  get framebuffer(): Uint32Array {
    return this.pusher?.fb ?? new Uint32Array(0);
  }

  async resize(width: number, height: number): Promise<void> {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 ||
        width > MAX_SURFACE_WIDTH || height > MAX_SURFACE_HEIGHT) {
      throw new RangeError(`SpiceDisplay.resize: expected 1x1 to ${MAX_SURFACE_WIDTH}x${MAX_SURFACE_HEIGHT}, got ${width}x${height}`);
    }
    if (this.pusher && this.pusher.width === width && this.pusher.height === height) return;
    // Draws queued for the old surface go first; then the new surface and its whole first frame.
    await this.createPrimary(width, height);
    this.pusher = new FramebufferPusher(this.producer, width, height);
  }

  flush(dirty?: readonly Rect[]): boolean {
    const p = this.pusher;
    if (!p) throw new Error('SpiceDisplay.flush: call resize() first: there is no surface yet');
    if (!dirty) return p.flush();
    if (dirty.length === 0) return p.pending ? p.flush([0, 0]) : true;
    let from = Infinity;
    let to = 0;
    for (const r of dirty) {
      from = Math.min(from, r.top);
      to = Math.max(to, r.top + r.height);
    }
    return p.flush([from, to]);
  }

  pushRgba(rgba: Uint8Array | Uint8ClampedArray, dirty?: readonly Rect[]): boolean {
    const fb = this.framebuffer;
    if (rgba.byteLength !== fb.length * 4) {
      throw new RangeError(`SpiceDisplay.pushRgba: expected ${fb.length * 4} bytes (${this.width}x${this.height} RGBA), got ${rgba.byteLength}`);
    }
    rgbaToXrgb(rgba, fb);
    return this.flush(dirty);
  }

  setCursor(shape: CursorShape | null, x = 0, y = 0): boolean {
    if (!shape) {
      this.cursorShown = false;
      return this.producer.pushCursorHide();
    }
    this.cursorShown = true;
    return this.producer.pushCursorSet(x, y, shape);
  }

  moveCursor(x: number, y: number): boolean {
    return this.cursorShown ? this.producer.pushCursorMove(x, y) : true;
  }
}

/** RGBA bytes (R,G,B,A) to xRGB words (0x00RRGGBB). */
export function rgbaToXrgb(rgba: Uint8Array | Uint8ClampedArray, out: Uint32Array): void {
  const aligned = rgba.byteOffset % 4 === 0 ? rgba : rgba.slice();
  const words = new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength >>> 2);
  for (let i = 0; i < words.length; i++) {
    const p = words[i]!; // 0xAABBGGRR read little-endian
    out[i] = ((p & 0xff) << 16) | (p & 0xff00) | ((p >>> 16) & 0xff);
  }
}
