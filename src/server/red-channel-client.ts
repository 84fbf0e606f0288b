/**
 * RedChannelClient: one channel connection of one client, after the link stage.
 * Frames messages (mini or full header), handles the messages common to every
 * channel (ACK_SYNC, ACK, PONG, DISCONNECTING) and the ACK window, and turns any
 * malformed input into a logged disconnect of this connection only.
 * Runs on whichever thread owns the channel (main thread or a RedWorker).
 */
import { BandwidthMeter } from './bandwidth-meter.ts';
import { MsgCommon, MsgcCommon, channelTypeName } from '../protocol/constants.ts';
import {
  FULL_HEADER_SIZE,
  MINI_HEADER_SIZE,
  decodeFullHeader,
  decodeMiniHeader,
  encodeMessage,
} from '../protocol/data-header.ts';
import {
  decodeAckSync,
  decodeClientDisconnecting,
  decodePong,
  encodeDisconnecting,
  encodePing,
  encodeSetAck,
} from '../protocol/common-messages.ts';
import { ProtocolError } from '../protocol/wire.ts';
import { createLogger, type Logger } from '../util/logger.ts';
import { ByteQueue, type ByteStream } from './byte-stream.ts';

export interface RedChannelClientOptions {
  sessionId: number;
  channelType: number;
  channelId: number;
  miniHeader: boolean;
  /** Client's channel caps from its LinkMess. */
  channelCaps: readonly number[];
  /** ACK window (spice-server: 20 for display and cursor); 0 = no SET_ACK. */
  ackWindow?: number;
  /** Largest client message body accepted; larger ones disconnect the client. */
  maxMessageSize?: number;
}

const DEFAULT_MAX_MESSAGE = 64 * 1024;

/** A message body, or a function that makes it when the message is sent (null: skip it). */
export type MessageBody = Uint8Array | (() => Uint8Array | null);
/** Bytes a windowed channel may have waiting in its transport before it holds further messages. */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** How often a held channel looks whether its transport drained. */
const DRAIN_POLL_MS = 20;
/** Bytes waiting in the transport past which the link counts as backed up (for the bandwidth meter). */
const BACKED_UP_BYTES = 256 * 1024;

/**
 * `Meta`: what a subclass notes with a queued message (the display channel:
 * the area a draw paints), handed back when {@link dropQueued} drops it.
 */
export abstract class RedChannelClient<Meta = unknown> {
  readonly sessionId: number;
  readonly channelType: number;
  readonly channelId: number;
  readonly channelCaps: readonly number[];
  protected readonly log: Logger;
  private readonly miniHeader: boolean;
  private readonly maxMessageSize: number;
  private readonly inQueue = new ByteQueue();
  private pendingHeader: { type: number; size: number } | null = null;
  private sendSerial = 0n;
  private disconnected = false;
  private readonly disconnectListeners: Array<(reason: string) => void> = [];
  /** Kinds of ignored message already logged at warn (see {@link ignore}). */
  private readonly ignoredKinds = new Set<string>();

  // ACK window (server-side flow control, spice-wire.md §4).
  private readonly ackWindow: number;
  private ackGeneration = 0;
  private clientAckGeneration = -1;
  private messagesInWindow = 0;
  private readonly outQueue: Array<{ type: number; body: MessageBody; meta?: Meta }> = [];
  private pingId = 0;
  private drainTimer: ReturnType<typeof setTimeout> | null = null;
  /** Round-trip time of the last PING, in ms. */
  lastRoundTripMs: number | null = null;
  private readonly pings = new Map<number, number>();
  /** Messages and bytes sent, for stats. */
  messagesSent = 0;
  bytesSent = 0;
  /** How fast the client reads, measured while it is backed up. */
  readonly bandwidth = new BandwidthMeter();

  constructor(
    protected readonly stream: ByteStream,
    opts: RedChannelClientOptions,
  ) {
    this.sessionId = opts.sessionId;
    this.channelType = opts.channelType;
    this.channelId = opts.channelId;
    this.channelCaps = opts.channelCaps;
    this.miniHeader = opts.miniHeader;
    this.ackWindow = opts.ackWindow ?? 0;
    this.maxMessageSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE;
    this.log = createLogger(`${channelTypeName(this.channelType)}:${this.channelId} session ${this.sessionId}`);
  }

  get isConnected(): boolean {
    return !this.disconnected;
  }

  /** Messages waiting because the client has not acknowledged enough or its transport is backed up. */
  get queuedMessages(): number {
    return this.outQueue.length;
  }

  /** Bytes sent but still waiting in the transport. */
  get transportBuffered(): number {
    return this.stream.bufferedAmount;
  }

