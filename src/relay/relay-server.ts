/**
 * The Node relay: the meeting point of SPICE clients and the page that serves
 * them (a page cannot listen on sockets).
 *
 * - `/host?session=NAME` — the hosting page's control socket (register with
 *   the relay key, stream offers, ticket checks, forwarded page warnings);
 * - `/spice/NAME` — spice-html5 clients; any other path is refused;
 * - the TCP port — native clients (spice-gtk) for session "default";
 * - the TLS port (with `tls`) — native clients over TLS, otherwise as the TCP port;
 * - `/mux?session=NAME` — a page thread's socket carrying the client streams
 *   it serves (page-mux.ts), so a page needs one socket per thread, not per
 *   client; the session's mux token comes as a subprotocol and is checked
 *   before the upgrade is accepted.
 *
 * Everything that arrives is hostile until proven otherwise: browser origins
 * are checked, hosting needs the operator's relay key, unauthenticated
 * connections are limited per address and in all (see admission.ts), failed
 * tickets slow their address down (auth-throttle.ts), and relay buffers have
 * a relay-wide cap. Client bytes are not parsed past the opening link request
 * (link-preamble.ts): each client connection is an opaque stream.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createTcpServer, isIP, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { createLogger } from '../util/logger.ts';
import {
  DEFAULT_SESSION,
  MAX_FORWARDED_LOG_LENGTH,
  MAX_MUX_SOCKETS_PER_SESSION,
  MIN_SECRET_LENGTH,
  MUX_SUBPROTOCOL,
  muxTokenOf,
  parseControlMessage,
  preview,
  RelayCloseCode,
  SESSION_NAME_RE,
  type HostServerMessage,
} from '../transport/relay-protocol.ts';
import { TcpClientConnection, WsClientConnection, rawToBuffer, type ClientConnection } from './client-connection.ts';
import { RelayedStream, type StreamContext } from './relayed-stream.ts';
import { PageMux } from './page-mux.ts';
import { closeReason, formatRemote, isLoopbackHost, secretsEqual, urlHost } from './net-util.ts';
import { Admission, addressGroup, type AdmissionLimits, type AdmissionPass, type AdmissionStats } from './admission.ts';
import { AuthThrottle, type AuthThrottleOptions } from './auth-throttle.ts';
import { normalizeOrigin, normalizeOriginOrNull } from './origin.ts';
import { serveLauncherCredentials } from './page-guards.ts';
import { StaticSite } from './static-site.ts';
import { checkTlsCredentials, createWebServer, DEFAULT_TLS_PORT, SpiceTlsPort, type TlsCredentials, type WebServer } from './tls-listener.ts';

const log = createLogger('relay');

/** Options of {@link RelayServer}; every field has a default. */
export interface RelayServerOptions {
  /** Address for both listeners. Default `127.0.0.1`; anything not loopback logs a warning. */
  host?: string;
  /** HTTP + WebSocket port. Default 8765; 0 picks a free port. */
  port?: number;
  /** TCP port for native SPICE clients of session "default". Default 5900; 0 picks a free port; null turns it off. */
  tcpPort?: number | null;
  /** Most bytes buffered per stream while no page socket is attached; more closes that client. Default 8 MiB. */
  maxBufferedBytes?: number;
  /** How long a client waits for a page to (re-)attach, and a host socket may take to register. Default 10000 ms. */
  attachTimeoutMs?: number;
  /** Ping interval for host control sockets, to free sessions of pages that vanished. Default 30000 ms; 0 = off. */
  heartbeatMs?: number;
  /**
   * The key pages must present to host a session. Default: a random key made
   * at construction (read it from {@link RelayServer.relayKey} to hand it to
   * your page); null lets any page host (a warning is logged).
   */
  relayKey?: string | null;
  /**
   * Browser origins (e.g. `https://example.org:8443`) allowed to host and to
   * connect as clients. Connections without an Origin (native tools, Node)
   * are not browsers and are let through to the next check. Default: none.
   */
  allowedOrigins?: readonly string[];
  /**
   * A password the relay itself checks for every session: pages then send
   * decrypted tickets here and never learn it. Default none (pages check
   * their own password, if any).
   */
  password?: string | null;
  /** How long a dropped page's session name stays reserved for it. Default 30000 ms. */
  graceMs?: number;
  /** Limits on unauthenticated connections (defaults: 8 per address, 64 in all, 10000 ms to authenticate). */
  limits?: Partial<AdmissionLimits>;
  /** Most bytes held in all relay buffers together; a stream that would pass it is closed. Default 256 MiB. */
  maxTotalBufferedBytes?: number;
  /** Backoff after failed tickets (defaults: 200 ms doubling to 5 s, forgotten after 15 min). */
  authThrottle?: AuthThrottleOptions;
  /**
   * A built site to serve on the web port (`npm run build:site`), with the
   * isolation headers; the relay's own origin is then allowed, and on
   * loopback its page gets the relay key as the launchers' pages do.
   */
  staticDir?: string;
  /**
   * Addresses of reverse proxies in front of the relay (e.g. HAProxy): for
   * their connections the client's address is the last entry of
   * X-Forwarded-For, and limits count per that address. Default none.
   */
  trustedProxies?: readonly string[];
  /** Certificate and key: the HTTP port becomes HTTPS (`wss://`) and the SPICE TLS port opens. Default: no TLS. */
  tls?: TlsCredentials;
  /** SPICE TLS port for native clients of session "default" (needs `tls`). Default 5901; 0 picks a free port; null turns it off. */
  tlsPort?: number | null;
}

/** Default limits on unauthenticated connections. */
export const DEFAULT_ADMISSION_LIMITS: AdmissionLimits = { maxPerAddress: 8, maxTotal: 64, timeoutMs: 10_000 };

