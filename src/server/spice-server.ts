/**
 * SpiceServer (spice-server's "reds"): runs on the page's main thread, takes
 * every client connection through the link stage and ticket check, owns the
 * RedClients, runs the main and inputs channels, and hands display and cursor
 * connections to the RedWorker through the worker dispatcher.
 */
import { ChannelType, LinkError, MouseMode, channelTypeName } from '../protocol/constants.ts';
import { capsFromBits, type LinkMess } from '../protocol/link.ts';
import type { ChannelId } from '../protocol/main-messages.ts';
import type { StreamOffer } from '../transport/relay-stream.ts';
import { createLogger } from '../util/logger.ts';
import { mediaTime } from '../util/media-clock.ts';
import type { ByteStream } from './byte-stream.ts';
import type { ChannelConnectRequest, MainDispatcherApi, SurfaceSize } from './dispatcher.ts';
import type { AgentSink } from './agent-sink.ts';
import type { AgentStream } from './agent-stream.ts';
import type { InputSink, KeyModifierSource } from './input-sink.ts';
import { InputsChannelClient } from './inputs-channel.ts';
import { MainChannelClient, type MainChannelHost } from './main-channel.ts';
import { RedClient } from './red-client.ts';
import { LinkFailure, runLinkStage, type LinkPolicy } from './red-link.ts';
import type { RedChannelClientOptions } from './red-channel-client.ts';
import { StreamReader } from './stream-reader.ts';
import { checkPassword, generateTicketKey, type TicketKey, type TicketVerdict } from './ticket.ts';
import { VdAgent, type VdAgentLimits } from './vd-agent.ts';
import type { Logger } from '../util/logger.ts';

const log = createLogger('spice-server');

/** A client connection that can be handed to another thread after linking. */
export interface HandoffStream extends ByteStream {
  readonly offer: StreamOffer;
  /** Stops delivery here; resolves with the bytes that arrived but were not delivered. */
  detach(): Promise<Uint8Array>;
}

/** The RedWorker as the server sees it (ClientCbs for display/cursor). */
export interface WorkerChannels {
  connect(req: ChannelConnectRequest): Promise<void>;
  disconnect(sessionId: number): Promise<void>;
  /** The primary surface now (null before the first): clients' pointer input is clamped to it. */
  primarySurface(): SurfaceSize | null;
}

/** The SoundWorker as the server sees it (ClientCbs for playback and record). */
export interface SoundChannels {
  connect(req: ChannelConnectRequest): Promise<void>;
  disconnect(sessionId: number): Promise<void>;
  /** Whether the source takes clients' microphones (the record channel is offered). */
  readonly record?: boolean;
}

/** Decides on a client's decrypted ticket (null: it did not decrypt) for the connection `offer`. */
export type TicketChecker = (offer: StreamOffer, password: string | null) => Promise<TicketVerdict>;

export interface SpiceServerOptions {
  /** null or '' = no password: every ticket that decrypts passes. Ignored when `ticketChecker` is given. */
  password?: string | null;
  /** Who decides on tickets instead of the local password (e.g. the relay, which holds the password). */
  ticketChecker?: TicketChecker;
  worker: WorkerChannels;
  /** Where the playback channel runs; absent: no sound, and no playback channel is offered. */
  sound?: SoundChannels;
  inputSink: InputSink & Partial<KeyModifierSource>;
  /** Whether the source takes absolute pointer positions (client mouse mode). */
  absoluteMouse?: boolean;
  /**
   * Where the page's agent hands clients' clipboard, resize and file requests.
   * Absent: there is no agent (MAIN_INIT says agent_connected 0).
   */
  agentSink?: AgentSink;
  agentLimits?: VdAgentLimits;
}

export interface SpiceServerStats {
  clients: number;
  mainChannels: number;
  inputsChannels: number;
  remoteChannels: number;
  linksInProgress: number;
  linkFailures: number;
}

/** Inputs channel cap 0: the server handles KEY_SCANCODE. */
const INPUTS_CAPS = capsFromBits([0]);
/** Display cap 6 PREF_COMPRESSION: clients may say which image codec they prefer. */
const DISPLAY_CAPS = capsFromBits([6]);