  /** Starts the channel: SET_ACK if windowed, then the channel's own greeting. */
  start(): void {
    if (this.ackWindow > 0) {
      this.ackGeneration++;
      this.messagesInWindow = 0;
      this.sendNow(MsgCommon.SET_ACK, encodeSetAck(this.ackGeneration, this.ackWindow));
    }
    this.onStart();
  }

  protected abstract onStart(): void;

  /** A channel-specific message (type > 100). Throw ProtocolError for a malformed one. */
  protected abstract handleMessage(type: number, body: Uint8Array): void;

  /**
   * Logs why a client message was ignored: at warn the first time for each
   * `kind` on this connection, after that at debug, so a client cannot flood the log.
   */
  protected ignore(kind: string, message: string): void {
    if (this.ignoredKinds.has(kind)) {
      this.log.debug(message);
      return;
    }
    this.ignoredKinds.add(kind);
    this.log.warn(`${message} (more like it are logged at debug level)`);
  }

  /** Called once when the connection ends, for any reason. */
  protected onDisconnected(_reason: string): void {}

  onDisconnect(cb: (reason: string) => void): void {
    this.disconnectListeners.push(cb);
  }

  /** Feeds bytes received from the client. */
  receive(bytes: Uint8Array): void {
    if (this.disconnected) return;
    this.inQueue.push(bytes);
    try {
      this.parse();
    } catch (e) {
      const reason = e instanceof ProtocolError ? e.message : `internal error: ${(e as Error).message ?? String(e)}`;
      this.disconnect(`bad message from client: ${reason}`);
    }
  }

  private parse(): void {
    const headerSize = this.miniHeader ? MINI_HEADER_SIZE : FULL_HEADER_SIZE;
    for (;;) {
      if (this.disconnected) return;
      if (!this.pendingHeader) {
        const hb = this.inQueue.take(headerSize);
        if (!hb) return;
        const h = this.miniHeader ? decodeMiniHeader(hb) : decodeFullHeader(hb);
        if (h.size > this.maxMessageSize) {
          throw new ProtocolError(`message type ${h.type} claims ${h.size} bytes, limit ${this.maxMessageSize}`);
        }
        this.pendingHeader = { type: h.type, size: h.size };
      }
      const body = this.inQueue.take(this.pendingHeader.size);
      if (!body) return;
      const { type } = this.pendingHeader;
      this.pendingHeader = null;
      if (type <= 100) this.handleCommon(type, body);
      else this.handleMessage(type, body);
    }
  }

  private handleCommon(type: number, body: Uint8Array): void {
    switch (type) {
      case MsgcCommon.ACK_SYNC:
        this.clientAckGeneration = decodeAckSync(body).generation;
        break;
      case MsgcCommon.ACK:
        if (this.clientAckGeneration === this.ackGeneration && this.ackWindow > 0) {
          this.messagesInWindow = Math.max(0, this.messagesInWindow - this.ackWindow);
          this.flushQueue();
        }
        break;
      case MsgcCommon.PONG: {
        const { id } = decodePong(body);
        const sent = this.pings.get(id);
        if (sent !== undefined) {
          this.pings.delete(id);
          this.lastRoundTripMs = performance.now() - sent;
        }
        break;
      }
      case MsgcCommon.DISCONNECTING: {
        const { reason } = decodeClientDisconnecting(body);
        this.log.debug(`client announced disconnect (reason ${reason})`);
        break;
      }
      case MsgcCommon.MIGRATE_FLUSH_MARK:
      case MsgcCommon.MIGRATE_DATA:
        break; // no migration support; harmless to ignore
      default:
        throw new ProtocolError(`unknown common message type ${type}`);
    }
  }

  /** Sends a PING; its PONG updates lastRoundTripMs. */
  ping(): void {
    const id = ++this.pingId;
    this.pings.set(id, performance.now());
    if (this.pings.size > 16) this.pings.delete(this.pings.keys().next().value as number);
    this.send(MsgCommon.PING, encodePing(id, BigInt(Math.round(performance.now() * 1000))));
  }

  /**
   * Whether the next message may go out now: within the ACK window, and the
   * transport not backed up (the window counts messages, not bytes; a client
   * reading slowly backs the relay up, and bytes pile up in our socket).
   */
  private mayWrite(): boolean {
    if (this.ackWindow === 0) return true;
    return this.messagesInWindow <= 2 * this.ackWindow && this.stream.bufferedAmount <= MAX_BUFFERED_BYTES;
  }

