/**
 * SPICE LZ4 encoder (spice-wire.md §8.2) over device memory: runs the WASM
 * `lz4Encode` on pixels in place and hands back the payload of an LZ4
 * SpiceImage (after its `u32 data_size`): top_down, format, LZ4 blocks.
 * Only for clients that advertise the LZ4 display capability.
 */
import type { QxlDevice } from '../qxl/qxl-device.ts';
import { Region } from '../qxl/qxl-layout.ts';
import { checkDeviceArea, takeEncoderOutput } from './device-area.ts';

/** Encodes 32-bit xRGB pixels in device memory as SPICE LZ4 (format 32BIT, top-down), using the encoder regions. */
export class Lz4Encoder {
  constructor(private readonly device: QxlDevice) {}

  /**
   * Encodes the width×height rectangle at device address `srcAddr` (rows
   * `srcStride` bytes apart, bytes B,G,R,x). Returns a copy in a non-shared
   * buffer; throws when the area is invalid or the output does not fit.
   */
  encode(srcAddr: number, srcStride: number, width: number, height: number): Uint8Array {
    checkDeviceArea('lz4', this.device, srcAddr, srcStride, width, height);
    const wasm = this.device.wasm;
    const work = wasm.lz4WorkBytes(width, height);
    if (work === 0 || work > Region.ENCODER_WORK_SIZE) {
      throw new Error(`lz4: expected work memory within ${Region.ENCODER_WORK_SIZE} bytes, got a need of ${work || 'unsupported'}`);
    }
    const size = wasm.lz4Encode(srcAddr, srcStride, width, height, Region.ENCODER_OUT, Region.ENCODER_OUT_SIZE, Region.ENCODER_WORK);
    if (size === 0) {
      throw new Error(`lz4: expected the ${width}x${height} stream to fit ${Region.ENCODER_OUT_SIZE} output bytes, got an overflow`);
    }
    return takeEncoderOutput(this.device, size);
  }
}
