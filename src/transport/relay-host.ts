/**
 * RelayHost: the hosting page's control connection to the relay. It registers
 * a session (with the operator's relay key and the page's own secret) and
 * receives one {@link StreamOffer} per SPICE client connection; whoever should
 * serve that connection (main thread or a Worker) attaches to it with
 * {@link RelayStream.attach}. After a drop it registers again by itself, with
 * backoff and the same secret, so the relay gives it back its session name.
 */
import { createLogger } from '../util/logger.ts';
import {
  DEFAULT_SESSION,
  FATAL_HOST_CLOSE_CODES,
  MAX_FORWARDED_LOG_LENGTH,
  parseControlMessage,
  preview,
  relayEndpoint,
  SESSION_NAME_RE,
  type HostClientMessage,
  type StreamOffer,
  type TicketCheck,
} from './relay-protocol.ts';
import { openRelaySocket, RelayError } from './relay-socket.ts';
import { WS_OPEN, type WebSocketConstructor, type WebSocketLike } from './websocket-like.ts';

const log = createLogger('relay-host');

/** Options of {@link RelayHost.connect}. */
export interface RelayHostOptions {
  /** Base URL of the relay, e.g. `ws://127.0.0.1:8765`. */
  relayUrl: string;
  /** Session name ([A-Za-z0-9_-]{1,64}); default "default". */
  session?: string;
  /** Proves this page owns the session on reconnects; random if absent. At least 16 characters. */
  secret?: string;
  /** The relay key its operator gave this page (needed unless the relay runs without one). */
  relayKey?: string | null;
  /** WebSocket constructor; the global one if absent (pass `ws`'s in Node). */
  WebSocketImpl?: WebSocketConstructor;
  /** How long to wait for the relay to confirm a registration. Default 10000 ms. */
  timeoutMs?: number;
  /** Register again after the control connection drops. Default true. */
  reconnect?: boolean;
  /** First retry delay after a drop, doubling up to {@link RelayHostOptions.maxRetryMs}. Default 500 ms. */
  retryMs?: number;
  /** Longest retry delay. Default 10000 ms. */
  maxRetryMs?: number;
}

/** Where the registration stands. */
export type RelayHostStatus =
  | { state: 'registered' }
  | { state: 'reconnecting'; reason: string; attempt: number; retryInMs: number }
  | { state: 'closed'; reason: string };

/** The verdict on a ticket. */
export interface TicketVerdict {
  ok: boolean;
  reason?: string;
}

/** The relay's answer to a registration. */
interface Registration {
  ws: WebSocketLike;
  tcpPort: number | null;
  clientPath: string;
  ticketCheck: TicketCheck;
  tlsPort: number | null;
  muxToken: string;
}

/** How long the page waits for the relay's verdict on a ticket. */
const TICKET_TIMEOUT_MS = 10_000;

/** The page's registration of a session at the relay; create with {@link RelayHost.connect}. */
export class RelayHost {
  private readonly offerHandlers: Array<(offer: StreamOffer) => void> = [];
  private readonly pendingOffers: StreamOffer[] = [];
  private readonly streamClosedHandlers: Array<(stream: string, reason: string) => void> = [];
  private readonly closeHandlers: Array<(reason: string) => void> = [];
  private readonly statusHandlers: Array<(status: RelayHostStatus) => void> = [];
  private readonly ticketWaiters = new Map<string, (v: TicketVerdict) => void>();
  private closeReason: string | null = null;
  private closing = false;
  private ws: WebSocketLike;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  /** Who compares tickets with the password, as the relay said at the last registration. */
  ticketCheck: TicketCheck;
  /** The relay's TCP port for native clients when this is the default session, else null. */
  tcpPort: number | null;
  /** Path spice-html5 clients connect to on the relay, e.g. `/spice/default`. */
  clientPath: string;
  /** The relay's SPICE TLS port when this is the default session and the relay has TLS, else null. */
  tlsPort: number | null;
  /** The token this registration's threads open their mux sockets with (it goes into every offer). */
  private muxToken: string;

