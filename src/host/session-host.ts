/**
 * SessionHost: everything one served session needs on the page — the QXL
 * device memory, a RedWorker in a Web Worker, the SpiceServer (main thread),
 * the relay registration, and a source that draws into the device.
 */
import { QxlDevice } from '../qxl/qxl-device.ts';
import { QxlProducer } from '../qxl/qxl-producer.ts';
import { WorkerDispatcher, type RedWorkerStats } from '../server/dispatcher.ts';
import { RecordingInputSink } from '../server/input-sink.ts';
import { SpiceServer, type SpiceServerStats } from '../server/spice-server.ts';
import { TestPatternSource } from '../sources/test-pattern.ts';
import { RelayHost } from '../transport/relay-host.ts';
import { RelayStream } from '../transport/relay-stream.ts';
import { createLogger } from '../util/logger.ts';

const log = createLogger('session-host');

export interface SessionHostOptions {
  /** The relay's WebSocket base URL, e.g. ws://127.0.0.1:8765. */
  relayUrl: string;
  /** Session name on the relay ("default" gets the relay's TCP port). */
  session?: string;
  /** Password clients must give; null or '' lets every client in. */
  password?: string | null;
  width?: number;
  height?: number;
  fps?: number;
}

export interface SessionHostStats {
  server: SpiceServerStats;
  worker: RedWorkerStats;
  frame: number;
}

/** Checks the page can share memory with workers; throws a message that says what to fix. */
export function assertCrossOriginIsolated(): void {
  if (!globalThis.crossOriginIsolated) {
    throw new Error(
      'This page is not cross-origin isolated, so SharedArrayBuffer is unavailable. Serve it with the headers ' +
        '"Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp".',
    );
  }
}

export class SessionHost {
  private constructor(
    readonly device: QxlDevice,
    readonly worker: WorkerDispatcher,
    readonly server: SpiceServer,
    readonly relay: RelayHost,
    readonly pattern: TestPatternSource,
    readonly inputs: RecordingInputSink,
  ) {}

  /** Starts a session serving the test pattern. */
  static async start(opts: SessionHostOptions): Promise<SessionHost> {
    assertCrossOriginIsolated();
    const device = await QxlDevice.create();
    const worker = new WorkerDispatcher(
      new Worker(new URL('../worker/red-worker.ts', import.meta.url), { type: 'module', name: 'red-worker' }),
    );
    const inputs = new RecordingInputSink();
    const server = await SpiceServer.create({
      password: opts.password ?? null,
      worker,
      inputSink: inputs,
      absoluteMouse: true,
    });
    await worker.init(device.memory, {
      channelClientDisconnected: (s, t, i, r) => server.channelClientDisconnected(s, t, i, r),
    });
    const pattern = new TestPatternSource(new QxlProducer(device), {
      width: opts.width ?? 1024,
      height: opts.height ?? 768,
      fps: opts.fps ?? 30,
    });
    await worker.createPrimary(pattern.width, pattern.height);
    pattern.start();
    const relay = await RelayHost.connect({ relayUrl: opts.relayUrl, session: opts.session ?? 'default' });
    relay.onStream((offer) => {
      RelayStream.attach(offer).then(
        (stream) => server.accept(stream),
        (e: unknown) => log.warn(`could not attach stream ${offer.stream}: ${(e as Error).message}`),
      );
    });
    relay.onClose(() => log.warn('relay connection closed: clients can no longer connect'));
    log.info(`session "${relay.session}" hosted on ${opts.relayUrl}`);
    return new SessionHost(device, worker, server, relay, pattern, inputs);
  }

  async stats(): Promise<SessionHostStats> {
    return { server: this.server.stats(), worker: await this.worker.stats(), frame: this.pattern.frame };
  }

  async stop(): Promise<void> {
    this.pattern.stop();
    this.relay.close();
    await this.server.stop();
    await this.worker.terminate();
  }
}
