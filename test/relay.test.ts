/**
 * The Node relay end to end on loopback: native (TCP) and spice-html5 (WS)
 * clients on one side, a page (RelayHost/RelayStream over `ws`) on the other.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RelayServer, type RelayServerOptions } from '../src/relay/relay-server.ts';
import { parseRelayArgs, runRelayCli, CliUsageError } from '../src/relay/cli.ts';
import { RelayHost } from '../src/transport/relay-host.ts';
import { RelayStream, type StreamOffer } from '../src/transport/relay-stream.ts';
import { muxProtocols } from '../src/transport/relay-protocol.ts';
import { useCapturedLogs } from './helpers/captured-log.ts';
import { LINK_HELLO } from './helpers/link-hello.ts';
import { sleep, waitFor } from './helpers/wait.ts';

// ---------- helpers ----------


/** Deterministic pseudo-random bytes, so a mismatch is reproducible. */
function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Fast exact comparison (deep-equal on big typed arrays is slow); reports the first difference. */
function expectSameBytes(got: Uint8Array, want: Uint8Array): void {
  const n = Math.min(got.byteLength, want.byteLength);
  let i = 0;
  while (i < n && got[i] === want[i]) i++;
  const firstDiff = i === n && got.byteLength === want.byteLength ? -1 : i;
  expect({ length: got.byteLength, firstDiff }).toEqual({ length: want.byteLength, firstDiff: -1 });
}

/** Splits bytes into chunks of varying sizes (1..max). */
function chunks(bytes: Uint8Array, max: number, seed: number): Uint8Array[] {
  const sizes = pattern(4096, seed);
  const out: Uint8Array[] = [];
  let at = 0;
  let i = 0;
  while (at < bytes.byteLength) {
    const n = Math.min(bytes.byteLength - at, 1 + ((sizes[i++ % sizes.length]! * 131) % max));
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** Collects bytes from any source; `skip` leading bytes (a client's link hello) are checked and dropped. */
class Sink {
  readonly parts: Uint8Array[] = [];
  length = 0;
  private skipped: number[] = [];
  constructor(private readonly skip: Uint8Array = new Uint8Array(0)) {}
  push = (b: Uint8Array): void => {
    let bytes = new Uint8Array(b);
    if (this.skipped.length < this.skip.byteLength) {
      const n = Math.min(this.skip.byteLength - this.skipped.length, bytes.byteLength);
      this.skipped.push(...bytes.subarray(0, n));
      bytes = bytes.subarray(n);
      if (this.skipped.length === this.skip.byteLength) expectSameBytes(Uint8Array.from(this.skipped), this.skip);
    }
    if (bytes.byteLength === 0) return;
    this.parts.push(bytes);
    this.length += bytes.byteLength;
  };
  bytes(): Uint8Array {
    return concat(this.parts);
  }
  async waitLength(n: number, what = 'bytes'): Promise<Uint8Array> {
    await waitFor(`${n} ${what} (have ${this.length})`, () => this.length >= n);
    return this.bytes();
  }
}

class Inbox<T> {
  private items: T[] = [];
  push = (item: T): void => {
    this.items.push(item);
  };
  get size(): number {
    return this.items.length;
  }
  async next(what = 'item'): Promise<T> {
    await waitFor(what, () => this.items.length > 0);
    return this.items.shift()!;
  }
}

const WS = WebSocket as unknown as import('../src/transport/websocket-like.ts').WebSocketConstructor;

interface Host {
  host: RelayHost;
  offers: Inbox<StreamOffer>;
  closed: Inbox<{ stream: string; reason: string }>;
}

/**
 * A page registered with the relay key. It vouches for every client at once
 * (as a page does after a good ticket), so streams may carry more than a link
 * request; no reconnecting, so a drop shows as onClose.
 */
async function connectHost(relay: RelayServer, session = 'default', secret?: string): Promise<Host> {
  const host = await RelayHost.connect({ relayUrl: relay.url, session, secret, relayKey: relay.relayKey, WebSocketImpl: WS, reconnect: false });
  const offers = new Inbox<StreamOffer>();
  const closed = new Inbox<{ stream: string; reason: string }>();
  host.onStream((o) => {
    host.reportAuth(o.stream, true);
    offers.push(o);
  });
  host.onStreamClosed((stream, reason) => closed.push({ stream, reason }));
  return { host, offers, closed };
}

interface TcpClient {
  socket: Socket;
  received: Sink;
  closed: () => boolean;
  ended: () => boolean;
}

/** A TCP client that sends its link hello first (`hello` false: nothing), from `localAddress` if given. */
function tcpClient(port: number, opts: { hello?: boolean; localAddress?: string } = {}): Promise<TcpClient> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: '127.0.0.1', port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    const received = new Sink();
    let closed = false;
    let ended = false;
    socket.on('data', received.push);
    socket.on('end', () => (ended = true));
    socket.on('close', () => (closed = true));
    socket.on('error', () => {});
    socket.once('connect', () => {
      if (opts.hello !== false) socket.write(LINK_HELLO);
      resolve({ socket, received, closed: () => closed, ended: () => ended });
    });
    socket.once('error', reject);
  });
}

