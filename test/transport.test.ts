/**
 * The page side of the relay transport (RelayHost, RelayStream) against a real
 * RelayServer on loopback, with `ws` injected as the WebSocket implementation.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { RelayServer } from '../src/relay/relay-server.ts';
import { RelayHost } from '../src/transport/relay-host.ts';
import { RelayError, RelayStream, type StreamOffer } from '../src/transport/relay-stream.ts';
import type { WebSocketConstructor } from '../src/transport/websocket-like.ts';
import { setLogLevel, setLogSink } from '../src/util/logger.ts';
import { LINK_HELLO } from './helpers/link-hello.ts';
import { sleep, waitFor } from './helpers/wait.ts';

const WS = WebSocket as unknown as WebSocketConstructor;


function bytes(n: number, start = 0): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);
}

let relay: RelayServer;
let host: RelayHost | null = null;
const sockets: Socket[] = [];

beforeEach(async () => {
  setLogSink(() => {});
  setLogLevel('debug'); // exercise the debug paths, quietly
  relay = new RelayServer({ host: '127.0.0.1', port: 0, tcpPort: 0, heartbeatMs: 0 });
  await relay.start();
});

afterEach(async () => {
  host?.close();
  host = null;
  for (const s of sockets.splice(0)) s.destroy();
  await relay.stop();
  await sleep(20);
  setLogSink(null);
  setLogLevel('info');
});

async function newHost(session = 'default'): Promise<RelayHost> {
  host = await RelayHost.connect({ relayUrl: relay.url, session, relayKey: relay.relayKey, WebSocketImpl: WS });
  return host;
}

function nextOffer(h: RelayHost): Promise<StreamOffer> {
  return new Promise((resolve) => {
    let done = false;
    h.onStream((o) => {
      if (!done) {
        done = true;
        resolve(o);
      }
    });
  });
}

/** A TCP client that has sent its opening link request (so the relay offers it to the page). */
async function tcpClient(): Promise<{ socket: Socket; got: () => Buffer }> {
  const socket = tcpConnect({ host: '127.0.0.1', port: relay.address!.tcpPort! });
  sockets.push(socket);
  const parts: Buffer[] = [];
  socket.on('data', (b: Buffer) => parts.push(b));
  socket.on('error', () => {});
  await new Promise((r) => socket.once('connect', r));
  socket.write(LINK_HELLO);
  return { socket, got: () => Buffer.concat(parts) };
}

