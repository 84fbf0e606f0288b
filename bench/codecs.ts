/** The codecs the benchmark measures: every encoder the RedWorker can use, on device memory. */
import type { QxlDevice } from '../src/qxl/qxl-device.ts';
import { LzEncoder } from '../src/codecs/lz.ts';
import { QuicEncoder } from '../src/codecs/quic.ts';
import { Lz4Encoder } from '../src/codecs/lz4.ts';
import { Region } from '../src/qxl/qxl-layout.ts';

export interface BenchCodec {
  name: string;
  /** Encodes the rectangle at `addr`; returns the output size in bytes. */
  encode(addr: number, stride: number, width: number, height: number): number;
}

/**
 * The encoders as the RedWorker runs them, minus the copy out of device
 * memory (the benchmark measures the codec, not the copy).
 */
export function loadCodecs(device: QxlDevice): BenchCodec[] {
  // Constructed for their argument checks; the raw exports are timed.
  new LzEncoder(device);
  new QuicEncoder(device);
  new Lz4Encoder(device);
  const wasm = device.wasm;
  const run = (fn: typeof wasm.lzEncode) => (addr: number, stride: number, w: number, h: number): number => {
    const n = fn(addr, stride, w, h, 0, Region.ENCODER_OUT, Region.ENCODER_OUT_SIZE, Region.ENCODER_WORK);
    if (n === 0) throw new Error(`bench: expected an encoded stream for ${w}x${h}, got an overflow`);
    return n;
  };
  return [
    { name: 'lz', encode: run(wasm.lzEncode.bind(wasm)) },
    { name: 'quic', encode: run(wasm.quicEncode.bind(wasm)) },
    {
      name: 'lz4',
      encode: (addr, stride, w, h) => {
        const n = wasm.lz4Encode(addr, stride, w, h, Region.ENCODER_OUT, Region.ENCODER_OUT_SIZE, Region.ENCODER_WORK);
        if (n === 0) throw new Error(`bench: expected an encoded stream for ${w}x${h}, got an overflow`);
        return n;
      },
    },
  ];
}
