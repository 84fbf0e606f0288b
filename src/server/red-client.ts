/**
 * RedClient: one remote SPICE client, grouping its channel connections
 * (seeds/spice_threading_model.txt). It owns the channel clients that run on
 * the main thread and knows which channels a RedWorker runs for it. Losing the
 * main channel disconnects every channel of the client, then the server
 * releases the RedClient.
 */
import { channelTypeName } from '../protocol/constants.ts';
import { createLogger } from '../util/logger.ts';
import type { MainChannelClient } from './main-channel.ts';
import type { RedChannelClient } from './red-channel-client.ts';

const log = createLogger('red-client');

/** A channel client living in a RedWorker; the main thread only holds its identity. */
export interface RemoteChannelClient {
  channelType: number;
  channelId: number;
}

export class RedClient {
  /** Channel clients on this thread, main channel included. */
  readonly channels = new Set<RedChannelClient>();
  /** Channel clients a RedWorker runs for this client. */
  readonly remoteChannels: RemoteChannelClient[] = [];
  private destroyed = false;

  constructor(
    readonly sessionId: number,
    readonly mcc: MainChannelClient,
    /** ClientCbs.disconnect for worker channels: resolves when the worker is done. */
    private readonly disconnectRemote: (sessionId: number) => Promise<void>,
  ) {
    this.channels.add(mcc);
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  addChannel(rcc: RedChannelClient): void {
    this.channels.add(rcc);
    rcc.onDisconnect(() => this.channels.delete(rcc));
  }

  addRemoteChannel(type: number, id: number): void {
    this.remoteChannels.push({ channelType: type, channelId: id });
  }

  removeRemoteChannel(type: number, id: number): void {
    const i = this.remoteChannels.findIndex((c) => c.channelType === type && c.channelId === id);
    if (i >= 0) this.remoteChannels.splice(i, 1);
  }

  /** Disconnects every channel of this client and waits for the worker's part. */
  async destroy(reason: string, announce?: number): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const rcc of [...this.channels]) rcc.disconnect(reason, announce);
    this.channels.clear();
    if (this.remoteChannels.length > 0) {
      const names = this.remoteChannels.map((c) => `${channelTypeName(c.channelType)}:${c.channelId}`).join(', ');
      try {
        await this.disconnectRemote(this.sessionId);
      } catch (e) {
        log.error(`session ${this.sessionId}: worker did not disconnect ${names}: ${(e as Error).message}`);
      }
      this.remoteChannels.length = 0;
    }
    log.info(`session ${this.sessionId} released (${reason})`);
  }
}
