/**
 * Turns the image of a QXL copy drawable into the packed, top-down B,G,R,x
 * pixels the display channel sends: the src_area cut out, stride = 4·width
 * (spice-html5 ignores src_area and stride padding, so images go already cut).
 */
import { BitmapFormat, ImageType } from '../qxl/qxl-layout.ts';

export interface CopyImageInput {
  srcArea: { top: number; left: number; bottom: number; right: number };
  image: {
    type?: number;
    width: number;
    height: number;
    format: number;
    stride: number;
    topDown: boolean;
    pixels: Uint8Array;
  };
}

export function packCopyImage(copy: CopyImageInput): { width: number; height: number; pixels: Uint8Array } {
  const { image, srcArea } = copy;
  if (image.type !== undefined && image.type !== ImageType.BITMAP) {
    throw new Error(`image type ${image.type} not supported (expected BITMAP ${ImageType.BITMAP})`);
  }
  if (image.format !== BitmapFormat._32BIT && image.format !== BitmapFormat.RGBA) {
    throw new Error(`bitmap format ${image.format} not supported (expected 32BIT or RGBA)`);
  }
  const { left, top, right, bottom } = srcArea;
  if (left < 0 || top < 0 || right > image.width || bottom > image.height || right <= left || bottom <= top) {
    throw new Error(
      `src_area (${left},${top})-(${right},${bottom}) not inside the ${image.width}x${image.height} image`,
    );
  }
  if (image.stride < image.width * 4 || image.pixels.byteLength < image.stride * image.height) {
    throw new Error(
      `bitmap data: expected stride ≥ ${image.width * 4} and ≥ ${image.stride * image.height} bytes, got stride ${image.stride}, ${image.pixels.byteLength} bytes`,
    );
  }
  const width = right - left;
  const height = bottom - top;
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const srcRow = image.topDown ? top + y : image.height - 1 - (top + y);
    const from = srcRow * image.stride + left * 4;
    out.set(image.pixels.subarray(from, from + width * 4), y * width * 4);
  }
  return { width, height, pixels: out };
}
