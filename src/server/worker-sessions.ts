/**
 * The channel clients a worker thread runs, by session (RedWorker and
 * SoundWorker alike): attaching to a handed-off client connection (its own
 * relay stream, so the traffic skips the main thread), wiring it to its
 * channel client, reporting its end through the main dispatcher, and
 * ClientCbs.disconnect for a whole session.
 */
import type { ChannelConnectRequest, MainDispatcherApi } from './dispatcher.ts';
import type { ByteStream } from './byte-stream.ts';
import type { RedChannelClient, RedChannelClientOptions } from './red-channel-client.ts';
import { RelayStream } from '../transport/relay-stream.ts';

/** Adds a channel client to its channel's set, and takes it out again when it disconnects. */
export function joined<T extends RedChannelClient>(clients: Set<T>, rcc: T): T {
  clients.add(rcc);
  rcc.onDisconnect(() => clients.delete(rcc));
  return rcc;
}

export class WorkerSessions {
  private readonly sessions = new Map<number, Set<RedChannelClient>>();
  main: MainDispatcherApi | null = null;

  get size(): number {
    return this.sessions.size;
  }

  /**
   * ClientCbs.connect: attaches to the connection, makes its channel client
   * with `make` (which throws, after closing nothing, for a type this worker
   * does not run) and starts it with the bytes that came before the hand-off.
   */
  async connect(req: ChannelConnectRequest, make: (stream: ByteStream, opts: RedChannelClientOptions) => RedChannelClient): Promise<void> {
    const stream = await RelayStream.attach(req.offer);
    const opts: RedChannelClientOptions = {
      sessionId: req.sessionId,
      channelType: req.channelType,
      channelId: req.channelId,
      miniHeader: req.miniHeader,
      channelCaps: req.channelCaps,
    };
    let rcc: RedChannelClient;
    try {
      rcc = make(stream, opts);
    } catch (e) {
      stream.close();
      throw e;
    }
    let set = this.sessions.get(req.sessionId);
    if (!set) this.sessions.set(req.sessionId, (set = new Set()));
    set.add(rcc);
    rcc.onDisconnect((reason) => {
      const s = this.sessions.get(req.sessionId);
      s?.delete(rcc);
      if (s && s.size === 0) this.sessions.delete(req.sessionId);
      this.main?.channelClientDisconnected(req.sessionId, req.channelType, req.channelId, reason);
    });
    stream.onClose((reason) => rcc.peerClosed(reason));
    stream.onData((bytes) => rcc.receive(bytes));
    rcc.start();
    if (req.leftover.byteLength) rcc.receive(req.leftover);
  }

  /** ClientCbs.disconnect: returns once every channel of the session is gone. */
  disconnect(sessionId: number): void {
    const set = this.sessions.get(sessionId);
    if (!set) return;
    for (const rcc of [...set]) rcc.disconnect('client disconnected (main channel gone)');
    this.sessions.delete(sessionId);
  }

  sessionIds(): number[] {
    return [...this.sessions.keys()];
  }
}
