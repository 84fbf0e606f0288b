/** The codecs the benchmark measures: every encoder the RedWorker can use, on device memory. */
import type { QxlDevice } from '../src/qxl/qxl-device.ts';

export interface BenchCodec {
  name: string;
  /** Encodes the rectangle at `addr`; returns the output size in bytes. */
  encode(addr: number, stride: number, width: number, height: number): number;
}

export async function loadCodecs(_device: QxlDevice): Promise<BenchCodec[]> {
  return [];
}