/** Ports actually bound by {@link RelayServer.start}. */
export interface RelayAddress {
  port: number;
  tcpPort: number | null;
  /** The SPICE TLS port, or null without TLS or when it is off. */
  tlsPort: number | null;
}

/** Live counts, for status pages and tests. */
export interface RelayStats {
  sessions: number;
  streams: number;
  /** Page thread sockets carrying streams (`/mux`), over all sessions. */
  muxSockets: number;
  /** Unauthenticated connections and what admission control did. */
  admission: AdmissionStats;
  /** Bytes held in relay buffers. */
  bufferedBytes: number;
}

interface Session {
  readonly name: string;
  readonly secret: string;
  /** The page's control socket; null while the page is away (grace period). */
  host: WebSocket | null;
  hostRemote: string;
  /** The page's address group (IPv4 address or IPv6 /64), for {@link RelayServer} admission exemptions. */
  hostGroup: string;
  alive: boolean;
  readonly streams: Map<string, RelayedStream>;
  /** What page threads open their mux sockets with; the same across re-registrations. */
  readonly muxToken: string;
  readonly muxes: Set<PageMux>;
  graceTimer: ReturnType<typeof setTimeout> | undefined;
  /** Forwarded page log lines allowed in the current window, and when it started. */
  logBudget: { left: number; since: number };
}

/** An unauthenticated connection's admission, with what to do if it must go. */
interface Pending {
  readonly pass: AdmissionPass;
  onEvict: (reason: string) => void;
}

/** Refusal lines logged per second at most (an attack brings thousands). */
const REFUSAL_LINES_PER_SECOND = 10;
/** Forwarded page log lines per session in each 10 s window. */
const PAGE_LOG_LINES_PER_WINDOW = 20;
/** Most bytes in one WebSocket message from a client (spice-html5 sends small ones). */
const CLIENT_MAX_PAYLOAD = 1024 * 1024;
/** Most bytes in one WebSocket message from a page thread's mux socket (a whole uncompressed screen fits). */
const PAGE_MAX_PAYLOAD = 64 * 1024 * 1024;
/** Most bytes in one message on a host control socket (JSON control; read before the page proved anything). */
const HOST_MAX_PAYLOAD = 256 * 1024;
/** Most bytes a client sends before its ticket is accepted. */
const MAX_UNAUTHENTICATED_BYTES = 64 * 1024;

/**
 * The relay. `new RelayServer(opts)`, `await start()` for the bound ports,
 * `await stop()` to close every connection and listener.
 */
export class RelayServer {
  private readonly host: string;
  private readonly port: number;
  private readonly tcpPortOption: number | null;
  private readonly maxBufferedBytes: number;
  private readonly attachTimeoutMs: number;
  private readonly heartbeatMs: number;

  private readonly key: string | null;
  private readonly origins: Set<string>;
  private readonly password: string | null;
  private readonly graceMs: number;
  private readonly maxTotalBufferedBytes: number;
  private readonly admission: Admission;
  private readonly hostAdmission: Admission;
  private readonly site: StaticSite | null;
  private readonly proxies: ReadonlySet<string>;
  private readonly throttle: AuthThrottle;
  private bufferedBytes = 0;
  /** Admissions of web-port connections by `address:port`, which the raw and the TLS socket share. */
  private readonly pendingSockets = new Map<string, Pending>();
  private readonly tls: TlsCredentials | null;
  private readonly tlsPortOption: number | null;

  private http: WebServer | null = null;
  private tcp: TcpServer | null = null;
  private tlsListener: SpiceTlsPort | null = null;
  /** Mux sockets (checked before they are accepted: their frames may be big). */
  private wss: WebSocketServer | null = null;
  /** Host control sockets: small JSON messages, read before the page registered. */
  private wssHost: WebSocketServer | null = null;
  private wssClients: WebSocketServer | null = null;
  private readonly tcpSockets = new Set<Socket>();
  private readonly sessions = new Map<string, Session>();
  private readonly streams = new Map<string, RelayedStream>();
  private nextStreamId = 0;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private bound: RelayAddress | null = null;

  constructor(options: RelayServerOptions = {}) {
    this.host = options.host ?? '127.0.0.1';
    this.port = checkPort('port', options.port ?? 8765);
    this.tcpPortOption = options.tcpPort === null ? null : checkPort('tcpPort', options.tcpPort ?? 5900);
    this.maxBufferedBytes = checkPositive('maxBufferedBytes', options.maxBufferedBytes ?? 8 * 1024 * 1024);
    this.attachTimeoutMs = checkPositive('attachTimeoutMs', options.attachTimeoutMs ?? 10_000);
    this.heartbeatMs = options.heartbeatMs ?? 30_000;
    this.key = options.relayKey === undefined ? randomBytes(24).toString('base64url') : options.relayKey;
    if (this.key !== null && this.key.length < MIN_SECRET_LENGTH) {
      throw new RangeError(`RelayServer: expected a relay key of at least ${MIN_SECRET_LENGTH} characters, got ${this.key.length}`);
    }
    this.origins = new Set((options.allowedOrigins ?? []).map((o) => normalizeOrigin(o)));
    this.password = options.password || null;
    this.graceMs = checkPositive('graceMs', options.graceMs ?? 30_000);
    this.maxTotalBufferedBytes = checkPositive('maxTotalBufferedBytes', options.maxTotalBufferedBytes ?? 256 * 1024 * 1024);
    const limits = { ...DEFAULT_ADMISSION_LIMITS, ...options.limits };
    this.admission = new Admission(limits);
    // A hosting page's address proved it holds the relay key, and its thread sockets come in
    // bursts: its connections get roomier limits of their own, with the same deadline.
    this.hostAdmission = new Admission({ maxPerAddress: 1024, maxTotal: 2048, timeoutMs: limits.timeoutMs });
    this.throttle = new AuthThrottle(options.authThrottle);
    this.site = options.staticDir ? new StaticSite(options.staticDir) : null;
    this.proxies = new Set((options.trustedProxies ?? []).map((a) => {
      if (!isIP(a)) throw new RangeError(`RelayServer: expected trusted proxies as IP addresses, got ${JSON.stringify(a)}`);
      return addressGroup(a);
    }));
    this.tls = options.tls ? checkTlsCredentials(options.tls) : null;
    if (!this.tls && options.tlsPort != null) {
      throw new RangeError(`RelayServer: expected tls credentials with tlsPort, got tlsPort ${options.tlsPort} and no tls`);
    }
    this.tlsPortOption = this.tls && options.tlsPort !== null ? checkPort('tlsPort', options.tlsPort ?? DEFAULT_TLS_PORT) : null;
  }

