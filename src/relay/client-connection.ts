/**
 * One SPICE client connection as the relay sees it, over TCP (spice-gtk) or a
 * WebSocket (spice-html5), behind one interface so stream forwarding does not
 * care which.
 */
import type { Socket } from 'node:net';
import type { RawData, WebSocket } from 'ws';
import type { ClientTransport } from '../transport/relay-protocol.ts';
import { closeReason, formatRemote } from './net-util.ts';

/** What a connection reports to its stream. */
export interface ClientHandlers {
  /** Bytes from the client (frame boundaries already dropped). */
  data(bytes: Buffer): void;
  /** The client side is gone; `detail` says why when it was abnormal. */
  close(detail: string | undefined): void;
  /** The client broke the transport's rules; the connection is already closing. */
  invalid(reason: string): void;
}

/** A SPICE client connection: a byte stream with backpressure. */
export interface ClientConnection {
  readonly transport: ClientTransport;
  /** `ip:port` of the client. */
  readonly remote: string;
  /** The client's IP address alone (limits and throttling count per address). */
  readonly address: string;
  /** Starts delivering events; call once. */
  start(handlers: ClientHandlers): void;
  /**
   * Queues bytes for the client; `written` runs once they left the relay's
   * buffers for the kernel (or the connection is gone). Stream credit follows it.
   */
  write(bytes: Buffer, written: () => void): void;
  /** Stops reading from the client (backpressure towards the client). */
  pause(): void;
  resume(): void;
  /** Graceful close: everything written so far is still delivered. */
  end(): void;
  /** Closes at once because something went wrong; `reason` goes into the WebSocket close frame. */
  abort(reason: string, wsCode?: number): void;
  /** Drops the connection without any goodbye (relay shutting down). */
  terminate(): void;
}

/** How long a gracefully ended TCP client may linger before it is destroyed. */
const END_GRACE_MS = 5000;

/** A native client (spice-gtk) on the relay's TCP port. */
export class TcpClientConnection implements ClientConnection {
  readonly transport = 'tcp' as const;
  readonly remote: string;
  readonly address: string;
  private errorDetail: string | undefined;
  private endTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly socket: Socket) {
    this.remote = formatRemote(socket.remoteAddress, socket.remotePort);
    this.address = socket.remoteAddress ?? 'unknown';
    socket.setNoDelay(true); // SPICE is latency-bound: small input/ack messages must not wait
    // An 'error' without a listener would crash the relay; remember it for the close log instead.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.errorDetail = err.code ?? err.message;
    });
    socket.on('close', () => clearTimeout(this.endTimer));
    // Sockets handed over by the HTTP server (CONNECT tunnels) allow half-open
    // connections: without this a client that hangs up would never be seen to go.
    socket.on('end', () => {
      if (!socket.writableEnded) socket.end();
    });
  }

  start(h: ClientHandlers): void {
    this.socket.on('data', (b: Buffer) => h.data(b));
    this.socket.on('close', () => h.close(this.errorDetail));
  }

  write(bytes: Buffer, written: () => void): void {
    if (this.socket.destroyed || this.socket.writableEnded) {
      written();
      return;
    }
    this.socket.write(bytes, () => written());
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    this.endTimer = setTimeout(() => this.socket.destroy(), END_GRACE_MS);
    this.endTimer.unref();
  }

  abort(): void {
    this.socket.destroy();
  }

  terminate(): void {
    this.socket.destroy();
  }
}

/** A spice-html5 client on a WebSocket (binary frames, one continuous byte stream). */
export class WsClientConnection implements ClientConnection {
  readonly transport = 'ws' as const;

  constructor(
    private readonly ws: WebSocket,
    readonly remote: string,
    readonly address: string,
  ) {
    ws.on('error', () => {
      /* reported through 'close' */
    });
  }

  start(h: ClientHandlers): void {
    this.ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        // Old websockify clients sent base64 text; spice-html5 never does. Refuse rather than corrupt.
        const reason = 'sent a text frame; SPICE over WebSocket uses binary frames';
        this.abort(reason, 1003);
        h.invalid(reason);
        return;
      }
      h.data(rawToBuffer(data));
    });
    this.ws.on('close', (code: number) => {
      h.close(code === 1000 || code === 1001 || code === 1005 ? undefined : `code ${code}`);
    });
  }

  write(bytes: Buffer, written: () => void): void {
    if (this.ws.readyState !== this.ws.OPEN) {
      written();
      return;
    }
    this.ws.send(bytes, { binary: true }, () => written());
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  end(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000, 'server closed the connection');
  }

  abort(reason: string, wsCode = 1011): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) {
      this.ws.close(wsCode, closeReason(reason));
    }
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/** `ws` hands binary messages over as a Buffer, an ArrayBuffer or fragments depending on binaryType. */
export function rawToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
