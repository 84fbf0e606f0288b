/**
 * The Node relay: the meeting point of SPICE clients and the page that serves
 * them (a page cannot listen on sockets).
 *
 * - `/host?session=NAME` — the hosting page's control socket (register, stream offers);
 * - `/spice/NAME` (any other path: session "default") — spice-html5 clients;
 * - the TCP port — native clients (spice-gtk) for session "default";
 * - `/stream?session=&stream=&token=` — a page thread attaching to one client connection.
 *
 * Bytes are never parsed: each client connection is an opaque stream.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { createLogger } from '../util/logger.ts';
import {
  DEFAULT_SESSION,
  MIN_SECRET_LENGTH,
  parseControlMessage,
  preview,
  RelayCloseCode,
  SESSION_NAME_RE,
  type HostServerMessage,
} from '../transport/relay-protocol.ts';
import { TcpClientConnection, WsClientConnection, rawToBuffer, type ClientConnection } from './client-connection.ts';
import { RelayedStream, type StreamContext } from './relayed-stream.ts';
import { closeReason, formatRemote, isLoopbackHost, secretsEqual, urlHost } from './net-util.ts';

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
}

/** Ports actually bound by {@link RelayServer.start}. */
export interface RelayAddress {
  port: number;
  tcpPort: number | null;
}

/** Live counts, for status pages and tests. */
export interface RelayStats {
  sessions: number;
  streams: number;
}