export class SpiceServer implements MainDispatcherApi {
  private readonly clients = new Map<number, RedClient>();
  private password: string | null;
  private ticketChecker: TicketChecker | null;
  private mode: number;
  private absoluteMouse: boolean;
  private linking = 0;
  private linkFailures = 0;
  /** The media clock's zero, in wall-clock ms: shared with the RedWorker, which stamps video frames. */
  readonly mediaClockEpoch = Date.now();
  /** The page as every client's guest agent (null without an agent sink). */
  readonly agent: VdAgent | null;
  private readonly listeners = { connect: new Set<(id: number) => void>(), disconnect: new Set<(id: number) => void>() };

  private constructor(
    private readonly key: TicketKey,
    private readonly opts: SpiceServerOptions,
  ) {
    this.password = opts.password ?? null;
    this.ticketChecker = opts.ticketChecker ?? null;
    this.absoluteMouse = opts.absoluteMouse ?? false;
    this.mode = this.absoluteMouse ? MouseMode.CLIENT : MouseMode.SERVER;
    this.agent = opts.agentSink ? new VdAgent(opts.agentSink, opts.agentLimits) : null;
  }

  /** Creates a server with a fresh RSA link key. */
  static async create(opts: SpiceServerOptions): Promise<SpiceServer> {
    return new SpiceServer(await generateTicketKey(), opts);
  }

  /** Shown to each client once linked (spice-html5 prints NOTIFY text; spice-gtk logs it). */
  greeting = 'Connected to spice-web-server';

  setPassword(password: string | null): void {
    this.password = password;
  }

  get supportedMouseModes(): number {
    return this.absoluteMouse ? MouseMode.SERVER | MouseMode.CLIENT : MouseMode.SERVER;
  }

  /**
   * The source gained or lost an absolute pointer (e.g. the guest turned its
   * VMware pointer on). Clients hear MOUSE_MODE only when the mode really
   * changes: CLIENT while absolute positions work (both clients want it), else SERVER.
   */
  setAbsoluteMouse(enabled: boolean): void {
    if (enabled === this.absoluteMouse) return;
    this.absoluteMouse = enabled;
    const mode = enabled ? MouseMode.CLIENT : MouseMode.SERVER;
    if (mode === this.mode) return;
    this.mode = mode;
    log.info(`mouse mode ${enabled ? 'client (absolute)' : 'server (relative)'}`);
    for (const c of this.clients.values()) c.mcc.sendMouseMode(this.supportedMouseModes, mode);
  }

  get mouseMode(): number {
    return this.mode;
  }

  /** Channels offered besides main. */
  get channels(): readonly ChannelId[] {
    return [
      { type: ChannelType.DISPLAY, id: 0 },
      { type: ChannelType.INPUTS, id: 0 },
      { type: ChannelType.CURSOR, id: 0 },
      // Only with sound: spice-html5 files a listed playback channel in place of its cursor one (spice-wire.md §15, 20).
      ...(this.opts.sound ? [{ type: ChannelType.PLAYBACK, id: 0 }] : []),
      ...(this.opts.sound?.record ? [{ type: ChannelType.RECORD, id: 0 }] : []),
    ];
  }

  multiMediaTime(): number {
    return mediaTime(this.mediaClockEpoch);
  }

  /**
   * A client asks for a mouse mode. Only SERVER or CLIENT, and only one the
   * source supports, is taken; anything else is refused (the reason is
   * returned for the caller to log) and never reaches other clients.
   */
  requestMouseMode(mode: number): string | null {
    if (mode !== MouseMode.SERVER && mode !== MouseMode.CLIENT) {
      return `expected ${MouseMode.SERVER} (server) or ${MouseMode.CLIENT} (client)`;
    }
    if ((this.supportedMouseModes & mode) === 0) {
      return `the source supports only ${this.supportedMouseModes === MouseMode.SERVER ? 'server' : 'client'} mode now`;
    }
    // Only answer real changes: both clients ask again after any MOUSE_MODE that lacks CLIENT.
    if (mode === this.mode) return null;
    this.mode = mode;
    log.info(`mouse mode ${mode === MouseMode.CLIENT ? 'client (absolute)' : 'server (relative)'}, as a client asked`);
    for (const c of this.clients.values()) c.mcc.sendMouseMode(this.supportedMouseModes, mode);
    return null;
  }

