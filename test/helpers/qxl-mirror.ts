/**
 * Test helper: applies parsed QXL copy drawables to a mirror framebuffer
 * (0x00RRGGBB pixels), the way a display client would.
 */
import type { QxlDrawable } from '../../src/qxl/qxl-consumer.ts';
import { BitmapFormat, QxlDrawType, Ropd } from '../../src/qxl/qxl-layout.ts';

export function applyCopy(mirror: Uint32Array, mirrorWidth: number, d: QxlDrawable): void {
  if (d.type !== QxlDrawType.COPY || !d.copy) throw new Error(`applyCopy: expected a COPY drawable, got type ${d.type}`);
  const { image, srcArea, rop } = d.copy;
  if (rop !== Ropd.OP_PUT) throw new Error(`applyCopy: expected rop OP_PUT, got ${rop}`);
  if (image.format !== BitmapFormat._32BIT) throw new Error(`applyCopy: expected 32BIT bitmap, got ${image.format}`);
  const w = d.bbox.right - d.bbox.left;
  const h = d.bbox.bottom - d.bbox.top;
  const view = new DataView(image.pixels.buffer, image.pixels.byteOffset, image.pixels.byteLength);
  for (let y = 0; y < h; y++) {
    const sy = image.topDown ? srcArea.top + y : image.height - 1 - (srcArea.top + y);
    for (let x = 0; x < w; x++) {
      const px = view.getUint32(sy * image.stride + (srcArea.left + x) * 4, true) & 0xffffff;
      mirror[(d.bbox.top + y) * mirrorWidth + d.bbox.left + x] = px;
    }
  }
}