interface WsClient {
  ws: WebSocket;
  received: Sink;
  closeCode: () => number | null;
}

/** A spice-html5-like client (no Origin, as a native tool) that sends its link hello first. */
function wsClient(url: string, protocols: string[] = ['binary'], opts: { origin?: string } = {}): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, opts.origin ? { origin: opts.origin } : {});
    const received = new Sink();
    let code: number | null = null;
    ws.on('message', (d: Buffer) => received.push(d));
    ws.on('close', (c) => (code = c));
    ws.on('error', () => {});
    ws.once('open', () => {
      ws.send(LINK_HELLO);
      resolve({ ws, received, closeCode: () => code });
    });
    ws.once('error', reject);
  });
}

/** Attaches a page socket; the first one of a stream checks and drops the client's link hello. */
async function attach(offer: StreamOffer, first = true): Promise<{ stream: RelayStream; received: Sink; closed: Inbox<string> }> {
  const stream = await RelayStream.attach(offer, WS);
  const received = new Sink(first ? LINK_HELLO : undefined);
  const closed = new Inbox<string>();
  stream.onData(received.push);
  stream.onClose(closed.push);
  return { stream, received, closed };
}

// ---------- fixtures ----------

let relay: RelayServer;
const logs = useCapturedLogs();
const hosts: RelayHost[] = [];
const sockets: Array<{ destroy(): void } | { terminate(): void }> = [];

async function startRelay(opts: RelayServerOptions = {}): Promise<RelayServer> {
  relay = new RelayServer({ host: '127.0.0.1', port: 0, tcpPort: 0, heartbeatMs: 0, ...opts });
  await relay.start();
  return relay;
}

afterEach(async () => {
  for (const h of hosts.splice(0)) h.close();
  for (const s of sockets.splice(0)) ('destroy' in s ? s.destroy() : s.terminate());
  await relay?.stop();
  await sleep(20); // let close events of the page sides land in the captured log
});

function track<T extends RelayHost | Socket | WebSocket>(x: T): T {
  if (x instanceof RelayHost) hosts.push(x);
  else sockets.push(x as Socket);
  return x;
}

function tcpPort(): number {
  const p = relay.address?.tcpPort;
  if (typeof p !== 'number') throw new Error('expected a TCP port');
  return p;
}

// ---------- tests ----------