  connectAgent(sessionId: number, send: (type: number, body: Uint8Array) => void, clientLog: Logger): AgentStream | null {
    return this.agent?.connect(sessionId, send, clientLog) ?? null;
  }

  onClientConnected(cb: (sessionId: number) => void): void {
    this.listeners.connect.add(cb);
  }

  onClientDisconnected(cb: (sessionId: number) => void): void {
    this.listeners.disconnect.add(cb);
  }

  stats(): SpiceServerStats {
    let inputs = 0;
    let remote = 0;
    for (const c of this.clients.values()) {
      for (const ch of c.channels) if (ch instanceof InputsChannelClient) inputs++;
      remote += c.remoteChannels.length;
    }
    return {
      clients: this.clients.size,
      mainChannels: this.clients.size,
      inputsChannels: inputs,
      remoteChannels: remote,
      linksInProgress: this.linking,
      linkFailures: this.linkFailures,
    };
  }

  /** Tells every inputs channel that the guest's lock LEDs changed. */
  broadcastKeyModifiers(modifiers: number): void {
    for (const c of this.clients.values())
      for (const ch of c.channels) if (ch instanceof InputsChannelClient) ch.sendKeyModifiers(modifiers);
  }

  /** Sets who decides on tickets (null: the local password rule). */
  setTicketChecker(checker: TicketChecker | null): void {
    this.ticketChecker = checker;
  }

  private policy(offer: StreamOffer): LinkPolicy {
    return {
      key: this.key,
      checkTicket: (given) => (this.ticketChecker ? this.ticketChecker(offer, given) : checkPassword(given, this.password)),
      checkChannel: (m) =>
        m.channelType === ChannelType.MAIN
          ? m.channelId === 0
            ? LinkError.OK
            : LinkError.CHANNEL_NOT_AVAILABLE
          : this.channels.some((c) => c.type === m.channelType && c.id === m.channelId)
            ? LinkError.OK
            : LinkError.CHANNEL_NOT_AVAILABLE,
      checkSession: (m) => {
        if (m.channelType === ChannelType.MAIN) return LinkError.OK;
        const c = this.clients.get(m.connectionId);
        return c && !c.isDestroyed ? LinkError.OK : LinkError.BAD_CONNECTION_ID;
      },
      channelCaps: (type) => (type === ChannelType.INPUTS ? INPUTS_CAPS : type === ChannelType.DISPLAY ? DISPLAY_CAPS : []),
    };
  }

  /** Takes a new client connection through the link stage and into its channel. */
  accept(stream: HandoffStream): void {
    const reader = new StreamReader(stream);
    const who = `${stream.offer.transport} ${stream.offer.remote} (stream ${stream.offer.stream})`;
    this.linking++;
    runLinkStage(reader, this.policy(stream.offer))
      .then(
        (result) => this.attach(stream, reader, result.mess, result.miniHeader, who),
        (e: unknown) => {
          this.linkFailures++;
          const reason = e instanceof Error ? e.message : String(e);
          if (e instanceof LinkFailure && e.code === LinkError.PERMISSION_DENIED) log.warn(`link refused for ${who}: ${reason}`);
          else log.warn(`link failed for ${who}: ${reason}`);
          // Let the error reply reach the client before the close.
          setTimeout(() => stream.close(), 50);
        },
      )
      .finally(() => this.linking--);
  }

  private nextSessionId(): number {
    // Non-zero and below 2^31: spice-html5 reads u32 values as signed ints.
    for (;;) {
      const id = crypto.getRandomValues(new Uint32Array(1))[0]! & 0x7fffffff;
      if (id !== 0 && !this.clients.has(id)) return id;
    }
  }