  /** The key pages must present to host (null: none needed). Hand it to your pages; never log it. */
  get relayKey(): string | null {
    return this.key;
  }

  /** The browser origins allowed to host and to connect. */
  get allowedOrigins(): readonly string[] {
    return [...this.origins];
  }

  /** Allows one more browser origin (e.g. a page server whose port was chosen after the relay started). */
  allowOrigin(origin: string): void {
    this.origins.add(normalizeOrigin(origin));
  }

  /** Ports in use once started, else null. */
  get address(): RelayAddress | null {
    return this.bound;
  }

  /** Base WebSocket URL of the relay (`ws://host:port`, `wss://` with TLS), once started. */
  get url(): string {
    if (!this.bound) throw new Error('RelayServer.url: expected a started relay, got one that is not listening');
    return `${this.tls ? 'wss' : 'ws'}://${urlHost(this.host)}:${this.bound.port}`;
  }

  /** Binds the HTTP/WebSocket port and (unless off) the TCP port; resolves with the actual ports. */
  async start(): Promise<RelayAddress> {
    if (this.http) throw new Error('RelayServer.start: expected a stopped relay, got one already started');
    const wsOptions = {
      noServer: true,
      // spice-html5 asks for "binary", a mux socket for MUX_SUBPROTOCOL (beside its token, never echoed);
      // Chromium fails the handshake unless one is echoed.
      handleProtocols: (protocols: Set<string>) => (protocols.has('binary') ? 'binary' : protocols.has(MUX_SUBPROTOCOL) ? MUX_SUBPROTOCOL : false),
      perMessageDeflate: false,
    };
    this.wss = new WebSocketServer({ ...wsOptions, maxPayload: PAGE_MAX_PAYLOAD });
    this.wssHost = new WebSocketServer({ ...wsOptions, maxPayload: HOST_MAX_PAYLOAD });
    this.wssClients = new WebSocketServer({ ...wsOptions, maxPayload: CLIENT_MAX_PAYLOAD });
    // Slow headers must not hold a connection: every unauthenticated one counts against its address.
    const http = createWebServer(
      this.tls,
      { headersTimeout: 10_000, requestTimeout: 15_000 },
      (req, res) => this.onHttpRequest(req, res),
      (socket) => this.onHttpConnection(socket),
    );
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    http.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onConnect(req, socket as Socket, head));
    this.http = http;

    try {
      await listen(http, this.port, this.host, 'HTTP/WebSocket');
      let tcpPort: number | null = null;
      if (this.tcpPortOption !== null) {
        const tcp = createTcpServer({ noDelay: true }, (s) => this.onTcpConnection(s));
        this.tcp = tcp;
        await listen(tcp, this.tcpPortOption, this.host, 'TCP');
        tcpPort = (tcp.address() as AddressInfo).port;
      }
      const tlsPort = await this.listenTls();
      this.bound = { port: (http.address() as AddressInfo).port, tcpPort, tlsPort };
      // The site's pages come from this very origin (and, on 127.0.0.1, as localhost too).
      if (this.site) for (const h of new Set([urlHost(this.host), ...(this.host === '127.0.0.1' ? ['localhost'] : [])])) {
        this.origins.add(`${this.tls ? 'https' : 'http'}://${h}:${this.bound.port}`);
      }
    } catch (err) {
      await this.stop();
      throw err;
    }