  /**
   * Queues or sends a message, honouring the ACK window and the transport's
   * backlog. A body given as a function is made when the message goes out
   * (null: nothing to send then), so what it shows is current at that time.
   */
  send(type: number, body: MessageBody, meta?: Meta): void {
    if (this.disconnected) return;
    this.sampleBandwidth();
    if (this.ackWindow > 0 && (this.outQueue.length > 0 || !this.mayWrite())) {
      this.outQueue.push(meta === undefined ? { type, body } : { type, body, meta });
      this.onQueueGrew();
      this.scheduleDrainCheck();
      return;
    }
    this.sendBody(type, body);
  }

  private sendBody(type: number, body: MessageBody): void {
    const bytes = typeof body === 'function' ? body() : body;
    if (bytes) this.sendNow(type, bytes);
  }

  /** WebSockets signal no "drained" event: while the transport is backed up, look again shortly. */
  private scheduleDrainCheck(): void {
    if (this.drainTimer !== null || this.stream.bufferedAmount <= MAX_BUFFERED_BYTES) return;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = null;
      this.sampleBandwidth();
      this.flushQueue();
    }, DRAIN_POLL_MS);
  }

  private sampleBandwidth(): void {
    const buffered = this.stream.bufferedAmount;
    // Backed up: bytes pile up in the transport, or messages wait for the client's ACKs (a slow reader acks late).
    this.bandwidth.sample(performance.now(), this.bytesSent - buffered, buffered > BACKED_UP_BYTES || this.outQueue.length > 0);
  }

  /** Subclasses bound their queue here (e.g. by collapsing it to one redraw). */
  protected onQueueGrew(): void {}

  /** Drops the queued messages whose type matches; returns what they were sent with (a subclass then queues one replacement). */
  protected dropQueued(match: (type: number) => boolean): Array<Meta | undefined> {
    const dropped: Array<Meta | undefined> = [];
    this.filterQueued((type, meta) => {
      if (!match(type)) return true;
      dropped.push(meta);
      return false;
    });
    return dropped;
  }

  /** Keeps the queued messages `keep` says yes to, asked in queue order (so it can follow what the dropped ones did). */
  protected filterQueued(keep: (type: number, meta: Meta | undefined) => boolean): void {
    const kept = this.outQueue.filter((m) => keep(m.type, m.meta));
    this.outQueue.length = 0;
    this.outQueue.push(...kept);
  }

  /**
   * Queues a message just before the last queued one whose meta matches;
   * false (nothing queued) when none does.
   */
  protected queueBefore(match: (meta: Meta | undefined) => boolean, type: number, body: MessageBody, meta?: Meta): boolean {
    for (let i = this.outQueue.length - 1; i >= 0; i--) {
      if (!match(this.outQueue[i]!.meta)) continue;
      this.outQueue.splice(i, 0, meta === undefined ? { type, body } : { type, body, meta });
      return true;
    }
    return false;
  }

  private flushQueue(): void {
    while (this.outQueue.length > 0 && this.mayWrite() && !this.disconnected) {
      const m = this.outQueue.shift()!;
      this.sendBody(m.type, m.body);
    }
    // An ACK may open the window while the transport is backed up (a shared mux socket
    // fills with other streams' bytes): then only the drain check wakes this client again.
    if (this.outQueue.length > 0 && !this.disconnected) this.scheduleDrainCheck();
  }

  private sendNow(type: number, body: Uint8Array): void {
    // Header and body in one send: each send is one WebSocket message, and a header must never end one.
    const msg = encodeMessage(type, body, this.miniHeader ? undefined : ++this.sendSerial);
    this.stream.send(msg);
    this.messagesInWindow++;
    this.messagesSent++;
    this.bytesSent += msg.byteLength;
  }

  /** The peer closed the transport. */
  peerClosed(reason: string): void {
    this.finish(`client closed the connection${reason ? ` (${reason})` : ''}`, false);
  }

  /**
   * Ends this connection (idempotent), with the reason logged. With a link
   * error code, the client is first told why with DISCONNECTING (skipping the
   * ACK window: it is the last message).
   */
  disconnect(reason: string, announce?: number): void {
    if (announce !== undefined && !this.disconnected) {
      this.sendNow(MsgCommon.DISCONNECTING, encodeDisconnecting(BigInt(Date.now()), announce));
    }
    this.finish(reason, true);
  }

  private finish(reason: string, closeStream: boolean): void {
    if (this.disconnected) return;
    this.disconnected = true;
    this.outQueue.length = 0;
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
    this.drainTimer = null;
    if (reason.startsWith('bad message')) this.log.warn(`disconnecting: ${reason}`);
    else this.log.info(`disconnected: ${reason}`);
    if (closeStream) this.stream.close();
    this.onDisconnected(reason);
    for (const cb of this.disconnectListeners.splice(0)) cb(reason);
  }
}
