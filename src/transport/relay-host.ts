/**
 * RelayHost: the hosting page's control connection to the relay. It registers
 * a session and receives one {@link StreamOffer} per SPICE client connection;
 * whoever should serve that connection (main thread or a Worker) attaches to
 * it with {@link RelayStream.attach}.
 */
import { createLogger } from '../util/logger.ts';
import {
  DEFAULT_SESSION,
  parseControlMessage,
  preview,
  relayEndpoint,
  SESSION_NAME_RE,
  type StreamOffer,
} from './relay-protocol.ts';
import { RelayError } from './relay-stream.ts';
import { resolveWebSocket, WS_OPEN, type WebSocketConstructor, type WebSocketLike } from './websocket-like.ts';

const log = createLogger('relay-host');

/** Options of {@link RelayHost.connect}. */
export interface RelayHostOptions {
  /** Base URL of the relay, e.g. `ws://127.0.0.1:8765`. */
  relayUrl: string;
  /** Session name ([A-Za-z0-9_-]{1,64}); default "default". */
  session?: string;
  /** Proves this page owns the session on reconnects; random if absent. At least 16 characters. */
  secret?: string;
  /** WebSocket constructor; the global one if absent (pass `ws`'s in Node). */
  WebSocketImpl?: WebSocketConstructor;
  /** How long to wait for the relay to confirm the registration. Default 10000 ms. */
  timeoutMs?: number;
}

/** The page's registration of a session at the relay; create with {@link RelayHost.connect}. */
export class RelayHost {
  private readonly offerHandlers: Array<(offer: StreamOffer) => void> = [];
  private readonly pendingOffers: StreamOffer[] = [];
  private readonly streamClosedHandlers: Array<(stream: string, reason: string) => void> = [];
  private readonly closeHandlers: Array<(reason: string) => void> = [];
  private closeReason: string | null = null;

  private constructor(
    private readonly ws: WebSocketLike,
    /** Base URL of the relay. */
    readonly relayUrl: string,
    /** The registered session name. */
    readonly session: string,
    /** The secret this page registered with (reuse it to re-register after a reconnect). */
    readonly secret: string,
    /** The relay's TCP port for native clients when this is the default session, else null. */
    readonly tcpPort: number | null,
    /** Path spice-html5 clients connect to on the relay, e.g. `/spice/default`. */
    readonly clientPath: string,
  ) {}

  /**
   * Connects to the relay and registers the session. Rejects with the relay's
   * reason if it refuses (e.g. the session is held by another page).
   */
  static connect(opts: RelayHostOptions): Promise<RelayHost> {
    const session = opts.session ?? DEFAULT_SESSION;
    if (!SESSION_NAME_RE.test(session)) {
      return Promise.reject(new RelayError(`expected a session name matching ${SESSION_NAME_RE}, got ${preview(session)}`));
    }
    const secret = opts.secret ?? randomSecret();
    let Impl: WebSocketConstructor;
    try {
      Impl = resolveWebSocket(opts.WebSocketImpl);
    } catch (err) {
      return Promise.reject(err);
    }
    const url = relayEndpoint(opts.relayUrl, `/host?session=${encodeURIComponent(session)}`);
    const timeoutMs = opts.timeoutMs ?? 10_000;

    return new Promise<RelayHost>((resolve, reject) => {
      let ws: WebSocketLike;
      try {
        ws = new Impl(url);
      } catch (err) {
        reject(new RelayError(`could not open ${url}: ${(err as Error).message}`));
        return;
      }
      let host: RelayHost | null = null;
      let failed = false;
      let relayError: string | null = null;
      const fail = (err: RelayError): void => {
        if (host || failed) return;
        failed = true;
        clearTimeout(timer);
        reject(err);
        ws.close(1000, 'registration failed');
      };
      const timer = setTimeout(
        () => fail(new RelayError(`relay at ${url} did not confirm registration within ${timeoutMs} ms`)),
        timeoutMs,
      );

      ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'register', secret })));
      ws.addEventListener('message', (ev) => {
        if (host) {
          host.onMessage(ev.data);
          return;
        }
        if (failed) return;
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
        clearTimeout(timer);
        const tcpPort = typeof m.tcpPort === 'number' ? m.tcpPort : null;
        const clientPath = typeof m.clientPath === 'string' ? m.clientPath : `/spice/${session}`;
        host = new RelayHost(ws, opts.relayUrl.replace(/\/+$/, ''), session, secret, tcpPort, clientPath);
        log.info(`registered session ${session} at ${opts.relayUrl}`);
        resolve(host);
      });
      ws.addEventListener('close', (ev) => {
        if (host) {
          host.onSocketClose(ev.code, ev.reason);
          return;
        }
        const reason = relayError ?? (ev.reason || `connection closed (code ${ev.code})`);
        fail(new RelayError(`relay refused session ${session}: ${reason}`, ev.code));
      });
      ws.addEventListener('error', () => {
        log.debug(`control socket error (${url})`); // the close event follows with details
      });
    });
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

  /** Adds a handler called once when the control connection ends (its streams end with it). */
  onClose(cb: (reason: string) => void): void {
    if (this.closeReason !== null) cb(this.closeReason);
    else this.closeHandlers.push(cb);
  }

  /** Unregisters: the relay frees the session and closes its client connections. */
  close(): void {
    if (this.ws.readyState === WS_OPEN) this.ws.close(1000, 'host closed');
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
        };
        log.debug(`stream ${offer.stream} offered (${offer.transport} ${offer.remote})`);
        if (this.offerHandlers.length === 0) this.pendingOffers.push(offer);
        for (const cb of this.offerHandlers) cb(offer);
        return;
      }
      case 'closed': {
        if (typeof m.stream !== 'string') return;
        const reason = typeof m.reason === 'string' ? m.reason : 'closed';
        for (const cb of this.streamClosedHandlers) cb(m.stream, reason);
        return;
      }
      case 'registered':
        return; // a re-registration confirmation; nothing changes
      default:
        log.debug(`ignored control message type ${preview(m.type)}`);
    }
  }

  private onSocketClose(code: number, reason: string): void {
    if (this.closeReason !== null) return;
    this.closeReason = `relay control connection for session ${this.session} closed (code ${code}${reason ? `: ${reason}` : ''})`;
    log.info(this.closeReason);
    for (const cb of this.closeHandlers.splice(0)) cb(this.closeReason);
  }
}

/** 128 random bits as hex; works in windows, Workers and Node 20 (global `crypto`). */
function randomSecret(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