describe('RelayServer basics', () => {
  it('reports actual ports, answers GET / and 404s other paths', async () => {
    await startRelay();
    const { port, tcpPort: t } = relay.address!;
    expect(port).toBeGreaterThan(0);
    expect(t).toBeGreaterThan(0);
    const ok = await fetch(`http://127.0.0.1:${port}/`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/^spice-relay\n/);
    const missing = await fetch(`http://127.0.0.1:${port}/nope`);
    expect(missing.status).toBe(404);
    await missing.text();
    expect(logs.some((l) => l.includes('spice-relay listening: ws://127.0.0.1:'))).toBe(true);
  });

  it('tcpPort null turns the TCP listener off', async () => {
    await startRelay({ tcpPort: null });
    expect(relay.address!.tcpPort).toBeNull();
    const h = track((await connectHost(relay)).host);
    expect(h.tcpPort).toBeNull();
  });

  it('registers a host and reports tcpPort/clientPath', async () => {
    await startRelay();
    const { host } = await connectHost(relay);
    track(host);
    expect(host.session).toBe('default');
    expect(host.tcpPort).toBe(tcpPort());
    expect(host.clientPath).toBe('/spice/default');
    const other = track((await connectHost(relay, 'vm-2')).host);
    expect(other.tcpPort).toBeNull();
    expect(other.clientPath).toBe('/spice/vm-2');
    expect(relay.stats()).toMatchObject({ sessions: 2, streams: 0 });
    expect(logs.some((l) => l.includes('host registered session=vm-2'))).toBe(true);
  });

  it('refuses a register with a short secret', async () => {
    await startRelay();
    await expect(
      RelayHost.connect({ relayUrl: relay.url, session: 'x', secret: 'short', WebSocketImpl: WS }),
    ).rejects.toMatchObject({ code: 4000, message: expect.stringContaining('16 to 256 characters') });
    expect(relay.stats().sessions).toBe(0);
  });
});

