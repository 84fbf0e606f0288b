/**
 * Checks shared by the codecs that run in WASM on device memory: the area is
 * a sane size, lies inside device memory, and does not overlap the encoder
 * regions the codec writes while it reads.
 */
import type { QxlDevice } from '../qxl/qxl-device.ts';
import { MAX_SURFACE_HEIGHT, MAX_SURFACE_WIDTH, Region } from '../qxl/qxl-layout.ts';

/**
 * Throws an Error naming `codec`, what was expected and what came, when the
 * area cannot be encoded. `surfaceSized`: the codec also needs the area to be
 * no larger than a surface (its work memory is sized for that).
 */
export function checkDeviceArea(
  codec: string, device: QxlDevice, srcAddr: number, srcStride: number, width: number, height: number, surfaceSized = true,
): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`${codec}: expected a size of at least 1x1 in whole pixels, got ${width}x${height}`);
  }
  if (surfaceSized && (width > MAX_SURFACE_WIDTH || height > MAX_SURFACE_HEIGHT)) {
    throw new Error(`${codec}: expected a size from 1x1 to ${MAX_SURFACE_WIDTH}x${MAX_SURFACE_HEIGHT}, got ${width}x${height}`);
  }
  if (!Number.isInteger(srcStride) || srcStride < width * 4) {
    throw new Error(`${codec}: expected a row pitch of at least ${width * 4} bytes (4·width), got ${srcStride}`);
  }
  const last = srcAddr + (height - 1) * srcStride + width * 4;
  if (!Number.isInteger(srcAddr) || srcAddr < 0 || last > device.byteLength) {
    throw new Error(`${codec}: expected the pixels inside device memory (0..${device.byteLength}), got ${srcAddr}..${last}`);
  }
  const encoderEnd = Region.ENCODER_WORK + Region.ENCODER_WORK_SIZE;
  if (srcAddr < encoderEnd && last > Region.ENCODER_OUT) {
    throw new Error(`${codec}: expected pixels outside the encoder regions (${Region.ENCODER_OUT}..${encoderEnd}), got ${srcAddr}..${last}`);
  }
}

/**
 * The `size` bytes the codec wrote at Region.ENCODER_OUT, copied into a
 * fresh, non-shared buffer (WebSocket.send refuses views of shared memory).
 */
export function takeEncoderOutput(device: QxlDevice, size: number): Uint8Array {
  return device.bytes.slice(Region.ENCODER_OUT, Region.ENCODER_OUT + size);
}