    if (this.heartbeatMs > 0) {
      this.heartbeat = setInterval(() => this.pingHosts(), this.heartbeatMs);
      this.heartbeat.unref();
    }
    const base = this.url;
    log.info(
      `spice-relay listening: ${base} (page: /host?session=${DEFAULT_SESSION}, spice-html5: ${base}/spice/${DEFAULT_SESSION}), ` +
        (this.bound.tcpPort === null
          ? 'tcp off'
          : `tcp ${urlHost(this.host)}:${this.bound.tcpPort} (session ${DEFAULT_SESSION})`) +
        (this.bound.tlsPort === null ? '' : `, tls ${urlHost(this.host)}:${this.bound.tlsPort}`),
    );
    if (!isLoopbackHost(this.host)) {
      log.warn(
        `listening on non-loopback address ${this.host}: anyone who can reach it can try to connect ` +
          '(SPICE tickets still apply); use TLS and a password',
      );
    }
    if (this.key === null) log.warn('no relay key: any page that can reach this relay may host a session');
    log.info(
      `allowed browser origins: ${this.origins.size ? [...this.origins].join(', ') : 'none (only clients without an Origin, i.e. native tools)'}` +
        (this.password ? '; tickets checked by the relay' : ''),
    );
    return this.bound;
  }

  /** Closes every client, page socket and listener. Safe to call more than once. */
  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const stream of [...this.streams.values()]) stream.finish({ kind: 'stopping' });
    for (const session of this.sessions.values()) {
      clearTimeout(session.graceTimer);
      session.host?.terminate();
      for (const m of session.muxes) m.terminate();
    }
    this.sessions.clear();
    this.admission.clear();
    this.hostAdmission.clear();
    for (const w of [this.wss, this.wssHost, this.wssClients]) if (w) for (const ws of w.clients) ws.terminate();
    for (const s of this.tcpSockets) s.destroy();
    const http = this.http;
    const tcp = this.tcp;
    const wss = this.wss;
    const wssClients = this.wssClients;
    const wssHost = this.wssHost;
    this.http = this.tcp = this.wss = this.wssHost = this.wssClients = null;
    const tls = this.tlsListener;
    this.tlsListener = null;
    tls?.destroyAll();
    const wasRunning = this.bound !== null;
    this.bound = null;
    await Promise.all([
      http ? closeServer(http, () => http.closeAllConnections()) : undefined,
      tcp ? closeServer(tcp) : undefined,
      tls ? closeServer(tls.server) : undefined,
      wss ? new Promise<void>((resolve) => wss.close(() => resolve())) : undefined,
      wssClients ? new Promise<void>((resolve) => wssClients.close(() => resolve())) : undefined,
      wssHost ? new Promise<void>((resolve) => wssHost.close(() => resolve())) : undefined,
    ]);
    if (wasRunning) log.info('spice-relay stopped');
  }

  /** Counts of registered sessions and live client streams. */
  stats(): RelayStats {
    return {
      sessions: this.sessions.size,
      streams: this.streams.size,
      muxSockets: [...this.sessions.values()].reduce((n, s) => n + s.muxes.size, 0),
      admission: this.admission.stats(),
      bufferedBytes: this.bufferedBytes,
    };
  }

  // ---- admission ----

  /** Admits an unauthenticated connection, or logs why not and returns null. */
  private admit(address: string, what: string, evict: (reason: string) => void, admission = this.admission): Pending | null {
    // Only later arrivals or the deadline evict, so `pending` is set by the time this runs.
    let pending: Pending | null = null;
    const r = admission.admit(address, (reason) => {
      log.info(`${what} dropped: ${reason}`);
      pending?.onEvict(reason);
    });
    if (!r.ok) {
      this.logRefusal(`${what} refused: ${r.reason}`);
      return null;
    }
    pending = { pass: r.pass, onEvict: evict };
    return pending;
  }

  private refusalLog = { since: 0, lines: 0, suppressed: 0 };

  /** Refusals come in floods during an attack: ten lines a second at most, then a count of the rest. */
  private logRefusal(line: string): void {
    const now = Date.now();
    const r = this.refusalLog;
    if (now - r.since >= 1000) {
      if (r.suppressed) log.warn(`${r.suppressed} more refusals were not logged`);
      this.refusalLog = { since: now, lines: 0, suppressed: 0 };
    }
    if (this.refusalLog.lines++ >= REFUSAL_LINES_PER_SECOND) {
      this.refusalLog.suppressed++;
      return;
    }
    log.warn(line);
  }

  private reserveBuffer = (delta: number): boolean => {
    if (delta > 0 && this.bufferedBytes + delta > this.maxTotalBufferedBytes) return false;
    this.bufferedBytes += delta;
    return true;
  };

  // ---- HTTP ----

  /** A new connection to the web port (with TLS: before its handshake). */
  private onHttpConnection(socket: Socket): void {
    // A proxy's connections are counted per client once their request says who it is.
    if (this.isTrustedProxy(socket.remoteAddress)) return;
    const key = formatRemote(socket.remoteAddress, socket.remotePort);
    const admission = this.hostsFrom(socket.remoteAddress) ? this.hostAdmission : this.admission;
    const pending = this.admit(socket.remoteAddress ?? 'unknown', `connection ${key}`, () => socket.destroy(), admission);
    if (!pending) {
      socket.destroy();
      return;
    }
    this.pendingSockets.set(key, pending);
    socket.on('close', () => {
      pending.pass.release();
      if (this.pendingSockets.get(key) === pending) this.pendingSockets.delete(key);
    });
  }

  /** True when a page registered with the relay key from this address (group) is connected now. */
  private hostsFrom(address: string | undefined): boolean {
    if (address === undefined) return false;
    const group = addressGroup(address);
    for (const s of this.sessions.values()) if (s.host && s.hostGroup === group) return true;
    return false;
  }

  private isTrustedProxy(address: string | undefined): boolean {
    return address !== undefined && this.proxies.size > 0 && this.proxies.has(addressGroup(address));
  }

  /** The client behind a request: its socket's peer, or for a trusted proxy the last X-Forwarded-For entry. */
  private clientOf(req: IncomingMessage): { address: string; remote: string } {
    const peer = req.socket.remoteAddress ?? 'unknown';
    if (this.isTrustedProxy(peer)) {
      const forwarded = String(req.headers['x-forwarded-for'] ?? '').split(',').pop()?.trim() ?? '';
      if (isIP(forwarded)) return { address: forwarded, remote: `${formatRemote(forwarded, undefined)} via ${formatRemote(peer, req.socket.remotePort)}` };
    }
    return { address: peer, remote: formatRemote(peer, req.socket.remotePort) };
  }

  /**
   * The admission of the connection a request came on: taken when it
   * connected, or now for a trusted proxy's (per the forwarded client);
   * null when refused.
   */
  private admissionOf(req: IncomingMessage, socket: Duplex, what: string): Pending | null {
    const key = formatRemote(req.socket.remoteAddress, req.socket.remotePort);
    const known = this.pendingSockets.get(key);
    if (known) return known;
    if (!this.isTrustedProxy(req.socket.remoteAddress)) return null;
    const pending = this.admit(this.clientOf(req).address, what, () => socket.destroy());
    if (!pending) return null;
    this.pendingSockets.set(key, pending);
    socket.on('close', () => {
      pending.pass.release();
      if (this.pendingSockets.get(key) === pending) this.pendingSockets.delete(key);
    });
    return pending;
  }

  private onHttpRequest(req: IncomingMessage, res: ServerResponse): void {
    if (this.site && (this.site.handle(req, res) || serveLauncherCredentials(req, res, () => ({ relayKey: this.key })))) return;
    const path = (req.url ?? '/').split('?')[0];
    if ((req.method === 'GET' || req.method === 'HEAD') && path === '/') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end('spice-relay\npage: /host?session=NAME  spice-html5: /spice/NAME  page threads: /mux\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`not found: expected GET / or a WebSocket upgrade, got ${req.method ?? '?'} ${preview(path ?? '')}\n`);
  }

  /** Refuses an upgrade or a CONNECT with an HTTP status; browsers see a failed connection, the log says why. */
  private refuseUpgrade(socket: Duplex, status: string, who: string, reason: string): void {
    this.logRefusal(`${who} refused: ${reason}`);
    const body = `${reason}\n`;
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const wss = this.wss;
    const wssHost = this.wssHost;
    const wssClients = this.wssClients;
    if (!wss || !wssHost || !wssClients) {
      socket.destroy();
      return;
    }
    socket.on('error', () => {
      /* a reset during the handshake is not worth a crash */
    });
    const url = new URL(req.url ?? '/', 'http://relay.invalid');
    const { address, remote } = this.clientOf(req);
    const path = url.pathname;
    const origin = req.headers.origin;
    const who = `${path === '/host' ? 'host' : path === '/mux' ? 'mux socket' : 'ws client'} ${remote}${origin ? ` (origin ${preview(origin)})` : ''}`;
    const pending = this.admissionOf(req, socket, who);
    if (!pending) {
      this.refuseUpgrade(socket, '503 Service Unavailable', who, 'too many unauthenticated connections');
      return;
    }

    let clientSession: string | null = null;
    if (path.startsWith('/spice/')) {
      let name = '';
      try {
        name = decodeURIComponent(path.slice('/spice/'.length));
      } catch {
        /* refused below */
      }
      if (!SESSION_NAME_RE.test(name)) {
        this.refuseUpgrade(socket, '400 Bad Request', who, `expected a session name matching ${SESSION_NAME_RE} in /spice/NAME, got ${preview(name)}`);
        return;
      }
      clientSession = name;
    } else if (path !== '/host' && path !== '/mux') {
      this.refuseUpgrade(socket, '404 Not Found', who, `unknown path ${preview(path)}: expected /spice/NAME (clients), /host or /mux (pages)`);
      return;
    }
    // Browsers always send Origin; only the ones the operator allowed may talk to us.
    if (origin !== undefined && !this.origins.has(normalizeOriginOrNull(origin) ?? '')) {
      this.refuseUpgrade(socket, '403 Forbidden', who, `origin ${preview(origin)} is not allowed (relay option --allowed-origin)`);
      return;
    }

    let muxSession: Session | null = null;
    if (path === '/mux') {
      const checked = this.checkMux(req, url);
      if (!checked.ok) {
        this.refuseUpgrade(socket, checked.status, who, checked.reason);
        return;
      }
      muxSession = checked.session;
    }

    const target = clientSession !== null ? wssClients : path === '/host' ? wssHost : wss;
    target.handleUpgrade(req, socket, head, (ws) => {
      if (path === '/host') this.acceptHost(ws, url, remote, address, pending);
      else if (muxSession) this.acceptMux(ws, muxSession, remote, pending);
      else this.acceptClient(new WsClientConnection(ws, remote, address), clientSession ?? DEFAULT_SESSION, pending);
    });
  }

  // ---- native clients through HTTP CONNECT (spice-gtk's proxy support) ----

  /**
   * `CONNECT SESSION:PORT`: the tunnel becomes a native client of that
   * session, so `SPICE_PROXY=http://relay:port remote-viewer spice://SESSION:5900`
   * reaches any session. PORT equal to the relay's TLS port means SPICE over
   * TLS inside the tunnel (`spice://SESSION?tls-port=N`); any other is plain.
   */
  private onConnect(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => {
      /* reported through close */
    });
    const { remote } = this.clientOf(req);
    const who = `proxy client ${remote}`;
    const pending = this.admissionOf(req, socket, who);
    const reply = (status: string, reason: string): void => this.refuseUpgrade(socket, status, who, reason);
    const target = parseConnectTarget(req.url ?? '');
    if (!target.ok) {
      reply('400 Bad Request', target.reason);
      return;
    }
    if (req.headers.origin !== undefined) {
      reply('403 Forbidden', 'browsers may not open tunnels');
      return;
    }
    const session = this.sessions.get(target.session);
    if (!session?.host || !pending) {
      reply('503 Service Unavailable', session ? `the page hosting session ${target.session} is reconnecting` : `no page hosts session ${target.session}`);
      return;
    }
    socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    this.tcpSockets.add(socket);
    socket.on('close', () => this.tcpSockets.delete(socket));
    const accept = (s: Socket): void => this.acceptClient(new TcpClientConnection(s), target.session, pending);
    if (this.tlsListener && target.port === this.bound?.tlsPort) this.tlsListener.secure(socket, `${remote} (CONNECT ${target.session})`, accept);
    else accept(socket);
  }

  // ---- host control sockets ----

  private acceptHost(ws: WebSocket, url: URL, remote: string, address: string, pending: Pending | undefined): void {
    ws.on('error', (err: Error) => log.debug(`host socket ${remote} error: ${err.message}`));
    const name = url.searchParams.get('session') ?? DEFAULT_SESSION;
    if (!SESSION_NAME_RE.test(name)) {
      refuseHost(ws, RelayCloseCode.BadRequest, `expected a session name matching ${SESSION_NAME_RE}, got ${preview(name)}`);
      return;
    }
    let registered = false;
    const timer = setTimeout(() => {
      if (!registered) refuseHost(ws, RelayCloseCode.Timeout, `expected a register message within ${this.attachTimeoutMs} ms`);
    }, this.attachTimeoutMs);
    timer.unref();

    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        if (!registered) refuseHost(ws, RelayCloseCode.BadRequest, 'expected a text register message, got a binary frame');
        else log.warn(`host session=${name} sent a binary frame on the control socket; ignored`);
        return;
      }
      const parsed = parseControlMessage(rawToBuffer(data).toString('utf8'));
      if (!registered) {
        if (!parsed.ok) {
          refuseHost(ws, RelayCloseCode.BadRequest, `register: ${parsed.error}`);
          return;
        }
        if (parsed.msg.type !== 'register') {
          refuseHost(ws, RelayCloseCode.BadRequest, `expected a "register" message first, got ${preview(parsed.msg.type)}`);
          return;
        }
        const secret = parsed.msg.secret;
        if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH || secret.length > 256) {
          const got = typeof secret === 'string' ? `${secret.length} characters` : typeof secret;
          refuseHost(ws, RelayCloseCode.BadRequest, `expected a secret of ${MIN_SECRET_LENGTH} to 256 characters, got ${got}`);
          return;
        }
        const key = parsed.msg.key;
        if (this.key !== null && (typeof key !== 'string' || !secretsEqual(key, this.key))) {
          log.warn(`host ${remote} refused for session=${name}: ${typeof key === 'string' ? 'wrong' : 'no'} relay key`);
          refuseHost(ws, RelayCloseCode.BadRelayKey, `${typeof key === 'string' ? 'wrong' : 'missing'} relay key: this relay lets only pages holding its key host sessions`);
          return;
        }
        clearTimeout(timer);
        registered = this.register(ws, name, secret, remote, address);
        if (registered) pending?.pass.authenticated();
        return;
      }
      if (!parsed.ok) {
        log.warn(`host session=${name} sent a bad control message: ${parsed.error}`);
        return;
      }
      const session = this.sessions.get(name);
      if (session?.host !== ws) return; // replaced by a newer registration
      this.onHostMessage(session, parsed.msg);
    });

    ws.on('pong', () => {
      const s = this.sessions.get(name);
      if (s && s.host === ws) s.alive = true;
    });

    ws.on('close', (code: number) => {
      clearTimeout(timer);
      const s = this.sessions.get(name);
      if (!s || s.host !== ws) return;
      // 1000 is a page that stopped hosting on purpose; anything else (a reload's 1001, a
      // dropped network's 1006) may come back, so the name waits for it.
      if (code === 1000) this.unregister(s, 'its page stopped hosting');
      else this.hostLeft(s, `host socket closed (code ${code})`);
    });
  }

  /** Registers, resumes or replaces the host of a session; false if refused. */
  private register(ws: WebSocket, name: string, secret: string, remote: string, address: string): boolean {
    const existing = this.sessions.get(name);
    if (existing) {
      if (!secretsEqual(existing.secret, secret)) {
        const why = existing.host ? `is held by another page (${existing.hostRemote})` : `is reserved for its page, which dropped less than ${this.graceMs} ms ago`;
        log.warn(`host ${remote} refused: session=${name} ${why}`);
        refuseHost(ws, RelayCloseCode.SessionHeld, `session ${name} ${existing.host ? 'is held by another page' : 'is reserved for the page that hosted it'}`);
        return false;
      }
      // The same page again: it reconnected (maybe before we noticed the old socket die).
      // Streams stay (they travel on the page's mux sockets); offers now go to the new socket.
      const old = existing.host;
      clearTimeout(existing.graceTimer);
      existing.graceTimer = undefined;
      existing.host = ws;
      existing.hostRemote = remote;
      existing.hostGroup = addressGroup(address);
      existing.alive = true;
      old?.close(RelayCloseCode.Replaced, 'replaced by a newer registration of this session');
      log.info(`host ${old ? 're-registered' : 'came back to'} session=${name} from ${remote}`);
      this.sendHost(existing, this.registeredMessage(name));
      return true;
    }
    const session: Session = {
      name,
      secret,
      host: ws,
      hostRemote: remote,
      hostGroup: addressGroup(address),
      alive: true,
      streams: new Map(),
      muxToken: randomBytes(16).toString('hex'),
      muxes: new Set(),
      graceTimer: undefined,
      logBudget: { left: PAGE_LOG_LINES_PER_WINDOW, since: Date.now() },
    };
    this.sessions.set(name, session);
    log.info(`host registered session=${name} from ${remote}`);
    this.sendHost(session, this.registeredMessage(name));
    return true;
  }

  private registeredMessage(name: string): HostServerMessage {
    return {
      type: 'registered',
      session: name,
      tcpPort: name === DEFAULT_SESSION ? (this.bound?.tcpPort ?? null) : null,
      tlsPort: name === DEFAULT_SESSION ? (this.bound?.tlsPort ?? null) : null,
      clientPath: `/spice/${name}`,
      ticketCheck: this.password ? 'relay' : 'page',
      muxToken: this.sessions.get(name)?.muxToken ?? '',
    };
  }

  /** The page's control socket is gone: keep the name for it during the grace period. */
  private hostLeft(session: Session, why: string): void {
    session.host = null;
    clearTimeout(session.graceTimer);
    session.graceTimer = setTimeout(() => this.unregister(session, `its page did not come back within ${this.graceMs} ms`), this.graceMs);
    session.graceTimer.unref();
    log.info(`host of session=${session.name} left: ${why}; the name stays reserved for that page for ${this.graceMs} ms`);
  }

  private unregister(session: Session, why: string): void {
    if (this.sessions.get(session.name) !== session) return;
    clearTimeout(session.graceTimer);
    this.sessions.delete(session.name);
    const n = session.streams.size;
    log.info(`session=${session.name} ended: ${why}; closing ${n} stream(s)`);
    for (const stream of [...session.streams.values()]) stream.finish({ kind: 'hostGone' });
    for (const m of [...session.muxes]) m.close(RelayCloseCode.HostGone, 'the page hosting this session left');
  }

  private onHostMessage(session: Session, msg: Record<string, unknown> & { type: string }): void {
    switch (msg.type) {
      case 'ticket':
      case 'auth': {
        const stream = typeof msg.stream === 'string' ? session.streams.get(msg.stream) : undefined;
        if (!stream || stream.isClosed) return; // the client left meanwhile
        if (msg.type === 'ticket') {
          if (!this.password) {
            log.warn(`host session=${session.name} asked the relay to check a ticket, but the relay holds no password`);
            this.sendHost(session, { type: 'ticket-result', stream: stream.id, ok: false, reason: 'the relay holds no password' });
            return;
          }
          const given = msg.password;
          const ok = typeof given === 'string' && secretsEqual(given, this.password);
          const reason = ok ? undefined : given === null ? 'ticket could not be decrypted' : 'wrong password';
          this.authOutcome(stream, ok, reason);
          this.sendHost(session, { type: 'ticket-result', stream: stream.id, ok, ...(reason ? { reason } : {}) });
          return;
        }
        if (this.password) {
          log.warn(`host session=${session.name} reported a ticket outcome, but the relay checks tickets itself; ignored`);
          return;
        }
        const reason = typeof msg.reason === 'string' ? msg.reason.slice(0, 200) : undefined;
        this.authOutcome(stream, msg.ok === true, msg.ok === true ? undefined : (reason ?? 'refused by the page'));
        return;
      }
      case 'log': {
        const level = msg.level === 'error' ? 'error' : 'warn';
        const text = typeof msg.text === 'string' ? msg.text : preview(JSON.stringify(msg));
        const b = session.logBudget;
        const now = Date.now();
        if (now - b.since > 10_000) {
          if (b.left < 0) log.warn(`page session=${session.name}: ${-b.left} more lines were not forwarded`);
          session.logBudget = { left: PAGE_LOG_LINES_PER_WINDOW, since: now };
        }
        if (session.logBudget.left-- <= 0) return;
        log[level](`page session=${session.name}: ${printable(text)}`);
        return;
      }
      default:
        log.debug(`host session=${session.name} sent unknown message type ${preview(msg.type)}; ignored`);
    }
  }

  /** Books a ticket check: authenticated streams stop counting as pending; failures slow their address. */
  private authOutcome(stream: RelayedStream, ok: boolean, reason: string | undefined): void {
    const addr = stream.client.address;
    if (ok) {
      stream.authenticated();
      this.throttle.succeeded(addr);
      log.debug(`stream ${stream.id} ${stream.client.transport} ${stream.client.remote} session=${stream.session}: ticket accepted`);
      return;
    }
    const { failures, delayMs } = this.throttle.failed(addr);
    log.warn(
      `authentication failed for ${stream.client.transport} client ${stream.client.remote} session=${stream.session}: ${reason ?? 'refused'} ` +
        `(${failures} failure(s) in a row from this address; its next connection waits ${delayMs} ms)`,
    );
  }

  private sendHost(session: Session, msg: HostServerMessage): void {
    const ws = session.host;
    if (ws && ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  }

  private pingHosts(): void {
    for (const s of this.sessions.values()) {
      if (!s.host) continue;
      if (!s.alive) {
        log.warn(`host session=${s.name} missed a heartbeat; dropping its socket`);
        s.host.terminate(); // 'close' follows and starts the grace period
        continue;
      }
      s.alive = false;
      s.host.ping();
    }
  }

  // ---- clients ----

  /**
   * Opens the SPICE TLS port when configured. A connection counts as
   * unauthenticated from its first byte (admission), and its decrypted socket
   * is then a TCP client like any other.
   */
  private async listenTls(): Promise<number | null> {
    if (!this.tls || this.tlsPortOption === null) return null;
    const tlsListener = new SpiceTlsPort(
      this.tls,
      (s) => this.onTcpConnection(s),
      (raw, remote) => {
        const pending = this.admit(raw.remoteAddress ?? 'unknown', `tls client ${remote}`, () => raw.destroy());
        return pending && (() => pending.pass.release());
      },
    );
    this.tlsListener = tlsListener;
    await listen(tlsListener.server, this.tlsPortOption, this.host, 'SPICE TLS');
    return (tlsListener.server.address() as AddressInfo).port;
  }

  private onTcpConnection(socket: Socket): void {
    const remote = formatRemote(socket.remoteAddress, socket.remotePort);
    const pending = this.admit(socket.remoteAddress ?? 'unknown', `tcp client ${remote}`, () => socket.destroy());
    if (!pending) {
      socket.destroy();
      return;
    }
    this.tcpSockets.add(socket);
    socket.on('close', () => {
      this.tcpSockets.delete(socket);
      pending.pass.release();
    });
    this.acceptClient(new TcpClientConnection(socket), DEFAULT_SESSION, pending);
  }

  private acceptClient(client: ClientConnection, sessionName: string, pending: Pending | undefined): void {
    const session = this.sessions.get(sessionName);
    if (!pending || !session?.host || session.host.readyState !== session.host.OPEN) {
      const why = !pending ? 'not admitted' : session ? `the page hosting session ${sessionName} is reconnecting` : `no page hosts session ${sessionName}`;
      log.info(`${client.transport} client ${client.remote} refused: ${why}`);
      client.abort(why, 1013);
      return;
    }
    const id = String(++this.nextStreamId);
    const ctx: StreamContext = {
      maxBufferedBytes: this.maxBufferedBytes,
      maxUnauthenticatedBytes: MAX_UNAUTHENTICATED_BYTES,
      attachTimeoutMs: this.attachTimeoutMs,
      log,
      pass: pending.pass,
      reserveBuffer: this.reserveBuffer,
      ready: (stream) => this.offerWhenAllowed(stream, session),
      notifyHost: (msg) => {
        // The session may have a new host socket by now, or none.
        const s = this.sessions.get(sessionName);
        if (s === session) this.sendHost(s, msg);
      },
      finished: (stream) => {
        this.streams.delete(stream.id);
        session.streams.delete(stream.id);
      },
    };
    const stream = new RelayedStream(id, sessionName, client, ctx);
    pending.onEvict = (reason) => stream.evict(reason);
    this.streams.set(id, stream);
    session.streams.set(id, stream);
    stream.start();
  }

  /** Offers a stream whose link request is complete, once its address's backoff allows. */
  private offerWhenAllowed(stream: RelayedStream, session: Session): void {
    const wait = this.throttle.reserve(stream.client.address);
    const offer = (): void => {
      if (stream.isClosed) return;
      if (this.sessions.get(session.name) !== session || !session.host) {
        stream.finish({ kind: 'abort', reason: `no page hosts session ${session.name} any more` });
        return;
      }
      stream.offered();
      this.sendHost(session, stream.offerMessage());
    };
    if (wait <= 0) {
      offer();
      return;
    }
    log.debug(`stream ${stream.id} ${stream.client.remote}: held ${wait} ms after failed tickets from its address`);
    setTimeout(offer, wait).unref();
  }

  // ---- page thread mux sockets ----

  /**
   * Whether a `/mux` upgrade may be accepted: its session exists, its token
   * (a subprotocol) is the session's, and the session has room for another
   * socket. Checked before the upgrade, so no frame of an unproven socket is
   * ever read; the refusal's reason goes to the log, a browser sees 1006.
   */
  private checkMux(req: IncomingMessage, url: URL): { ok: true; session: Session } | { ok: false; status: string; reason: string } {
    const name = url.searchParams.get('session') ?? DEFAULT_SESSION;
    const header = req.headers['sec-websocket-protocol'];
    const offered = (typeof header === 'string' ? header : '').split(',').map((p) => p.trim()).filter((p) => p !== '');
    const token = muxTokenOf(offered);
    if (!token.ok) return { ok: false, status: '400 Bad Request', reason: `mux socket: ${token.reason}` };
    const session = this.sessions.get(name);
    if (!session || !secretsEqual(token.token, session.muxToken)) {
      return { ok: false, status: '403 Forbidden', reason: `no session ${preview(name)}, or wrong mux token` };
    }
    if (session.muxes.size >= MAX_MUX_SOCKETS_PER_SESSION) {
      return { ok: false, status: '429 Too Many Requests', reason: `session=${name} already has ${session.muxes.size} mux sockets, the most allowed` };
    }
    return { ok: true, session };
  }

  private acceptMux(ws: WebSocket, session: Session, remote: string, pending: Pending | undefined): void {
    ws.on('error', (err: Error) => log.debug(`mux socket ${remote} error: ${err.message}`));
    const name = session.name;
    // The session may have gone (or filled up) while the handshake finished.
    if (this.sessions.get(name) !== session || session.muxes.size >= MAX_MUX_SOCKETS_PER_SESSION) {
      ws.close(RelayCloseCode.UnknownStream, closeReason(`session ${name} ended or filled up while this socket opened`));
      return;
    }
    pending?.pass.authenticated();
    const label = `session=${name} page thread ${remote}`;
    const mux = new PageMux(ws, {
      log,
      label,
      stream: (id) => session.streams.get(id),
      closed: (m) => {
        session.muxes.delete(m);
        log.debug(`${label}: mux socket closed (${session.muxes.size} left)`);
      },
    });
    session.muxes.add(mux);
    log.debug(`${label}: mux socket opened (${session.muxes.size} in the session)`);
  }
}

