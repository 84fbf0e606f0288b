/**
 * Page ↔ relay multiplexing: many client streams on one page socket per
 * thread, per-stream flow control both ways (a stalled client holds only its
 * own stream), and a hostile or broken page socket losing only itself.
 * Real RelayServer on loopback, the page side with `ws`.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RelayServer } from '../src/relay/relay-server.ts';
import { RelayHost } from '../src/transport/relay-host.ts';
import { RelayMux } from '../src/transport/relay-mux.ts';
import { MUX_CLIENT_WINDOW, MUX_PAGE_WINDOW, muxProtocols, RelayCloseCode } from '../src/transport/relay-protocol.ts';
import { RelayStream, type StreamOffer } from '../src/transport/relay-stream.ts';
import type { WebSocketConstructor } from '../src/transport/websocket-like.ts';
import { useCapturedLogs } from './helpers/captured-log.ts';
import { LINK_HELLO } from './helpers/link-hello.ts';
import { waitFor } from './helpers/wait.ts';

const WS = WebSocket as unknown as WebSocketConstructor;

let relay: RelayServer;
const hosts: RelayHost[] = [];
const sockets: Array<Socket | WebSocket> = [];
const logs = useCapturedLogs();

beforeEach(async () => {
  // These clients never authenticate (no SPICE server here): room for many from one address.
  relay = new RelayServer({ host: '127.0.0.1', port: 0, tcpPort: 0, heartbeatMs: 0, limits: { maxPerAddress: 1000, maxTotal: 1000 } });
  await relay.start();
});

afterEach(async () => {
  for (const h of hosts.splice(0)) h.close();
  for (const s of sockets.splice(0)) s instanceof WebSocket ? s.terminate() : s.destroy();
  await relay.stop();
});

async function newHost(session = 'default'): Promise<RelayHost> {
  const h = await RelayHost.connect({ relayUrl: relay.url, session, relayKey: relay.relayKey, WebSocketImpl: WS });
  hosts.push(h);
  return h;
}

/** Collects offers as they come. */
function offers(h: RelayHost): { list: StreamOffer[] } {
  const o = { list: [] as StreamOffer[] };
  h.onStream((offer) => o.list.push(offer));
  return o;
}

interface Client {
  socket: Socket;
  received: () => number;
  bytes: () => Buffer;
}

/** A native client that sent its link request; counts what it receives. */
async function tcpClient(): Promise<Client> {
  const socket = tcpConnect({ host: '127.0.0.1', port: relay.address!.tcpPort! });
  sockets.push(socket);
  const parts: Buffer[] = [];
  let n = 0;
  socket.on('data', (b: Buffer) => {
    parts.push(b);
    n += b.length;
  });
  socket.on('error', () => {});
  await new Promise((r) => socket.once('connect', r));
  socket.write(LINK_HELLO);
  return { socket, received: () => n, bytes: () => Buffer.concat(parts) };
}

/** The page accepted these clients' tickets: they may send more than a link request. */
async function authenticate(h: RelayHost, list: StreamOffer[]): Promise<void> {
  for (const o of list) h.reportAuth(o.stream, true);
  await waitFor('clients authenticated', () => relay.stats().admission.pending === 0);
}

/** The offer of a client's connection (the relay reports the client's address and port). */
function offerOf(list: StreamOffer[], c: Client): StreamOffer {
  const o = list.find((x) => x.remote === `127.0.0.1:${c.socket.localPort}`);
  if (!o) throw new Error(`expected an offer for 127.0.0.1:${c.socket.localPort}, got ${list.map((x) => x.remote).join(', ')}`);
  return o;
}

function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Attaches and collects what the stream delivers. */
async function attach(offer: StreamOffer): Promise<{ stream: RelayStream; got: () => number; bytes: () => Uint8Array }> {
  const stream = await RelayStream.attach(offer, WS);
  const parts: Uint8Array[] = [];
  let n = 0;
  stream.onData((b) => {
    parts.push(b.slice());
    n += b.byteLength;
  });
  return { stream, got: () => n, bytes: () => Buffer.concat(parts) };
}