  private attach(stream: HandoffStream, reader: StreamReader, mess: LinkMess, miniHeader: boolean, who: string): void {
    if (reader.closed) return;
    const type = mess.channelType;
    const base = (sessionId: number): RedChannelClientOptions => ({
      sessionId,
      channelType: type,
      channelId: mess.channelId,
      miniHeader,
      channelCaps: mess.channelCaps,
    });
    if (type === ChannelType.MAIN) {
      const sessionId = this.nextSessionId();
      const mcc = new MainChannelClient(stream, base(sessionId), this as MainChannelHost);
      const client = new RedClient(sessionId, mcc, async (id) => {
        await Promise.all([this.opts.worker.disconnect(id), this.opts.sound?.disconnect(id)]);
      });
      this.clients.set(sessionId, client);
      this.wire(reader, mcc);
      mcc.onDisconnect((reason) => void this.releaseClient(sessionId, `main channel gone: ${reason}`));
      log.info(`session ${sessionId}: main channel linked from ${who}`);
      mcc.start();
      mcc.notify(this.greeting);
      for (const cb of this.listeners.connect) cb(sessionId);
      return;
    }
    const client = this.clients.get(mess.connectionId);
    if (!client || client.isDestroyed) {
      stream.close();
      return;
    }
    if (type === ChannelType.INPUTS) {
      const icc = new InputsChannelClient(stream, base(client.sessionId), this.opts.inputSink, {
        keyModifiers: () => this.opts.inputSink.getKeyModifiers?.() ?? 0,
        primarySurface: () => this.opts.worker.primarySurface(),
      });
      client.addChannel(icc);
      this.wire(reader, icc);
      log.info(`session ${client.sessionId}: inputs channel linked from ${who}`);
      icc.start();
      return;
    }
    // Display and cursor run in the RedWorker, playback and record in the SoundWorker: move the
    // connection there so their traffic never passes through this thread.
    client.addRemoteChannel(type, mess.channelId);
    void this.handOff(client, stream, reader, mess, miniHeader, who);
  }

  private async handOff(
    client: RedClient,
    stream: HandoffStream,
    reader: StreamReader,
    mess: LinkMess,
    miniHeader: boolean,
    who: string,
  ): Promise<void> {
    const name = `${channelTypeName(mess.channelType)}:${mess.channelId}`;
    try {
      const early = reader.takeLeftover();
      const late = await stream.detach();
      const leftover = new Uint8Array(early.byteLength + late.byteLength);
      leftover.set(early);
      leftover.set(late, early.byteLength);
      const audio = mess.channelType === ChannelType.PLAYBACK || mess.channelType === ChannelType.RECORD;
      const target = audio && this.opts.sound ? this.opts.sound : this.opts.worker;
      await target.connect({
        sessionId: client.sessionId,
        channelType: mess.channelType,
        channelId: mess.channelId,
        miniHeader,
        commonCaps: mess.commonCaps,
        channelCaps: mess.channelCaps,
        offer: stream.offer,
        leftover,
      });
      log.info(`session ${client.sessionId}: ${name} linked from ${who}, running in the ${target === this.opts.worker ? 'RedWorker' : 'SoundWorker'}`);
    } catch (e) {
      client.removeRemoteChannel(mess.channelType, mess.channelId);
      log.error(`session ${client.sessionId}: could not hand ${name} to its worker: ${(e as Error).message}`);
      stream.close();
    }
  }

  private wire(reader: StreamReader, rcc: MainChannelClient | InputsChannelClient): void {
    reader.onClose((reason) => rcc.peerClosed(reason));
    reader.redirect((bytes) => rcc.receive(bytes));
  }

  /** Main dispatcher: a worker channel client went away. */
  channelClientDisconnected(sessionId: number, channelType: number, channelId: number, reason: string): void {
    const client = this.clients.get(sessionId);
    client?.removeRemoteChannel(channelType, channelId);
    log.debug(`session ${sessionId}: ${channelTypeName(channelType)}:${channelId} left the RedWorker (${reason})`);
  }

  private async releaseClient(sessionId: number, reason: string, announce?: number): Promise<void> {
    const client = this.clients.get(sessionId);
    if (!client) return;
    this.agent?.disconnect(sessionId);
    // Scheduled, as spice-server does, even though the main channel runs here too.
    await Promise.resolve();
    await client.destroy(reason, announce);
    this.clients.delete(sessionId);
    for (const cb of this.listeners.disconnect) cb(sessionId);
  }

  /** Disconnects every client, telling each why (DISCONNECTING). */
  async stop(): Promise<void> {
    await Promise.all([...this.clients.keys()].map((id) => this.releaseClient(id, 'server stopping', LinkError.ERROR)));
  }
}
