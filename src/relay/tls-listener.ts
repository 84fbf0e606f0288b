/**
 * TLS for the relay: an HTTPS server in place of plain HTTP (so pages and
 * spice-html5 use `wss://` on the same port), and a SPICE TLS port for native
 * clients. The TLS port only terminates TLS: each decrypted socket goes to the
 * relay exactly like a plain TCP client (a `TLSSocket` is a `net.Socket`).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerOptions as HttpServerOptions,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import { createLogger } from '../util/logger.ts';
import { formatRemote } from './net-util.ts';

const log = createLogger('relay-tls');

/** A certificate (chain) and its private key, PEM. The key never leaves this process. */
export interface TlsCredentials {
  cert: string | Buffer;
  key: string | Buffer;
}

/** The relay's HTTP(S) + WebSocket server: plain HTTP, or HTTPS when TLS is on. */
export type WebServer = HttpServer | HttpsServer;

/** Default SPICE TLS port when TLS is on (spice-server's usual pair: 5900 plain, 5901 TLS). */
export const DEFAULT_TLS_PORT = 5901;

/** How long a native client may take to finish the TLS handshake before it is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Throws unless `creds` is a usable PEM certificate with its matching private
 * key; the message says what was wrong (never the key itself).
 */
export function checkTlsCredentials(creds: TlsCredentials): TlsCredentials {
  try {
    createSecureContext({ cert: creds.cert, key: creds.key });
    new X509Certificate(creds.cert);
  } catch (err) {
    throw new Error(`TLS: expected a PEM certificate and its matching private key, got an error: ${(err as Error).message}`);
  }
  return creds;
}

/** Reads and checks the certificate and key files named by `--tls-cert` / `--tls-key`. */
export function loadTlsFiles(certFile: string, keyFile: string): TlsCredentials {
  const read = (flag: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`${flag}: expected a readable PEM file, got ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} for ${file}`);
    }
  };
  return checkTlsCredentials({ cert: read('--tls-cert', certFile), key: read('--tls-key', keyFile) });
}

/**
 * Plain HTTP without `tls`, HTTPS with it; both emit `upgrade` for WebSockets.
 * `onSocket` gets each TCP connection as it arrives (with TLS, before its
 * handshake), so limits count handshakes too; the TLS socket requests and
 * upgrades later see has the same remote address and port.
 */
export function createWebServer(
  tls: TlsCredentials | null,
  options: HttpServerOptions,
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
  onSocket: (socket: Socket) => void,
): WebServer {
  if (!tls) {
    const http = createHttpServer(options, onRequest);
    http.on('connection', onSocket);
    return http;
  }
  const server = createHttpsServer({ ...options, cert: tls.cert, key: tls.key, handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, onRequest);
  // The raw TCP connection, before its handshake: limits apply from the first byte.
  server.on('connection', onSocket);
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: Socket) =>
    logHandshakeFailure('https', formatRemote(socket.remoteAddress, socket.remotePort), err),
  );
  return server;
}

/**
 * Lets a connection start its TLS handshake: returns how to release its place
 * once the handshake is over, or null to refuse it (closed at once).
 */
export type HandshakeAdmission = (raw: Socket, remote: string) => (() => void) | null;

/**
 * The SPICE TLS port: accepts TCP connections, runs the TLS handshake on each
 * and hands the socket to `onClient` once it is done (a failed or stalled
 * handshake is logged with the client's address and dropped). `admit`, if
 * given, counts connections during their handshake (the relay's limits on
 * unauthenticated connections). `destroyAll` drops every connection,
 * including those still in their handshake.
 */
export class SpiceTlsPort {
  readonly server: TcpServer;
  private readonly sockets = new Set<Socket>();
  private readonly context: SecureContext;

  constructor(tls: TlsCredentials, onClient: (socket: TLSSocket) => void, admit?: HandshakeAdmission) {
    this.context = createSecureContext({ cert: tls.cert, key: tls.key });
    this.server = createTcpServer({ noDelay: true }, (raw) => {
      // Taken now: once a handshake has failed the socket no longer knows its peer.
      const remote = formatRemote(raw.remoteAddress, raw.remotePort);
      const release = admit ? admit(raw, remote) : () => {};
      if (!release) {
        raw.destroy();
        return;
      }
      raw.once('close', release);
      this.secure(raw, remote, (socket) => {
        raw.off('close', release);
        release();
        onClient(socket);
      });
    });
  }

  /**
   * Runs the server side of a TLS handshake on `raw` (a connection to this
   * port, or a tunnel the relay opened for an HTTP CONNECT) and hands over
   * the TLS socket once it is done; a failed or stalled handshake is logged
   * with `remote` and dropped.
   */
  secure(raw: Socket, remote: string, onSecure: (socket: TLSSocket) => void): void {
    this.sockets.add(raw);
    raw.on('close', () => this.sockets.delete(raw));
    const socket = new TLSSocket(raw, { isServer: true, secureContext: this.context });
    const timer = setTimeout(() => fail(new Error(`no handshake within ${HANDSHAKE_TIMEOUT_MS} ms`)), HANDSHAKE_TIMEOUT_MS);
    timer.unref();
    const fail = (err: NodeJS.ErrnoException): void => {
      clearTimeout(timer);
      logHandshakeFailure('tls', remote, err);
      socket.destroy();
      raw.destroy();
    };
    socket.once('error', fail);
    socket.once('secure', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      log.debug(`tls client ${remote}: ${socket.getProtocol() ?? '?'} handshake done`);
      onSecure(socket);
    });
  }

  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}

/**
 * Base64 SHA-256 of the certificate's SubjectPublicKeyInfo: what Chromium's
 * `--ignore-certificate-errors-spki-list` takes to trust exactly this key.
 */
export function spkiSha256(cert: string | Buffer): string {
  const der = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

// A client that does not trust the certificate ends here (e.g. "alert unknown ca"):
// worth one line, as it is the usual first-deployment mistake.
function logHandshakeFailure(port: string, remote: string, err: NodeJS.ErrnoException): void {
  log.info(`${port} client ${remote} failed the TLS handshake: ${err.code ?? err.message}`);
}
