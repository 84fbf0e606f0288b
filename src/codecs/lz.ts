/**
 * SPICE LZ encoder (spice-wire.md §7) over device memory: runs the WASM
 * `lzEncode` on pixels in place and hands back the stream as an ordinary
 * byte array, ready to be the payload of an LZ_RGB SpiceImage.
 */
import type { QxlDevice } from '../qxl/qxl-device.ts';
import { Region } from '../qxl/qxl-layout.ts';
import { checkDeviceArea, takeEncoderOutput } from './device-area.ts';

/** Bytes of the LZ stream header (magic, version, type, width, height, stride, top_down). */
export const LZ_HEADER_BYTES = 28;

/**
 * Encodes 32-bit pixels in device memory as SPICE LZ streams (LZ_IMAGE_TYPE
 * RGB32, or RGBA with an alpha pass), top-down. Uses the device's encoder
 * regions (Region.ENCODER_OUT for the stream, Region.ENCODER_WORK for the hash
 * table), so one encoder at a time per device: the RedWorker's.
 */
export class LzEncoder {
  private readonly device: QxlDevice;

  constructor(device: QxlDevice) {
    this.device = device;
  }

  /**
   * Encodes the width×height rectangle whose first pixel is at device address
   * `srcAddr` (rows `srcStride` bytes apart; bytes B,G,R,x, or B,G,R,A when
   * `withAlpha`). Returns the whole stream (header included) as a copy in a
   * non-shared buffer, since WebSocket.send refuses views of shared memory.
   * Throws when the size or the addresses are invalid, or the stream does not
   * fit the output region.
   */
  encode(srcAddr: number, srcStride: number, width: number, height: number, withAlpha = false): Uint8Array {
    checkDeviceArea('lz', this.device, srcAddr, srcStride, width, height);
    const wasm = this.device.wasm;
    const work = wasm.lzWorkBytes(width, height);
    if (work > Region.ENCODER_WORK_SIZE) {
      // Cannot happen with the sizes above; guards the region split.
      throw new Error(`lz: expected work memory within ${Region.ENCODER_WORK_SIZE} bytes, got a need of ${work}`);
    }
    const size = wasm.lzEncode(
      srcAddr, srcStride, width, height, withAlpha ? 1 : 0,
      Region.ENCODER_OUT, Region.ENCODER_OUT_SIZE, Region.ENCODER_WORK,
    );
    if (size === 0) {
      throw new Error(`lz: expected the ${width}x${height} stream to fit ${Region.ENCODER_OUT_SIZE} output bytes, got an overflow`);
    }
    return takeEncoderOutput(this.device, size);
  }
}
