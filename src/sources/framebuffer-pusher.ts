/**
 * Turns a framebuffer into QXL drawables. The source renders into
 * {@link FramebufferPusher.fb}, which lives in the device memory so that the
 * WASM change detector (change-detector.ts) compares it in place with a
 * mirror of what was pushed. Each flush pushes what changed: a COPY_BITS
 * first when an area scrolled or a block moved, then copy drawables for the
 * rest. The first flush after creation or {@link FramebufferPusher.invalidate}
 * is the whole frame. Shared by every framebuffer source (test pattern,
 * workloads, v86, canvas).
 *
 * One pusher per device at a time: the frame and the mirror are the device's
 * SOURCE_FRAME and SOURCE_MIRROR regions.
 */
import type { QxlProducer } from '../qxl/qxl-producer.ts';
import { ChangeDetector, type ChangeDetectorOptions } from './change-detector.ts';

export class FramebufferPusher {
  /** xRGB pixels (0x00RRGGBB), rows top to bottom, `width` pixels per row: render here. */
  readonly fb: Uint32Array;
  private readonly detector: ChangeDetector;

  constructor(
    private readonly producer: QxlProducer,
    readonly width: number,
    readonly height: number,
    readonly surfaceId = 0,
    options: ChangeDetectorOptions = {},
  ) {
    this.detector = new ChangeDetector(producer.device, width, height, options);
    this.fb = this.detector.frame;
    // The region holds whatever the last pusher left: start black, like a fresh buffer.
    this.fb.fill(0);
  }

  /** True while something may differ from what was pushed (or a full push is due). */
  get pending(): boolean {
    return this.detector.pending;
  }

  /** The next flush pushes the whole frame (e.g. after the surface was recreated). */
  invalidate(): void {
    this.detector.invalidate();
  }

  /**
   * Pushes what changed. `dirtyRows` [from, to), when the source knows it,
   * limits the rows compared. Returns false when the device had no room for
   * all of it; the rest stays pending for the next call.
   */
  flush(dirtyRows?: readonly [number, number]): boolean {
    const d = this.detector;
    for (const c of d.detect(dirtyRows)) {
      if (c.kind === 'scroll') {
        if (!this.producer.pushCopyBits(this.surfaceId, c.dest, c.srcX, c.srcY)) return false;
        d.commitScroll(c.dest, c.srcX, c.srcY);
      } else {
        if (!this.producer.pushCopy(this.surfaceId, c.rect, this.fb, this.width, c.rect.left, c.rect.top)) return false;
        d.commit(c.rect);
      }
    }
    return true;
  }
}