describe('forwarding', () => {
  it('TCP client <-> page stream round trip, both directions, many chunks, exact bytes', async () => {
    await startRelay();
    const h = await connectHost(relay);
    track(h.host);
    const client = await tcpClient(tcpPort());
    track(client.socket);
    const offer = await h.offers.next('offer');
    expect(offer.transport).toBe('tcp');
    expect(offer.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(offer.token).toMatch(/^[0-9a-f]{32}$/);
    expect(offer.session).toBe('default');
    const page = await attach(offer);

    const up = pattern(300_000, 1);
    for (const c of chunks(up, 4000, 2)) client.socket.write(c);
    const down = pattern(500_000, 3);
    for (const c of chunks(down, 9000, 4)) page.stream.send(c);

    expectSameBytes(await page.received.waitLength(up.length), up);
    expectSameBytes(await client.received.waitLength(down.length), down);
    await sleep(20);
    expect(page.received.length).toBe(up.length);
    expect(client.received.length).toBe(down.length);
  });

  it('WS client offering "binary" gets "binary" and round-trips', async () => {
    await startRelay();
    const h = await connectHost(relay);
    track(h.host);
    for (const path of ['/spice/default', '/spice/default']) {
      const client = await wsClient(`${relay.url}${path}`);
      track(client.ws);
      expect(client.ws.protocol).toBe('binary');
      const offer = await h.offers.next('offer');
      expect(offer.transport).toBe('ws');
      const page = await attach(offer);
      const up = pattern(100_000, 5);
      for (const c of chunks(up, 3000, 6)) client.ws.send(c);
      const down = pattern(200_000, 7);
      for (const c of chunks(down, 7000, 8)) page.stream.send(c);
      expectSameBytes(await page.received.waitLength(up.length), up);
      expectSameBytes(await client.received.waitLength(down.length), down);
    }
  });

  it('a WS client gets each page send as exactly one WebSocket message (whole SPICE messages stay whole)', async () => {
    await startRelay();
    const h = await connectHost(relay);
    track(h.host);
    const client = await wsClient(`${relay.url}/spice/default`);
    track(client.ws);
    const sizes: number[] = [];
    client.ws.on('message', (d: Buffer) => sizes.push(d.length));
    const page = await attach(await h.offers.next('offer'));
    const sends = [6, 4102, 70_006, 1 << 20, 1];
    for (const [i, n] of sends.entries()) page.stream.send(pattern(n, 20 + i));
    await client.received.waitLength(sends.reduce((a, b) => a + b, 0));
    expect(sizes).toEqual(sends);
  });

  it('routes /spice/NAME to that session only', async () => {
    await startRelay();
    const a = await connectHost(relay, 'alpha');
    const d = await connectHost(relay, 'default');
    track(a.host);
    track(d.host);
    const client = await wsClient(`${relay.url}/spice/alpha`);
    track(client.ws);
    const offer = await a.offers.next('offer for alpha');
    expect(offer.session).toBe('alpha');
    await sleep(30);
    expect(d.offers.size).toBe(0);
  });

  it('delivers bytes the client sent before the page attached', async () => {
    await startRelay();
    const h = await connectHost(relay);
    track(h.host);
    const client = await tcpClient(tcpPort());
    track(client.socket);
    const offer = await h.offers.next('offer');
    const early = pattern(50_000, 9);
    client.socket.write(early);
    await sleep(100); // let the relay buffer them
    const page = await attach(offer);
    expectSameBytes(await page.received.waitLength(early.length), early);
    const late = pattern(1000, 10);
    client.socket.write(late);
    expectSameBytes(await page.received.waitLength(early.length + late.length), concat([early, late]));
  });

  it('detach + re-attach (main thread -> worker handoff) neither loses nor duplicates a byte', async () => {
    await startRelay();
    const h = await connectHost(relay);
    track(h.host);
    const client = await tcpClient(tcpPort());
    track(client.socket);
    const offer = await h.offers.next('offer');
    const first = await attach(offer);

    // The client keeps sending throughout the handoff.
    const all = pattern(400_000, 11);
    const parts = chunks(all, 2000, 12);
    let sent = 0;
    let sending = true;
    const pump = (async () => {
      for (const c of parts) {
        if (!sending) break;
        client.socket.write(c);
        sent++;
        if (sent % 10 === 0) await sleep(1);
      }
    })();

    await first.received.waitLength(20_000);
    first.stream.send(pattern(5000, 13)); // page -> client before the handoff
    const leftover = await first.stream.detach();
    const sentAtDetach = sent;
    const deliveredFirst = first.received.bytes();
    const clonedOffer = structuredClone(first.stream.offer); // as if posted to a Worker
    await sleep(20); // the client is still sending; the relay buffers
    const second = await attach(clonedOffer, false);
    second.stream.send(pattern(7000, 14));
    await pump;
    sending = false;

    expect(sentAtDetach).toBeLessThan(parts.length); // the handoff really happened mid-stream
    const total = deliveredFirst.byteLength + leftover.byteLength;
    await second.received.waitLength(all.byteLength - total, 'bytes on the second socket');
    const got = concat([deliveredFirst, leftover, second.received.bytes()]);
    expect(got.byteLength).toBe(all.byteLength);
    expectSameBytes(got, all);

    const down = concat([pattern(5000, 13), pattern(7000, 14)]);
    expectSameBytes(await client.received.waitLength(down.length), down);
    // The first socket's close after the handoff did not end the stream.
    expect(client.closed()).toBe(false);
    expect(relay.stats().streams).toBe(1);
    expect(first.closed.size).toBe(0);
  });

  it('keeps bytes exact under backpressure in both directions (slow readers)', async () => {
    await startRelay();
    const h = await connectHost(relay);
    track(h.host);
    const client = await tcpClient(tcpPort());
    track(client.socket);
    const offer = await h.offers.next('offer');
    // A raw mux socket, so its reading can be paused like a busy thread; it credits what it reads.
    const pageWs = track(new WebSocket(`${relay.url}/mux?session=${offer.session}`, muxProtocols(offer.muxToken)));
    const pageGot = new Sink(LINK_HELLO);
    const num = Number(offer.stream);
    let attached = false;
    pageWs.on('message', (d: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        if (JSON.parse(d.toString()).type === 'attached') attached = true;
        return;
      }
      expect(d.readUInt32LE(0)).toBe(num);
      pageGot.push(d.subarray(4));
      pageWs.send(JSON.stringify({ type: 'credit', credits: [[num, d.length - 4]] }));
    });
    await new Promise((r) => pageWs.once('open', r));
    pageWs.send(JSON.stringify({ type: 'attach', stream: offer.stream, token: offer.token }));
    await waitFor('raw mux attached', () => attached);
    const frame = (c: Uint8Array): Buffer => {
      const b = Buffer.alloc(4 + c.length);
      b.writeUInt32LE(num, 0);
      b.set(c, 4);
      return b;
    };
    const big = 12 * 1024 * 1024;
    // page -> client while the client does not read
    client.socket.pause();
    const down = pattern(big, 24);
    for (const c of chunks(down, 64 * 1024, 25)) pageWs.send(frame(c));
    // client -> page while the page does not read
    pageWs.pause();
    const up = pattern(big, 26);
    for (const c of chunks(up, 64 * 1024, 27)) client.socket.write(c);
    await sleep(300);
    client.socket.resume();
    pageWs.resume();
    expectSameBytes(await client.received.waitLength(down.length), down);
    expectSameBytes(await pageGot.waitLength(up.length), up);
  });

  it('re-attach with the same token is refused while a socket is attached (4009)', async () => {
    await startRelay();
    const h = await connectHost(relay);
    track(h.host);
    const client = await tcpClient(tcpPort());
    track(client.socket);
    const offer = await h.offers.next('offer');
    await attach(offer);
    await expect(RelayStream.attach(offer, WS)).rejects.toMatchObject({ code: 4009 });
  });
});