describe('one mux socket per page thread', () => {
  it('carries 60 client streams of a session on one socket, bytes exact both ways', async () => {
    const h = await newHost();
    const o = offers(h);
    const clients = await Promise.all(Array.from({ length: 60 }, () => tcpClient()));
    await waitFor('60 offers', () => o.list.length === 60, 20_000);
    const pages = await Promise.all(clients.map((c) => attach(offerOf(o.list, c))));
    // One mux socket for all of them (the host's control socket is the other page socket).
    expect(relay.stats()).toMatchObject({ sessions: 1, streams: 60, muxSockets: 1 });
    expect(RelayMux.openCount).toBe(1);

    for (const [i, p] of pages.entries()) p.stream.send(pattern(10_000 + i, i + 1));
    for (const [i, c] of clients.entries()) c.socket.write(pattern(5_000 + i, 100 + i));
    await waitFor('client bytes at the page', () => pages.every((p, i) => p.got() === LINK_HELLO.length + 5_000 + i), 20_000);
    await waitFor('page bytes at the clients', () => clients.every((c, i) => c.received() === 10_000 + i), 20_000);
    for (const [i, p] of pages.entries()) {
      const b = Buffer.from(p.bytes());
      expect(b.subarray(0, LINK_HELLO.length)).toEqual(Buffer.from(LINK_HELLO));
      expect(b.subarray(LINK_HELLO.length)).toEqual(Buffer.from(pattern(5_000 + i, 100 + i)));
    }
    for (const [i, c] of clients.entries()) expect(c.bytes()).toEqual(Buffer.from(pattern(10_000 + i, i + 1)));
    // Credit came back for everything the clients read.
    await waitFor('credited', () => pages.every((p) => p.stream.bufferedAmount === 0));
  });

  it('a stalled client does not slow the other streams on the same mux', async () => {
    const h = await newHost();
    const o = offers(h);
    const stalled = await tcpClient();
    const healthy = await tcpClient();
    await waitFor('2 offers', () => o.list.length === 2);
    const toStalled = await attach(offerOf(o.list, stalled));
    const toHealthy = await attach(offerOf(o.list, healthy));
    stalled.socket.pause();

    // 48 MiB to the stalled client, more than the kernel and the window hold; the page
    // sends as its channels would: while the stream's backlog is under 4 MiB.
    const chunk = pattern(256 * 1024, 7);
    let sentStalled = 0;
    const pump = (): void => {
      while (toStalled.stream.bufferedAmount < 4 * 1024 * 1024 && sentStalled < 48 * 1024 * 1024) {
        toStalled.stream.send(chunk);
        sentStalled += chunk.byteLength;
      }
    };
    pump();
    const timer = setInterval(pump, 5);
    try {
      // Meanwhile 16 MiB reach the healthy client in full, in whole.
      const big = pattern(16 * 1024 * 1024, 9);
      for (let at = 0; at < big.length; at += 64 * 1024) toHealthy.stream.send(big.subarray(at, at + 64 * 1024));
      await waitFor('healthy client got 16 MiB', () => healthy.received() === big.length, 30_000);
      expect(healthy.bytes().equals(Buffer.from(big))).toBe(true);
      await waitFor('healthy stream credited', () => toHealthy.stream.bufferedAmount === 0);
      // The stalled stream holds its own backlog: uncredited bytes at the page, bounded at the relay.
      expect(toStalled.stream.bufferedAmount).toBeGreaterThan(0);
      expect(sentStalled).toBeLessThan(48 * 1024 * 1024);
      expect(relay.stats().bufferedBytes).toBeLessThanOrEqual(4 * 1024 * 1024 + chunk.byteLength);
    } finally {
      clearInterval(timer);
    }
    // Once it reads again, everything it was sent arrives.
    stalled.socket.resume();
    await waitFor('stalled client caught up', () => stalled.received() === sentStalled, 30_000);
    await waitFor('stalled stream credited', () => toStalled.stream.bufferedAmount === 0);
  });

  it('a page thread that does not take a client\'s bytes pauses that client only', async () => {
    const h = await newHost();
    const o = offers(h);
    const flooder = await tcpClient();
    const other = await tcpClient();
    await waitFor('2 offers', () => o.list.length === 2);
    // Both on one mux; nobody takes the flooder's bytes (no onData, as a busy thread), so no credit goes back.
    const flooderStream = await RelayStream.attach(offerOf(o.list, flooder), WS);
    const otherStream = await RelayStream.attach(offerOf(o.list, other), WS);
    let otherGot = 0;
    otherStream.onData((b) => (otherGot += b.byteLength));
    await waitFor('link request', () => otherGot === LINK_HELLO.length);
    expect(relay.stats().muxSockets).toBe(1);
    await authenticate(h, o.list);

    let written = 0;
    const blob = Buffer.alloc(1024 * 1024, 1);
    for (let i = 0; i < 16; i++) {
      flooder.socket.write(blob);
      written += blob.length;
    }
    // The other client's bytes keep flowing.
    other.socket.write(Buffer.alloc(200_000, 2));
    await waitFor('other client flows', () => otherGot === LINK_HELLO.length + 200_000, 20_000);
    // The relay stopped reading the flooder after one window: its bytes wait in the kernel, not in relay memory.
    expect(relay.stats().bufferedBytes).toBeLessThan(MUX_CLIENT_WINDOW * 2);
    // Held, not lost: once the thread takes them, all 16 MiB arrive.
    let flooderGot = 0;
    flooderStream.onData((b) => (flooderGot += b.byteLength));
    await waitFor('the flooder\'s bytes', () => flooderGot === LINK_HELLO.length + written, 30_000);
  });

  it('hands a stream from one thread\'s mux to another\'s without losing a byte', async () => {
    const h = await newHost();
    const o = offers(h);
    const client = await tcpClient();
    await waitFor('offer', () => o.list.length === 1);
    const first = await attach(o.list[0]!);
    await waitFor('hello', () => first.got() === LINK_HELLO.length);
    await authenticate(h, o.list);
    const detaching = first.stream.detach();
    client.socket.write(pattern(300_000, 3));
    const leftover = await detaching;
    // The worker's mux is another socket (in a browser, another thread's RelayMux.for).
    const workerMux = RelayMux.create(o.list[0]!, WS);
    const second = await RelayStream.attach(o.list[0]!, WS, workerMux);
    expect(relay.stats().muxSockets).toBe(2);
    const parts: Uint8Array[] = [leftover];
    second.onData((b) => parts.push(b.slice()));
    await waitFor('all bytes after the handoff', () => parts.reduce((n, p) => n + p.byteLength, 0) === 300_000, 10_000);
    expect(Buffer.concat(parts)).toEqual(Buffer.from(pattern(300_000, 3)));
    second.send(pattern(1000, 4));
    await waitFor('page bytes after the handoff', () => client.received() === 1000);
  });
});