describe('RelayHost', () => {
  it('registers with a random secret and exposes session, tcpPort, clientPath, relayUrl', async () => {
    const h = await newHost();
    expect(h.session).toBe('default');
    expect(h.secret).toMatch(/^[0-9a-f]{32}$/);
    expect(h.tcpPort).toBe(relay.address!.tcpPort);
    expect(h.clientPath).toBe('/spice/default');
    expect(h.relayUrl).toBe(relay.url);
  });

  it('queues offers that arrive before onStream is set; offers are structured-cloneable', async () => {
    const h = await newHost();
    await tcpClient();
    await tcpClient();
    await waitFor('two streams', () => relay.stats().streams === 2);
    await sleep(20); // the offers have reached the page by now, with no handler set
    const offers: StreamOffer[] = [];
    h.onStream((o) => offers.push(o));
    expect(offers.map((o) => o.stream)).toHaveLength(2);
    const clone = structuredClone(offers[0]!);
    expect(clone).toEqual(offers[0]);
    expect(Object.getPrototypeOf(clone)).toBe(Object.prototype);
    expect(clone).toMatchObject({ transport: 'tcp', relayUrl: relay.url, session: 'default' });
  });

  it('rejects a bad session name without connecting', async () => {
    await expect(RelayHost.connect({ relayUrl: relay.url, session: 'no spaces', WebSocketImpl: WS })).rejects.toThrow(
      /expected a session name matching/,
    );
  });

  it('rejects when the relay cannot be reached', async () => {
    const port = relay.address!.port;
    await relay.stop();
    await expect(
      RelayHost.connect({ relayUrl: `ws://127.0.0.1:${port}`, WebSocketImpl: WS, timeoutMs: 2000 }),
    ).rejects.toBeInstanceOf(RelayError);
  });

  it('rejects when the relay does not confirm in time', async () => {
    const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => silent.once('listening', r));
    const port = (silent.address() as { port: number }).port;
    try {
      await expect(
        RelayHost.connect({ relayUrl: `ws://127.0.0.1:${port}`, WebSocketImpl: WS, timeoutMs: 200 }),
      ).rejects.toThrow(/did not confirm registration within 200 ms/);
    } finally {
      for (const c of silent.clients) c.terminate();
      await new Promise((r) => silent.close(r));
    }
  });

  it('onClose fires when the relay goes away (reconnecting off), and at once if already closed', async () => {
    host = await RelayHost.connect({ relayUrl: relay.url, relayKey: relay.relayKey, WebSocketImpl: WS, reconnect: false });
    const h = host;
    const reasons: string[] = [];
    h.onClose((r) => reasons.push(r));
    await relay.stop();
    await waitFor('host close', () => reasons.length === 1);
    h.onClose((r) => reasons.push(r));
    expect(reasons).toHaveLength(2);
    expect(reasons[1]).toBe(reasons[0]);
  });

  it('registers again by itself after the relay restarts, with backoff and the same secret', async () => {
    const port = relay.address!.port;
    const key = relay.relayKey;
    host = await RelayHost.connect({ relayUrl: relay.url, relayKey: key, WebSocketImpl: WS, retryMs: 50, maxRetryMs: 200 });
    const h = host;
    const statuses: string[] = [];
    h.onStatus((s) => statuses.push(s.state));
    await relay.stop();
    await waitFor('reconnecting', () => statuses.includes('reconnecting'));
    await sleep(300); // a few failed attempts while the relay is down
    relay = new RelayServer({ host: '127.0.0.1', port, tcpPort: 0, heartbeatMs: 0, relayKey: key });
    await relay.start();
    await waitFor('registered again', () => statuses[statuses.length - 1] === 'registered', 10_000);
    expect(h.registered).toBe(true);
    expect(relay.stats().sessions).toBe(1);
    // Offers arrive on the new registration.
    const offerP = nextOffer(h);
    h.onStream(() => {});
    await tcpClient();
    expect((await offerP).transport).toBe('tcp');
  });

  it('stops retrying when the relay refuses its key, and says why', async () => {
    await expect(
      RelayHost.connect({ relayUrl: relay.url, relayKey: 'not-the-relay-key-at-all', WebSocketImpl: WS }),
    ).rejects.toMatchObject({ code: 4010, message: expect.stringContaining('wrong relay key') });
    await expect(RelayHost.connect({ relayUrl: relay.url, WebSocketImpl: WS })).rejects.toMatchObject({
      code: 4010,
      message: expect.stringContaining('missing relay key'),
    });
    expect(relay.stats().sessions).toBe(0);
  });

  it('reports stream ends through onStreamClosed', async () => {
    const h = await newHost();
    const offerP = nextOffer(h);
    const client = await tcpClient();
    const offer = await offerP;
    const ended: Array<[string, string]> = [];
    h.onStreamClosed((id, reason) => ended.push([id, reason]));
    client.socket.destroy();
    await waitFor('closed report', () => ended.length === 1);
    expect(ended[0]![0]).toBe(offer.stream);
    expect(ended[0]![1]).toContain('closed by client');
  });
});