describe('close propagation', () => {
  it('client close -> page socket closed, host told "closed", stats back to 0', async () => {
    await startRelay();
    const h = await connectHost(relay);
    track(h.host);
    const client = await tcpClient(tcpPort());
    const offer = await h.offers.next('offer');
    const page = await attach(offer);
    client.socket.write(pattern(1234, 15));
    await page.received.waitLength(1234);
    page.stream.send(pattern(567, 16));
    await client.received.waitLength(567);
    client.socket.end();
    const reason = await page.closed.next('page stream close');
    expect(reason).toContain('client closed');
    const closed = await h.closed.next('host "closed"');
    expect(closed.stream).toBe(offer.stream);
    await waitFor('0 streams', () => relay.stats().streams === 0);
    const line = logs.find((l) => l.includes(`stream ${offer.stream} tcp`) && l.includes('closed by client'));
    expect(line).toMatch(new RegExp(`^info .*session=default closed by client after \\d+\\.\\ds \\(in ${1234 + LINK_HELLO.length} B, out 567 B\\)$`));
  });

  it('WS client close -> page socket closed and host told', async () => {
    await startRelay();
    const h = await connectHost(relay);
    track(h.host);
    const client = await wsClient(`${relay.url}/spice/default`);
    const offer = await h.offers.next('offer');
    const page = await attach(offer);
    client.ws.close(1000);
    await page.closed.next('page stream close');
    expect((await h.closed.next('host "closed"')).stream).toBe(offer.stream);
    await waitFor('0 streams', () => relay.stats().streams === 0);
  });

  it('page close -> TCP client gets everything sent, then end', async () => {
    await startRelay();
    const h = await connectHost(relay);
    track(h.host);
    const client = await tcpClient(tcpPort());
    track(client.socket);
    const offer = await h.offers.next('offer');
    const page = await attach(offer);
    const last = pattern(200_000, 17);
    page.stream.send(last);
    page.stream.close();
    await waitFor('client end', () => client.ended());
    expectSameBytes(client.received.bytes(), last);
    expect(await page.closed.next('own close')).toBeTypeOf('string');
    expect((await h.closed.next('host "closed"')).stream).toBe(offer.stream);
    await waitFor('0 streams', () => relay.stats().streams === 0);
    expect(logs.some((l) => l.includes(`stream ${offer.stream} `) && l.includes('closed by page'))).toBe(true);
  });

  it('page close -> WS client closed with 1000 after the data', async () => {
    await startRelay();
    const h = await connectHost(relay);
    track(h.host);
    const client = await wsClient(`${relay.url}/spice/default`);
    track(client.ws);
    const page = await attach(await h.offers.next('offer'));
    const last = pattern(10_000, 18);
    page.stream.send(last);
    page.stream.close();
    await waitFor('ws client close', () => client.closeCode() !== null);
    expect(client.closeCode()).toBe(1000);
    expectSameBytes(client.received.bytes(), last);
    await waitFor('0 streams', () => relay.stats().streams === 0);
  });

  it('wrong token or unknown stream -> 4004; an unknown session refuses the mux socket itself', async () => {
    await startRelay();
    const h = await connectHost(relay);
    track(h.host);
    const client = await tcpClient(tcpPort());
    track(client.socket);
    const offer = await h.offers.next('offer');
    await expect(RelayStream.attach({ ...offer, token: '0'.repeat(32) }, WS)).rejects.toMatchObject({ code: 4004 });
    await expect(RelayStream.attach({ ...offer, stream: '999' }, WS)).rejects.toMatchObject({ code: 4004 });
    // The relay refuses that socket's handshake (403), which a page sees only as 1006: the error says what it likely was.
    await expect(RelayStream.attach({ ...offer, session: 'other' }, WS)).rejects.toMatchObject({ code: 1006, message: expect.stringMatching(/the relay refused the socket/) });
    // The real offer still works.
    const page = await attach(offer);
    client.socket.write(pattern(10, 19));
    expectSameBytes(await page.received.waitLength(10), pattern(10, 19));
  });

  it('a second page cannot take a held session (4001); the first keeps working', async () => {
    await startRelay();
    const first = await connectHost(relay, 'default', 'first-page-secret-0123456789');
    track(first.host);
    await expect(
      RelayHost.connect({ relayUrl: relay.url, session: 'default', secret: 'another-secret-0123456789', relayKey: relay.relayKey, WebSocketImpl: WS }),
    ).rejects.toMatchObject({ code: 4001, message: expect.stringContaining('session default is held by another page') });

    const client = await tcpClient(tcpPort());
    track(client.socket);
    const page = await attach(await first.offers.next('offer to the first page'));
    client.socket.write(pattern(100, 20));
    expectSameBytes(await page.received.waitLength(100), pattern(100, 20));
    expect(relay.stats().sessions).toBe(1);
  });

  it('same secret replaces the live host socket; offers go to the new one', async () => {
    await startRelay();
    const secret = 'same-secret-0123456789abcdef';
    const a = await connectHost(relay, 'default', secret);
    const aClosed = new Inbox<string>();
    a.host.onClose(aClosed.push);
    const b = await connectHost(relay, 'default', secret);
    track(b.host);
    expect(await aClosed.next('old host closed')).toContain('4002');
    const client = await tcpClient(tcpPort());
    track(client.socket);
    expect((await b.offers.next('offer to the new host')).transport).toBe('tcp');
    expect(a.offers.size).toBe(0);
  });

  it('buffer overflow closes only that client; another stream keeps working', async () => {
    await startRelay({ maxBufferedBytes: 64 * 1024 });
    const h = await connectHost(relay);
    track(h.host);
    const good = await tcpClient(tcpPort());
    track(good.socket);
    const goodPage = await attach(await h.offers.next('offer 1'));
    const flood = await tcpClient(tcpPort());
    track(flood.socket);
    const floodOffer = await h.offers.next('offer 2');
    flood.socket.write(pattern(200 * 1024, 21)); // nobody attaches to this one
    await waitFor('flooding client closed', () => flood.closed());
    const closed = await h.closed.next('host "closed" for the flood stream');
    expect(closed.stream).toBe(floodOffer.stream);
    expect(closed.reason).toContain('buffer overflow');
    expect(logs.some((l) => l.includes(`stream ${floodOffer.stream} `) && l.includes('buffer overflow'))).toBe(true);

    const up = pattern(150_000, 22);
    good.socket.write(up);
    expectSameBytes(await goodPage.received.waitLength(up.length), up);
    goodPage.stream.send(pattern(1000, 23));
    expectSameBytes(await good.received.waitLength(1000), pattern(1000, 23));
    expect(relay.stats().streams).toBe(1);
  });

  it('host disconnect closes its clients and attached page sockets', async () => {
    await startRelay();
    const h = await connectHost(relay);
    const tcp = await tcpClient(tcpPort());
    const tcpPage = await attach(await h.offers.next('offer 1'));
    const ws = await wsClient(`${relay.url}/spice/default`);
    await h.offers.next('offer 2'); // left unattached
    expect(relay.stats()).toMatchObject({ sessions: 1, streams: 2 });
    h.host.close();
    await waitFor('tcp client closed', () => tcp.closed());
    await waitFor('ws client closed', () => ws.closeCode() !== null);
    expect(await tcpPage.closed.next('page stream closed')).toContain('the page hosting this session left');
    await waitFor('empty relay', () => relay.stats().sessions === 0 && relay.stats().streams === 0);
    expect(logs.some((l) => l.includes('session=default ended: its page stopped hosting'))).toBe(true);
  });

  it('no host -> TCP and WS clients are closed at once', async () => {
    await startRelay();
    const tcp = await tcpClient(tcpPort());
    await waitFor('tcp client closed', () => tcp.closed());
    const ws = await wsClient(`${relay.url}/spice/nobody`);
    await waitFor('ws client closed', () => ws.closeCode() !== null);
    expect(ws.closeCode()).toBe(1013);
    expect(relay.stats().streams).toBe(0);
    expect(logs.filter((l) => l.includes('refused: no page hosts session')).length).toBe(2);
  });

  it('closes a client no page attaches to within attachTimeoutMs, and after a detach', async () => {
    await startRelay({ attachTimeoutMs: 200 });
    const h = await connectHost(relay);
    track(h.host);
    const lonely = await tcpClient(tcpPort());
    await h.offers.next('offer');
    await waitFor('unattached client closed', () => lonely.closed(), 2000);
    expect(logs.some((l) => l.includes('no page attached within 200 ms'))).toBe(true);

    const client = await tcpClient(tcpPort());
    const page = await attach(await h.offers.next('offer 2'));
    await page.stream.detach();
    await waitFor('detached client closed', () => client.closed(), 2000);
    await waitFor('0 streams', () => relay.stats().streams === 0);
  });

  it('stop() closes everything', async () => {
    await startRelay();
    const h = await connectHost(relay);
    const hostClosed = new Inbox<string>();
    h.host.onClose(hostClosed.push);
    const tcp = await tcpClient(tcpPort());
    const page = await attach(await h.offers.next('offer'));
    await relay.stop();
    await waitFor('tcp client closed', () => tcp.closed());
    await page.closed.next('page closed');
    await hostClosed.next('host closed');
    expect(relay.stats()).toMatchObject({ sessions: 0, streams: 0 });
  });
});