  private constructor(
    reg: Registration,
    private readonly opts: Required<Pick<RelayHostOptions, 'timeoutMs' | 'reconnect' | 'retryMs' | 'maxRetryMs'>> &
      Pick<RelayHostOptions, 'relayKey' | 'WebSocketImpl'>,
    /** Base URL of the relay. */
    readonly relayUrl: string,
    /** The registered session name. */
    readonly session: string,
    /** The secret this page registered with (kept for re-registering after a drop). */
    readonly secret: string,
  ) {
    this.ws = reg.ws;
    this.ticketCheck = reg.ticketCheck;
    this.tcpPort = reg.tcpPort;
    this.clientPath = reg.clientPath;
    this.tlsPort = reg.tlsPort;
    this.muxToken = reg.muxToken;
    this.bind(reg.ws);
  }

  /**
   * Connects to the relay and registers the session. Rejects with the relay's
   * reason if it refuses (a wrong relay key, a session held by another page).
   */
  static async connect(opts: RelayHostOptions): Promise<RelayHost> {
    const session = opts.session ?? DEFAULT_SESSION;
    if (!SESSION_NAME_RE.test(session)) {
      throw new RelayError(`expected a session name matching ${SESSION_NAME_RE}, got ${preview(session)}`);
    }
    const secret = opts.secret ?? randomSecret();
    const relayUrl = opts.relayUrl.replace(/\/+$/, '');
    const o = {
      timeoutMs: opts.timeoutMs ?? 10_000,
      reconnect: opts.reconnect ?? true,
      retryMs: opts.retryMs ?? 500,
      maxRetryMs: opts.maxRetryMs ?? 10_000,
      relayKey: opts.relayKey,
      WebSocketImpl: opts.WebSocketImpl,
    };
    const reg = await register(relayUrl, session, secret, o);
    log.info(`registered session ${session} at ${relayUrl}`);
    return new RelayHost(reg, o, relayUrl, session, secret);
  }

  /**
   * Adds a handler for new client connections. Offers that arrived before the
   * first handler was added are delivered to it at once.
   */
  onStream(cb: (offer: StreamOffer) => void): void {
    this.offerHandlers.push(cb);
    for (const offer of this.pendingOffers.splice(0)) cb(offer);
  }

  /** Adds a handler told when the relay reports a stream over (whoever's side closed it). */
  onStreamClosed(cb: (stream: string, reason: string) => void): void {
    this.streamClosedHandlers.push(cb);
  }

  /** Adds a handler told of every change: dropped and retrying, registered again, closed for good. */
  onStatus(cb: (status: RelayHostStatus) => void): void {
    this.statusHandlers.push(cb);
  }

  /**
   * Adds a handler called once when the registration ends for good: {@link close},
   * a refusal that retrying cannot fix, or a drop with reconnecting turned off.
   */
  onClose(cb: (reason: string) => void): void {
    if (this.closeReason !== null) cb(this.closeReason);
    else this.closeHandlers.push(cb);
  }

  /** True while the relay has this page's registration. */
  get registered(): boolean {
    return this.closeReason === null && this.ws.readyState === WS_OPEN && this.retryTimer === undefined;
  }

  /**
   * Asks the relay, which holds the password (`ticketCheck === 'relay'`),
   * whether a client's decrypted ticket is right (null: it did not decrypt).
   * Resolves with a refusal if the relay cannot be asked.
   */
  verifyTicket(stream: string, password: string | null): Promise<TicketVerdict> {
    if (!this.registered) return Promise.resolve({ ok: false, reason: 'the relay connection is down' });
    this.ticketWaiters.get(stream)?.({ ok: false, reason: 'superseded by a newer ticket' });
    return new Promise<TicketVerdict>((resolve) => {
      const timer = setTimeout(() => done({ ok: false, reason: `no verdict from the relay within ${TICKET_TIMEOUT_MS} ms` }), TICKET_TIMEOUT_MS);
      const done = (v: TicketVerdict): void => {
        clearTimeout(timer);
        if (this.ticketWaiters.get(stream) === done) this.ticketWaiters.delete(stream);
        resolve(v);
      };
      this.ticketWaiters.set(stream, done);
      this.send({ type: 'ticket', stream, password });
    });
  }

  /** Tells the relay how the page's own ticket check went, so it can log it and slow guessing down. */
  reportAuth(stream: string, ok: boolean, reason?: string): void {
    this.send({ type: 'auth', stream, ok, ...(reason ? { reason } : {}) });
  }