describe('RelayStream', () => {
  it('queues data that arrives before onData is set, in order', async () => {
    const h = await newHost();
    const offerP = nextOffer(h);
    const client = await tcpClient();
    const offer = await offerP;
    client.socket.write(bytes(1000, 0));
    await sleep(30);
    const stream = await RelayStream.attach(offer, WS);
    client.socket.write(bytes(500, 1000));
    await sleep(50); // both batches reach the page before anyone listens
    const got: Uint8Array[] = [];
    stream.onData((b) => got.push(b));
    const all = Buffer.concat(got);
    expect(all.length).toBe(LINK_HELLO.length + 1500);
    expect(all.equals(Buffer.concat([LINK_HELLO, bytes(1500, 0)]))).toBe(true);
    expect(stream.offer).toEqual(offer);
  });

  it('send() goes to the client; SharedArrayBuffer-backed bytes are copied and sent too', async () => {
    const h = await newHost();
    const offerP = nextOffer(h);
    const client = await tcpClient();
    const stream = await RelayStream.attach(await offerP, WS);
    expect(stream.bufferedAmount).toBe(0);
    stream.send(bytes(100, 0));
    const shared = new Uint8Array(new SharedArrayBuffer(300));
    shared.set(bytes(300, 7));
    stream.send(shared.subarray(100, 200));
    await waitFor('client bytes', () => client.got().length === 200);
    expect(client.got().equals(Buffer.concat([Buffer.from(bytes(100, 0)), Buffer.from(bytes(100, 107))]))).toBe(true);
  });

  it('detach() returns the bytes not yet delivered (queued ones too) and the next attach continues exactly', async () => {
    const h = await newHost();
    const offerP = nextOffer(h);
    const client = await tcpClient();
    const offer = await offerP;
    const first = await RelayStream.attach(offer, WS);
    client.socket.write(bytes(700, 0));
    await sleep(50); // queued on `first`: no onData handler yet
    const leftover = await first.detach();
    expect(Buffer.from(leftover).equals(Buffer.concat([LINK_HELLO, bytes(700, 0)]))).toBe(true);
    expect(() => first.send(bytes(1))).toThrow(/expected an attached stream, got a detached one/);
    await expect(first.detach()).rejects.toThrow(/expected an attached stream/);

    client.socket.write(bytes(300, 700)); // buffered by the relay until the next attach
    await sleep(30);
    const closes: string[] = [];
    first.onClose((r) => closes.push(r));
    const second = await RelayStream.attach(offer, WS);
    const got: Uint8Array[] = [];
    second.onData((b) => got.push(b));
    await waitFor('second socket bytes', () => Buffer.concat(got).length === 300);
    expect(Buffer.concat(got).equals(Buffer.from(bytes(300, 700)))).toBe(true);
    expect(closes).toEqual([]); // a detach is not a close
    expect(relay.stats().streams).toBe(1);
  });

  it('onClose reports the relay reason; send after close is dropped, not thrown', async () => {
    const h = await newHost();
    const offerP = nextOffer(h);
    const client = await tcpClient();
    const stream = await RelayStream.attach(await offerP, WS);
    const reasons: string[] = [];
    stream.onClose((r) => reasons.push(r));
    client.socket.destroy();
    await waitFor('stream close', () => reasons.length === 1);
    expect(reasons[0]).toMatch(/stream \d+ closed: client closed the connection/);
    expect(() => stream.send(bytes(10))).not.toThrow();
    const late: string[] = [];
    stream.onClose((r) => late.push(r));
    expect(late).toEqual(reasons);
  });

  it('a detach that races with the client closing rejects and reports the close', async () => {
    const h = await newHost();
    const offerP = nextOffer(h);
    const client = await tcpClient();
    const stream = await RelayStream.attach(await offerP, WS);
    const reasons: string[] = [];
    stream.onClose((r) => reasons.push(r));
    client.socket.destroy();
    await waitFor('stream gone on the relay', () => relay.stats().streams === 0);
    const result = await stream.detach().then(
      () => 'resolved',
      (err: Error) => err.message,
    );
    // Either the close arrived before detach() was called (rejected at once) or while detaching.
    expect(result).toMatch(/expected an attached stream|detach failed/);
    await waitFor('close reported', () => reasons.length === 1);
  });

  it('attach rejects with code 4004 for a wrong token', async () => {
    const h = await newHost();
    const offerP = nextOffer(h);
    await tcpClient();
    const offer = await offerP;
    const err = await RelayStream.attach({ ...offer, token: 'f'.repeat(32) }, WS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).code).toBe(4004);
    expect((err as RelayError).message).toContain('wrong token');
  });
});
