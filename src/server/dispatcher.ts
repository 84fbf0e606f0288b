/**
 * Dispatchers between threads, built on Comlink (spice-server's Dispatcher /
 * QXL dispatcher / main dispatcher, see seeds/spice_threading_model.txt).
 *
 * - The worker dispatcher carries device and ClientCbs requests from the main
 *   thread to one RedWorker: connect and migrate are asynchronous (fire and
 *   forget), disconnect is synchronous (the caller waits until it is done).
 * - The main dispatcher carries the RedWorker's requests to the main thread.
 */
import type { MuxStats } from '../transport/relay-mux.ts';
import * as Comlink from 'comlink';
import type { StreamOffer } from '../transport/relay-stream.ts';
import type { EncoderStats, ImageCompression } from '../worker/image-encoder.ts';
import type { StreamingMode } from '../worker/video-stream.ts';
import type { JpegMode } from '../worker/image-encoder.ts';

/** Everything a RedWorker needs to take over one linked channel connection. */
export interface ChannelConnectRequest {
  sessionId: number;
  channelType: number;
  channelId: number;
  miniHeader: boolean;
  commonCaps: number[];
  channelCaps: number[];
  /** Where the worker re-attaches to the client connection (structured-cloneable). */
  offer: StreamOffer;
  /** Bytes the main thread received after the link stage (e.g. DISPLAY_INIT). */
  leftover: Uint8Array;
}

export interface RedWorkerStats {
  displayClients: number;
  cursorClients: number;
  sessions: number;
  primary: { width: number; height: number } | null;
  drawablesProcessed: number;
  /** Of those, COPY_BITS (scrolls and moved blocks found by change detection). */
  copyBitsProcessed: number;
  cursorCommandsProcessed: number;
  /** The RedWorker's mux sockets to the relay (one per registration it serves). */
  muxes: MuxStats[];
  /** Images sent: count, raw and encoded bytes, per codec. */
  images: EncoderStats;
  /** JPEG images sent, per client: clients joining an unchanged surface share one encoding. */
  jpegDeliveries: number;
  /** MJPEG video streams: running now, started so far, frames sent. */
  streams: { active: number; started: number; framesSent: number };
  /**
   * Per display client: messages held back, bytes waiting in its transport,
   * messages and bytes sent, measured read speed (null: keeps up), areas it
   * has as JPEG awaiting their lossless refresh.
   */
  displayBacklog: Array<{
    sessionId: number; queued: number; buffered: number; sent: number; bytes: number; bandwidthBps: number | null; lossyRects: number;
  }>;
}

/** Size of a surface in pixels. */
export interface SurfaceSize {
  width: number;
  height: number;
}

/** The RedWorker's side of the worker dispatcher. */
export interface RedWorkerApi extends ChannelWorkerApi {
  /** `mediaClockEpoch`: the media clock's zero (wall-clock ms), for stamping video frames. */
  init(memory: WebAssembly.Memory, main: MainDispatcherApi, mediaClockEpoch: number): Promise<void>;
  createPrimary(width: number, height: number): Promise<void>;
  destroyPrimary(): Promise<void>;
  /** The image codec policy (`--image-compression`). */
  setImageCompression(mode: ImageCompression): Promise<void>;
  /** Video stream detection (`--streaming`). */
  setStreaming(mode: StreamingMode): Promise<void>;
  /** Lossy JPEG for photo-like areas (`--jpeg`): at low bandwidth, always, or never. */
  setJpeg(mode: JpegMode): Promise<void>;
  connectChannel(req: ChannelConnectRequest): Promise<void>;
  disconnectClient(sessionId: number): Promise<void>;
  stats(): Promise<RedWorkerStats>;
  /** Copy of the primary surface as the worker holds it (B,G,R,x rows), for tests and previews. */
  snapshot(): Promise<{ width: number; height: number; pixels: Uint8Array } | null>;
  shutdown(): Promise<void>;
}

/** The main thread's side of the main dispatcher. */
export interface MainDispatcherApi {
  channelClientDisconnected(sessionId: number, channelType: number, channelId: number, reason: string): void;
}

/** What every channel-running worker (RedWorker, SoundWorker) answers: ClientCbs and shutdown. */
export interface ChannelWorkerApi {
  connectChannel(req: ChannelConnectRequest): Promise<void>;
  disconnectClient(sessionId: number): Promise<void>;
  shutdown(): Promise<void>;
}

/** Main-thread handle on a worker that runs channels: ClientCbs and termination. */
export class ChannelWorkerDispatcher<Api extends ChannelWorkerApi> {
  readonly remote: Comlink.Remote<Api>;

  constructor(private readonly worker: Worker) {
    this.remote = Comlink.wrap<Api>(worker);
  }

  /** ClientCbs.connect: asynchronous; failures are reported through the main dispatcher. */
  connect(req: ChannelConnectRequest): Promise<void> {
    return this.remote.connectChannel(Comlink.transfer(req, [req.leftover.buffer as ArrayBuffer]));
  }

  /** ClientCbs.disconnect: the caller awaits completion. */
  disconnect(sessionId: number): Promise<void> {
    return this.remote.disconnectClient(sessionId);
  }

  async terminate(): Promise<void> {
    try {
      await this.remote.shutdown();
    } finally {
      this.remote[Comlink.releaseProxy]();
      this.worker.terminate();
    }
  }
}

/** Main-thread handle on one RedWorker. */
export class WorkerDispatcher extends ChannelWorkerDispatcher<RedWorkerApi> {
  private primary: SurfaceSize | null = null;

  async init(memory: WebAssembly.Memory, main: MainDispatcherApi, mediaClockEpoch: number): Promise<void> {
    await this.remote.init(memory, Comlink.proxy(main), mediaClockEpoch);
  }

  /** Every primary surface is made here, so this dispatcher knows its size (inputs are clamped to it). */
  createPrimary(width: number, height: number): Promise<void> {
    // Known from now on: input that arrives while the worker switches already belongs to the new surface.
    this.primary = { width, height };
    return this.remote.createPrimary(width, height);
  }

  /** The primary surface last created, or null before the first. */
  primarySurface(): SurfaceSize | null {
    return this.primary;
  }

  setImageCompression(mode: ImageCompression): Promise<void> {
    return this.remote.setImageCompression(mode);
  }

  setStreaming(mode: StreamingMode): Promise<void> {
    return this.remote.setStreaming(mode);
  }

  setJpeg(mode: JpegMode): Promise<void> {
    return this.remote.setJpeg(mode);
  }

  stats(): Promise<RedWorkerStats> {
    return this.remote.stats();
  }

  snapshot(): Promise<{ width: number; height: number; pixels: Uint8Array } | null> {
    return this.remote.snapshot();
  }
}