  /** Sends a warning or error of the page to the relay's log (dropped while unregistered). */
  forwardLog(level: 'warn' | 'error', text: string): void {
    if (this.registered) this.send({ type: 'log', level, text: text.slice(0, MAX_FORWARDED_LOG_LENGTH) });
  }

  /** Unregisters: the relay frees the session and closes its client connections. */
  close(): void {
    this.closing = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.ws.readyState === WS_OPEN) this.ws.close(1000, 'host closed');
    this.finish('closed by the page');
  }

  private send(msg: HostClientMessage): void {
    if (this.ws.readyState === WS_OPEN) this.ws.send(JSON.stringify(msg));
  }

  private bind(ws: WebSocketLike): void {
    ws.addEventListener('message', (ev) => {
      if (ws === this.ws) this.onMessage(ev.data);
    });
    ws.addEventListener('close', (ev) => {
      if (ws === this.ws) this.onSocketClose(ev.code, ev.reason);
    });
  }

  private onMessage(data: unknown): void {
    const text = typeof data === 'string' ? data : null;
    const parsed = text === null ? null : parseControlMessage(text);
    if (!parsed?.ok) {
      log.warn(`ignored unexpected ${text === null ? 'binary' : 'malformed'} message on the control socket`);
      return;
    }
    const m = parsed.msg;
    switch (m.type) {
      case 'open': {
        if (typeof m.stream !== 'string' || typeof m.token !== 'string') {
          log.warn(`ignored "open" without stream/token: ${preview(text ?? '')}`);
          return;
        }
        const offer: StreamOffer = {
          stream: m.stream,
          token: m.token,
          transport: m.transport === 'tcp' ? 'tcp' : 'ws',
          remote: typeof m.remote === 'string' ? m.remote : 'unknown',
          relayUrl: this.relayUrl,
          session: this.session,
          muxToken: this.muxToken,
        };
        log.debug(`stream ${offer.stream} offered (${offer.transport} ${offer.remote})`);
        if (this.offerHandlers.length === 0) this.pendingOffers.push(offer);
        for (const cb of this.offerHandlers) cb(offer);
        return;
      }
      case 'closed': {
        if (typeof m.stream !== 'string') return;
        const reason = typeof m.reason === 'string' ? m.reason : 'closed';
        this.ticketWaiters.get(m.stream)?.({ ok: false, reason: 'the client left' });
        for (const cb of this.streamClosedHandlers) cb(m.stream, reason);
        return;
      }
      case 'ticket-result': {
        if (typeof m.stream !== 'string') return;
        this.ticketWaiters.get(m.stream)?.({ ok: m.ok === true, ...(typeof m.reason === 'string' ? { reason: m.reason } : {}) });
        return;
      }
      case 'registered':
        return; // a re-registration confirmation; nothing changes
      default:
        log.debug(`ignored control message type ${preview(m.type)}`);
    }
  }

  private onSocketClose(code: number, reason: string): void {
    if (this.closeReason !== null || this.closing) return;
    for (const done of [...this.ticketWaiters.values()]) done({ ok: false, reason: 'the relay connection dropped' });
    const why = `relay control connection for session ${this.session} closed (code ${code}${reason ? `: ${reason}` : ''})`;
    if (!this.opts.reconnect || FATAL_HOST_CLOSE_CODES.has(code)) {
      log.warn(why);
      this.finish(why);
      return;
    }
    this.scheduleRetry(why);
  }

  private scheduleRetry(why: string): void {
    const attempt = ++this.attempt;
    const base = Math.min(this.opts.maxRetryMs, this.opts.retryMs * 2 ** Math.min(attempt - 1, 20));
    // Jitter, so pages dropped together by a relay restart do not come back in lockstep.
    const retryInMs = Math.round(base * (0.75 + Math.random() * 0.5));
    log.warn(`${why}; registering again in ${retryInMs} ms (attempt ${attempt})`);
    this.status({ state: 'reconnecting', reason: why, attempt, retryInMs });
    this.retryTimer = setTimeout(() => {
      register(this.relayUrl, this.session, this.secret, this.opts).then(
        (reg) => {
          this.retryTimer = undefined;
          if (this.closing) {
            reg.ws.close(1000, 'host closed');
            return;
          }
          this.ws = reg.ws;
          this.ticketCheck = reg.ticketCheck;
          this.tcpPort = reg.tcpPort;
          this.clientPath = reg.clientPath;
          this.tlsPort = reg.tlsPort;
          this.muxToken = reg.muxToken;
          this.attempt = 0;
          this.bind(reg.ws);
          log.info(`registered session ${this.session} at ${this.relayUrl} again`);
          this.status({ state: 'registered' });
        },
        (err: unknown) => {
          if (this.closing) return;
          const e = err instanceof RelayError ? err : new RelayError(String(err));
          if (e.code !== undefined && FATAL_HOST_CLOSE_CODES.has(e.code)) {
            this.retryTimer = undefined;
            log.error(e.message);
            this.finish(e.message);
            return;
          }
          this.scheduleRetry(e.message);
        },
      );
    }, retryInMs);
  }

  private status(s: RelayHostStatus): void {
    for (const cb of this.statusHandlers) cb(s);
  }

  private finish(reason: string): void {
    if (this.closeReason !== null) return;
    this.closeReason = reason;
    for (const done of [...this.ticketWaiters.values()]) done({ ok: false, reason: 'the relay connection closed' });
    this.status({ state: 'closed', reason });
    for (const cb of this.closeHandlers.splice(0)) cb(reason);
  }
}