/** `SESSION:PORT` of a CONNECT request, or why it is not one. */
export function parseConnectTarget(target: string): { ok: true; session: string; port: number } | { ok: false; reason: string } {
  const m = /^([^:]*):(\d{1,5})$/.exec(target);
  if (!m || Number(m[2]) > 65535) return { ok: false, reason: `expected CONNECT SESSION:PORT, got ${preview(target)}` };
  if (!SESSION_NAME_RE.test(m[1]!)) return { ok: false, reason: `expected a session name matching ${SESSION_NAME_RE} as the CONNECT host, got ${preview(m[1]!)}` };
  return { ok: true, session: m[1]!, port: Number(m[2]) };
}

/** Log-safe text: control characters shown as escapes, length bounded. */
function printable(text: string): string {
  const cut = text.length > MAX_FORWARDED_LOG_LENGTH ? text.slice(0, MAX_FORWARDED_LOG_LENGTH) + '…' : text;
  return cut.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function refuseHost(ws: WebSocket, code: number, reason: string): void {
  log.info(`host socket refused: ${reason}`);
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'error', reason } satisfies HostServerMessage));
  ws.close(code, closeReason(reason));
}

function listen(server: HttpServer | TcpServer, port: number, host: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new Error(`could not listen for ${what} on ${urlHost(host)}:${port}: ${err.code ?? err.message}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      server.on('error', (err: Error) => log.error(`${what} server error: ${err.message}`));
      resolve();
    });
  });
}

function closeServer(server: HttpServer | TcpServer, afterClose?: () => void): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    afterClose?.();
  });
}

function checkPort(name: string, port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`RelayServer: expected ${name} to be an integer 0..65535, got ${port}`);
  }
  return port;
}

function checkPositive(name: string, n: number): number {
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`RelayServer: expected ${name} > 0, got ${n}`);
  return n;
}
