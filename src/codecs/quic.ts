/**
 * SPICE QUIC encoder (spice-wire.md §8.1) over device memory: runs the WASM
 * `quicEncode` on pixels in place and hands back the stream as an ordinary
 * byte array, ready to be the payload of a QUIC SpiceImage (`u32 data_size`
 * then these bytes).
 */
import type { QxlDevice } from '../qxl/qxl-device.ts';
import { Region } from '../qxl/qxl-layout.ts';
import { checkDeviceArea, takeEncoderOutput } from './device-area.ts';

/** Bytes of the QUIC stream header (magic, version, type, width, height). */
export const QUIC_HEADER_BYTES = 20;

/** QUIC_IMAGE_TYPE_* of the streams this encoder writes. */
export const QuicImageType = { RGB32: 4, RGBA: 5 } as const;

/** Options of {@link QuicEncoder}. */
export interface QuicEncoderOptions {
  /** Output bytes the encoder may use at Region.ENCODER_OUT (default and maximum: the whole region). */
  outCapacity?: number;
}

/**
 * Encodes 32-bit pixels in device memory as SPICE QUIC streams (QUIC image
 * type RGB32, or RGBA with its alpha pass), lossless. Uses the device's
 * encoder regions (Region.ENCODER_OUT for the stream, Region.ENCODER_WORK for
 * tables and model), so one encoder at a time per device: the RedWorker's.
 */
export class QuicEncoder {
  private readonly device: QxlDevice;
  private readonly outCapacity: number;

  constructor(device: QxlDevice, options: QuicEncoderOptions = {}) {
    this.device = device;
    const cap = options.outCapacity ?? Region.ENCODER_OUT_SIZE;
    if (!Number.isInteger(cap) || cap < 0 || cap > Region.ENCODER_OUT_SIZE) {
      throw new Error(`quic: expected an output capacity from 0 to ${Region.ENCODER_OUT_SIZE} bytes, got ${cap}`);
    }
    this.outCapacity = cap;
  }

  /**
   * Encodes the width×height rectangle whose first pixel is at device address
   * `srcAddr` (rows `srcStride` bytes apart; bytes B,G,R,x, or B,G,R,A when
   * `withAlpha`). Returns the whole stream (header included) as a copy in a
   * non-shared buffer, since WebSocket.send refuses views of shared memory.
   * Throws when the size or the addresses are invalid, or the stream does not
   * fit the output capacity.
   */
  encode(srcAddr: number, srcStride: number, width: number, height: number, withAlpha = false): Uint8Array {
    checkDeviceArea('quic', this.device, srcAddr, srcStride, width, height, false);
    const wasm = this.device.wasm;
    if (typeof wasm.quicEncode !== 'function') {
      throw new Error('quic: expected the device module to export quicEncode, got none (rebuild with npm run asbuild)');
    }
    const work = wasm.quicWorkBytes(width);
    if (work === 0 || work > Region.ENCODER_WORK_SIZE) {
      throw new Error(`quic: expected a width whose work memory fits ${Region.ENCODER_WORK_SIZE} bytes, got ${width} (needs ${work || 'unsupported'})`);
    }
    const size = wasm.quicEncode(
      srcAddr, srcStride, width, height, withAlpha ? 1 : 0,
      Region.ENCODER_OUT, this.outCapacity, Region.ENCODER_WORK,
    );
    if (size === 0) {
      throw new Error(`quic: expected the ${width}x${height} stream to fit ${this.outCapacity} output bytes, got an overflow`);
    }
    return takeEncoderOutput(this.device, size);
  }
}