/** Opens a control socket and registers; resolves once the relay confirms. */
function register(
  relayUrl: string,
  session: string,
  secret: string,
  opts: { timeoutMs: number; relayKey?: string | null; WebSocketImpl?: WebSocketConstructor },
): Promise<Registration> {
  const url = relayEndpoint(relayUrl, `/host?session=${encodeURIComponent(session)}`);
  return new Promise<Registration>((resolve, reject) => {
    let ws: WebSocketLike;
    try {
      ws = openRelaySocket(url, opts.WebSocketImpl);
    } catch (err) {
      reject(err);
      return;
    }
    let settled = false;
    let relayError: string | null = null;
    const fail = (err: RelayError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
      ws.close(1000, 'registration failed');
    };
    const timer = setTimeout(
      () => fail(new RelayError(`relay at ${url} did not confirm registration within ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    );
    ws.addEventListener('open', () => {
      const msg: HostClientMessage = { type: 'register', secret, ...(opts.relayKey ? { key: opts.relayKey } : {}) };
      ws.send(JSON.stringify(msg));
    });
    ws.addEventListener('message', (ev) => {
      if (settled) return;
      const text = typeof ev.data === 'string' ? ev.data : null;
      const parsed = text === null ? null : parseControlMessage(text);
      if (!parsed?.ok) {
        fail(new RelayError(`relay at ${url}: expected a "registered" message, got ${text === null ? 'binary data' : preview(text)}`));
        return;
      }
      const m = parsed.msg;
      if (m.type === 'error') {
        // Keep it for the close event, which carries the close code too.
        relayError = typeof m.reason === 'string' ? m.reason : preview(text ?? '');
        return;
      }
      if (m.type !== 'registered') {
        fail(new RelayError(`relay at ${url}: expected a "registered" message, got ${preview(m.type)}`));
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolve({
        ws,
        tcpPort: typeof m.tcpPort === 'number' ? m.tcpPort : null,
        clientPath: typeof m.clientPath === 'string' ? m.clientPath : `/spice/${session}`,
        ticketCheck: m.ticketCheck === 'relay' ? 'relay' : 'page',
        tlsPort: typeof m.tlsPort === 'number' ? m.tlsPort : null,
        muxToken: typeof m.muxToken === 'string' ? m.muxToken : '',
      });
    });
    ws.addEventListener('close', (ev) => {
      const reason =
        relayError ??
        (ev.reason ||
          (ev.code === 1006
            ? 'connection failed (is the relay running, and does it allow this page\'s origin? its log says why it refused)'
            : `connection closed (code ${ev.code})`));
      fail(new RelayError(`relay refused session ${session}: ${reason}`, ev.code));
    });
    ws.addEventListener('error', () => {
      log.debug(`control socket error (${url})`); // the close event follows with details
    });
  });
}

/** 128 random bits as hex; works in windows, Workers and Node 20 (global `crypto`). */
export function randomSecret(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