interface Session {
  readonly name: string;
  readonly secret: string;
  host: WebSocket;
  hostRemote: string;
  alive: boolean;
  readonly streams: Map<string, RelayedStream>;
}

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

  private http: HttpServer | null = null;
  private tcp: TcpServer | null = null;
  private wss: WebSocketServer | null = null;
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
  }

  /** Ports in use once started, else null. */
  get address(): RelayAddress | null {
    return this.bound;
  }

  /** Base WebSocket URL of the relay (`ws://host:port`), once started. */
  get url(): string {
    if (!this.bound) throw new Error('RelayServer.url: expected a started relay, got one that is not listening');
    return `ws://${urlHost(this.host)}:${this.bound.port}`;
  }

  /** Binds the HTTP/WebSocket port and (unless off) the TCP port; resolves with the actual ports. */
  async start(): Promise<RelayAddress> {
    if (this.http) throw new Error('RelayServer.start: expected a stopped relay, got one already started');
    const wss = new WebSocketServer({
      noServer: true,
      // spice-html5 asks for "binary"; Chromium fails the handshake unless it is echoed.
      handleProtocols: (protocols: Set<string>) => (protocols.has('binary') ? 'binary' : false),
      perMessageDeflate: false,
    });
    const http = createHttpServer((req, res) => this.onHttpRequest(req, res));
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.wss = wss;
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
      this.bound = { port: (http.address() as AddressInfo).port, tcpPort };
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
          : `tcp ${urlHost(this.host)}:${this.bound.tcpPort} (session ${DEFAULT_SESSION})`),
    );
    if (!isLoopbackHost(this.host)) {
      log.warn(
        `listening on non-loopback address ${this.host}: anyone who can reach it can connect to hosted sessions ` +
          '(SPICE tickets still apply); put TLS and access control in front of it',
      );
    }
    return this.bound;
  }

  /** Closes every client, page socket and listener. Safe to call more than once. */
  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const stream of [...this.streams.values()]) stream.finish({ kind: 'stopping' });
    for (const session of this.sessions.values()) session.host.terminate();
    this.sessions.clear();
    if (this.wss) for (const ws of this.wss.clients) ws.terminate();
    for (const s of this.tcpSockets) s.destroy();
    const http = this.http;
    const tcp = this.tcp;
    const wss = this.wss;
    this.http = this.tcp = this.wss = null;
    const wasRunning = this.bound !== null;
    this.bound = null;
    await Promise.all([
      http ? closeServer(http, () => http.closeAllConnections()) : undefined,
      tcp ? closeServer(tcp) : undefined,
      wss ? new Promise<void>((resolve) => wss.close(() => resolve())) : undefined,
    ]);
    if (wasRunning) log.info('spice-relay stopped');
  }

  /** Counts of registered sessions and live client streams. */
  stats(): RelayStats {
    return { sessions: this.sessions.size, streams: this.streams.size };
  }

  // ---- HTTP ----

  private onHttpRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if ((req.method === 'GET' || req.method === 'HEAD') && path === '/') {
      const { sessions, streams } = this.stats();
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(
        `spice-relay: ${sessions} session(s), ${streams} stream(s)\n` +
          `page: /host?session=NAME  spice-html5: /spice/NAME  attach: /stream\n`,
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`not found: expected GET / or a WebSocket upgrade, got ${req.method ?? '?'} ${path}\n`);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const wss = this.wss;
    if (!wss) {
      socket.destroy();
      return;
    }
    socket.on('error', () => {
      /* a reset during the handshake is not worth a crash */
    });
    const url = new URL(req.url ?? '/', 'http://relay.invalid');
    const remote = formatRemote(req.socket.remoteAddress, req.socket.remotePort);
    const path = url.pathname;

    let clientSession: string | null = null;
    if (path !== '/host' && path !== '/stream') {
      clientSession = DEFAULT_SESSION;
      if (path.startsWith('/spice/')) {
        const name = decodeURIComponent(path.slice('/spice/'.length));
        if (!SESSION_NAME_RE.test(name)) {
          log.info(`ws client ${remote} refused: expected a session name matching ${SESSION_NAME_RE}, got ${preview(name)}`);
          socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
          return;
        }
        clientSession = name;
      }
    }

    wss.handleUpgrade(req, socket, head, (ws) => {
      if (path === '/host') this.acceptHost(ws, url, remote);
      else if (path === '/stream') this.acceptStreamSocket(ws, url, remote);
      else this.acceptClient(new WsClientConnection(ws, remote), clientSession ?? DEFAULT_SESSION);
    });
  }

  // ---- host control sockets ----

  private acceptHost(ws: WebSocket, url: URL, remote: string): void {
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
        if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
          const got = typeof secret === 'string' ? `${secret.length} characters` : typeof secret;
          refuseHost(ws, RelayCloseCode.BadRequest, `expected a secret of at least ${MIN_SECRET_LENGTH} characters, got ${got}`);
          return;
        }
        clearTimeout(timer);
        registered = this.register(ws, name, secret, remote);
        return;
      }
      if (!parsed.ok) log.warn(`host session=${name} sent a bad control message: ${parsed.error}`);
      else log.debug(`host session=${name} sent unknown message type ${preview(parsed.msg.type)}; ignored`);
    });

    ws.on('pong', () => {
      const s = this.sessions.get(name);
      if (s && s.host === ws) s.alive = true;
    });

    ws.on('close', (code: number) => {
      clearTimeout(timer);
      const s = this.sessions.get(name);
      if (s && s.host === ws) this.unregister(s, `host socket closed (code ${code})`);
    });
  }

  /** Registers or replaces the host of a session; false if refused. */
  private register(ws: WebSocket, name: string, secret: string, remote: string): boolean {
    const existing = this.sessions.get(name);
    if (existing) {
      const live = existing.host.readyState === existing.host.OPEN;
      if (live && !secretsEqual(existing.secret, secret)) {
        log.warn(`host ${remote} refused: session=${name} is held by another page (${existing.hostRemote})`);
        refuseHost(ws, RelayCloseCode.SessionHeld, `session ${name} is held by another page`);
        return false;
      }
      if (live) {
        // Same secret: the page reconnected before the relay noticed the old socket die.
        // Streams stay (their page sockets are separate); offers now go to the new socket.
        const old = existing.host;
        existing.host = ws;
        existing.hostRemote = remote;
        existing.alive = true;
        old.close(RelayCloseCode.Replaced, 'replaced by a newer registration of this session');
        log.info(`host re-registered session=${name} from ${remote}; replaced the previous socket`);
        this.sendHost(existing, this.registeredMessage(name));
        return true;
      }
      this.unregister(existing, 'host socket no longer open');
    }
    const session: Session = { name, secret, host: ws, hostRemote: remote, alive: true, streams: new Map() };
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
      clientPath: `/spice/${name}`,
    };
  }

  private unregister(session: Session, why: string): void {
    if (this.sessions.get(session.name) !== session) return;
    this.sessions.delete(session.name);
    const n = session.streams.size;
    log.info(`host unregistered session=${session.name}: ${why}; closing ${n} stream(s)`);
    for (const stream of [...session.streams.values()]) stream.finish({ kind: 'hostGone' });
  }

  private sendHost(session: Session, msg: HostServerMessage): void {
    const ws = session.host;
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  }

  private pingHosts(): void {
    for (const s of this.sessions.values()) {
      if (!s.alive) {
        log.warn(`host session=${s.name} missed a heartbeat; dropping it`);
        s.host.terminate(); // 'close' follows and unregisters
        continue;
      }
      s.alive = false;
      s.host.ping();
    }
  }

  // ---- clients ----

  private onTcpConnection(socket: Socket): void {
    this.tcpSockets.add(socket);
    socket.on('close', () => this.tcpSockets.delete(socket));
    this.acceptClient(new TcpClientConnection(socket), DEFAULT_SESSION);
  }

  private acceptClient(client: ClientConnection, sessionName: string): void {
    const session = this.sessions.get(sessionName);
    if (!session || session.host.readyState !== session.host.OPEN) {
      log.info(`${client.transport} client ${client.remote} refused: no page hosts session=${sessionName}`);
      client.abort(`no page hosts session ${sessionName}`, 1013);
      return;
    }
    const id = String(++this.nextStreamId);
    const ctx: StreamContext = {
      maxBufferedBytes: this.maxBufferedBytes,
      attachTimeoutMs: this.attachTimeoutMs,
      log,
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
    this.streams.set(id, stream);
    session.streams.set(id, stream);
    stream.start();
    this.sendHost(session, stream.offerMessage());
  }

  // ---- page stream sockets ----

  private acceptStreamSocket(ws: WebSocket, url: URL, remote: string): void {
    ws.on('error', (err: Error) => log.debug(`stream socket ${remote} error: ${err.message}`));
    const session = url.searchParams.get('session') ?? DEFAULT_SESSION;
    const id = url.searchParams.get('stream') ?? '';
    const token = url.searchParams.get('token') ?? '';
    const stream = this.streams.get(id);
    if (!stream || stream.isClosed || stream.session !== session || !stream.tokenMatches(token)) {
      log.warn(`stream socket ${remote} refused: unknown stream ${preview(id)} in session=${session} or wrong token`);
      ws.close(RelayCloseCode.UnknownStream, closeReason(`unknown stream ${id} in session ${session}, or wrong token`));
      return;
    }
    if (stream.isAttached) {
      log.warn(`stream socket ${remote} refused: stream ${id} already has a page socket attached`);
      ws.close(RelayCloseCode.AlreadyAttached, closeReason(`stream ${id} is already attached; detach it first`));
      return;
    }
    stream.attach(ws);
  }
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