describe('a hostile or broken page socket', () => {
  it('a missing or wrong mux token, an unknown session and a flood of mux sockets are refused at the handshake; the token never reaches a URL or a log', async () => {
    const h = await newHost();
    const o = offers(h);
    await tcpClient();
    await waitFor('offer', () => o.list.length === 1);
    /** The HTTP status a refused upgrade got (the socket never opens, so nothing it sends is read). */
    const refusal = async (url: string, protocols?: string[]): Promise<number> => {
      const ws = protocols ? new WebSocket(url, protocols) : new WebSocket(url);
      sockets.push(ws);
      ws.on('error', () => {});
      return new Promise((resolve, reject) => {
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('open', () => reject(new Error(`expected ${url} to be refused, but it opened`)));
      });
    };
    const token = o.list[0]!.muxToken;
    expect(o.list[0]!.relayUrl + JSON.stringify(o.list[0])).not.toMatch(/token=/);
    const mux = `${relay.url}/mux?session=default`;
    // The old way, the token in the query, is no way at all.
    expect(await refusal(`${mux}&token=${token}`)).toBe(400);
    expect(await refusal(mux, muxProtocols('0'.repeat(token.length)))).toBe(403);
    expect(await refusal(`${relay.url}/mux?session=nobody`, muxProtocols(token))).toBe(403);
    expect(await refusal(mux, ['spice-web-mux'])).toBe(400);
    expect(logs.some((l) => l.includes('wrong mux token'))).toBe(true);
    const open: WebSocket[] = [];
    for (let i = 0; i < 32; i++) {
      const ws = new WebSocket(mux, muxProtocols(token));
      sockets.push(ws);
      await new Promise((r) => ws.once('open', r));
      // The relay chose the protocol, not the token.
      expect(ws.protocol).toBe('spice-web-mux');
      open.push(ws);
    }
    await waitFor('32 mux sockets', () => relay.stats().muxSockets === 32);
    expect(await refusal(mux, muxProtocols(token))).toBe(429);
    expect(logs.filter((l) => l.includes(token))).toEqual([]);
  });

  it('a host control socket that has not registered cannot send a big message', async () => {
    const ws = new WebSocket(`${relay.url}/host?session=big`);
    sockets.push(ws);
    ws.on('error', () => {});
    await new Promise((r) => ws.once('open', r));
    const closed = new Promise<number>((r) => ws.once('close', (code: number) => r(code)));
    ws.send(Buffer.alloc(1024 * 1024, 0x20).toString());
    expect(await closed).toBe(1009); // message too big: read no further
    expect(relay.stats().sessions).toBe(0);
  });

  it('a malformed frame closes that mux socket only; the session and its other threads go on', async () => {
    const h = await newHost();
    const o = offers(h);
    const a = await tcpClient();
    await waitFor('offer', () => o.list.length === 1);
    const good = await attach(o.list[0]!);
    const bad = new WebSocket(`${relay.url}/mux?session=default`, muxProtocols(o.list[0]!.muxToken));
    sockets.push(bad);
    await new Promise((r) => bad.once('open', r));
    const closed = new Promise<number>((r) => bad.once('close', (code: number) => r(code)));
    bad.send(Buffer.from([1, 2])); // shorter than a stream number
    expect(await closed).toBe(RelayCloseCode.BadRequest);
    expect(logs.some((l) => /mux socket closed: expected a frame of at least 4 bytes/.test(l))).toBe(true);

    const bad2 = new WebSocket(`${relay.url}/mux?session=default`, muxProtocols(o.list[0]!.muxToken));
    sockets.push(bad2);
    await new Promise((r) => bad2.once('open', r));
    const closed2 = new Promise<number>((r) => bad2.once('close', (code: number) => r(code)));
    bad2.send(JSON.stringify({ type: 'credit', credits: [[1, -5]] }));
    expect(await closed2).toBe(RelayCloseCode.BadRequest);

    good.stream.send(pattern(100, 5));
    await waitFor('the good stream still works', () => a.received() === 100);
    expect(relay.stats()).toMatchObject({ sessions: 1, streams: 1 });
  });

  it('a page that sends past its window loses that stream, not the relay its memory', async () => {
    const h = await newHost();
    const o = offers(h);
    const slow = await tcpClient();
    slow.socket.pause();
    await waitFor('offer', () => o.list.length === 1);
    const p = await attach(o.list[0]!);
    const closedP = new Promise<string>((r) => p.stream.onClose(r));
    // Ignore credit: far more than the window, at once.
    const chunk = pattern(1024 * 1024, 6);
    for (let i = 0; i < MUX_PAGE_WINDOW / chunk.byteLength + 24; i++) p.stream.send(chunk);
    expect(await closedP).toMatch(/the page sent past its window/);
    await waitFor('stream gone', () => relay.stats().streams === 0 && relay.stats().bufferedBytes === 0, 20_000);
  });

  it('the page\'s mux sockets close when the session ends', async () => {
    const h = await newHost();
    const o = offers(h);
    await tcpClient();
    await waitFor('offer', () => o.list.length === 1);
    const p = await attach(o.list[0]!);
    const reason = new Promise<string>((r) => p.stream.onClose(r));
    expect(RelayMux.openCount).toBeGreaterThan(0);
    h.close();
    expect(await reason).toMatch(/the page hosting this session left/);
    await waitFor('no mux sockets', () => relay.stats().muxSockets === 0);
  });
});