describe('CLI', () => {
  it('parses flags', () => {
    expect(parseRelayArgs(['--host', '0.0.0.0', '--port=0', '--tcp-port', 'off', '--log-level', 'warn'])).toEqual({
      help: false,
      logLevel: 'warn',
      options: { host: '0.0.0.0', port: 0, tcpPort: null },
    });
    expect(parseRelayArgs(['--tcp-port=5901']).options.tcpPort).toBe(5901);
    expect(parseRelayArgs(['-h']).help).toBe(true);
    expect(() => parseRelayArgs(['--port', '70000'])).toThrow(CliUsageError);
    expect(() => parseRelayArgs(['--port'])).toThrow(/expected a value after --port/);
    expect(() => parseRelayArgs(['--bogus'])).toThrow(/unknown argument "--bogus"/);
    expect(() => parseRelayArgs(['--log-level', 'loud'])).toThrow(/debug, info, warn or error, got "loud"/);
  });

  it('runRelayCli starts a relay other scripts can use', async () => {
    const started = await runRelayCli(['--port', '0', '--tcp-port', '0', '--log-level', 'debug'], { handleSignals: false });
    expect(started).not.toBeNull();
    relay = started!;
    expect(relay.address!.port).toBeGreaterThan(0);
    track((await connectHost(relay)).host);
    expect(relay.stats().sessions).toBe(1);
  });
});
