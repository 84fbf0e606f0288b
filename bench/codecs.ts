/** The codecs the benchmark measures: every encoder the RedWorker can use, on device memory. */
import type { QxlDevice } from '../src/qxl/qxl-device.ts';
import { Region } from '../src/qxl/qxl-layout.ts';

export interface BenchCodec {
  name: string;
  /** Encodes the rectangle at `addr`; returns the output size in bytes. */
  encode(addr: number, stride: number, width: number, height: number): number;
}

/**
 * The WASM encoders the RedWorker runs, called directly: the benchmark
 * measures the codec, not the copy of its output out of device memory.
 */
export function loadCodecs(device: QxlDevice): BenchCodec[] {
  const wasm = device.wasm;
  const { ENCODER_OUT: out, ENCODER_OUT_SIZE: cap, ENCODER_WORK: work } = Region;
  const codec = (name: string, run: (addr: number, stride: number, w: number, h: number) => number): BenchCodec => ({
    name,
    encode(addr, stride, w, h) {
      const n = run(addr, stride, w, h);
      if (n === 0) throw new Error(`bench: expected an encoded ${name} stream for ${w}x${h}, got an overflow`);
      return n;
    },
  });
  return [
    codec('lz', (a, s, w, h) => wasm.lzEncode(a, s, w, h, 0, out, cap, work)),
    codec('quic', (a, s, w, h) => wasm.quicEncode(a, s, w, h, 0, out, cap, work)),
    codec('lz4', (a, s, w, h) => wasm.lz4Encode(a, s, w, h, out, cap, work)),
  ];
}
