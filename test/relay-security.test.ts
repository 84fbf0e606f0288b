/**
 * The relay as an attacker meets it, on loopback: unknown paths, foreign
 * origins, no relay key, squatting a dropped session, trickling and idle
 * connections from one address and from many, floods before authenticating,
 * password guessing, and the page's own log lines.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RelayServer, type RelayServerOptions } from '../src/relay/relay-server.ts';
import { RelayHost } from '../src/transport/relay-host.ts';
import { RelayStream, type StreamOffer } from '../src/transport/relay-stream.ts';
import type { WebSocketConstructor } from '../src/transport/websocket-like.ts';
import { useCapturedLogs } from './helpers/captured-log.ts';
import { LINK_HELLO } from './helpers/link-hello.ts';
import { sleep, waitFor } from './helpers/wait.ts';

const WS = WebSocket as unknown as WebSocketConstructor;
const PAGE_ORIGIN = 'http://127.0.0.1:5173';


let relay: RelayServer;
const logs = useCapturedLogs();
const cleanup: Array<() => void> = [];

async function startRelay(opts: RelayServerOptions = {}): Promise<RelayServer> {
  relay = new RelayServer({ host: '127.0.0.1', port: 0, tcpPort: 0, heartbeatMs: 0, allowedOrigins: [PAGE_ORIGIN], ...opts });
  await relay.start();
  return relay;
}

afterEach(async () => {
  for (const c of cleanup.splice(0)) c();
  await relay?.stop();
  await sleep(20);
});

interface Page {
  host: RelayHost;
  offers: StreamOffer[];
}

async function page(session = 'default', opts: { secret?: string; auth?: boolean } = {}): Promise<Page> {
  const host = await RelayHost.connect({
    relayUrl: relay.url,
    session,
    relayKey: relay.relayKey,
    WebSocketImpl: WS,
    reconnect: false,
    ...(opts.secret ? { secret: opts.secret } : {}),
  });
  cleanup.push(() => host.close());
  const offers: StreamOffer[] = [];
  host.onStream((o) => {
    if (opts.auth) host.reportAuth(o.stream, true);
    offers.push(o);
  });
  return { host, offers };
}

interface Tcp {
  socket: Socket;
  closed(): boolean;
}

function tcp(opts: { localAddress?: string; hello?: boolean } = {}): Promise<Tcp> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: '127.0.0.1', port: relay.address!.tcpPort!, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    cleanup.push(() => socket.destroy());
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => {});
    socket.once('connect', () => {
      if (opts.hello !== false) socket.write(LINK_HELLO);
      resolve({ socket, closed: () => closed });
    });
    socket.once('error', reject);
  });
}

/** Opens a WebSocket and says how the handshake ended: 'open', or the HTTP status of the refusal. */
function wsOutcome(url: string, origin?: string): Promise<{ result: string; ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, ['binary'], origin ? { origin } : {});
    cleanup.push(() => ws.terminate());
    ws.on('error', () => {});
    ws.once('open', () => resolve({ result: 'open', ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ result: String(res.statusCode), ws }));
  });
}

/** A raw host socket, to drop it abruptly as a crashed or reloaded page does. */
async function rawHost(session: string, secret: string, key = relay.relayKey): Promise<{ ws: WebSocket; closeCode: () => number | null }> {
  const ws = new WebSocket(`${relay.url}/host?session=${session}`, { origin: PAGE_ORIGIN });
  cleanup.push(() => ws.terminate());
  let code: number | null = null;
  ws.on('close', (c) => (code = c));
  ws.on('error', () => {});
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'register', secret, key }));
  await new Promise<void>((resolve) => ws.once('message', () => resolve()));
  return { ws, closeCode: () => code };
}

describe('paths and origins', () => {
  it('refuses unknown paths with a reason instead of mapping them to a session', async () => {
    await startRelay();
    await page();
    for (const path of ['/', '/websockify', '/Spice/x', '/spice/', '/spice/a%2Fb']) {
      const { result } = await wsOutcome(`${relay.url}${path}`);
      expect(result, path).toMatch(/^40[04]$/);
    }
    expect(logs.some((l) => l.includes('unknown path "/": expected /spice/NAME'))).toBe(true);
    expect(relay.stats().streams).toBe(0);
  });

  it('lets only allowed origins host or connect; clients without an Origin are native tools', async () => {
    await startRelay();
    await page();
    const evil = 'http://localhost:9999';
    expect((await wsOutcome(`${relay.url}/host?session=default`, evil)).result).toBe('403');
    expect((await wsOutcome(`${relay.url}/spice/default`, evil)).result).toBe('403');
    expect((await wsOutcome(`${relay.url}/spice/default`, 'http://127.0.0.1:9999')).result).toBe('403');
    expect((await wsOutcome(`${relay.url}/spice/default`, 'null')).result).toBe('403');
    expect(logs.some((l) => l.includes(`origin "${evil}" is not allowed`))).toBe(true);
    expect((await wsOutcome(`${relay.url}/spice/default`, PAGE_ORIGIN)).result).toBe('open');
    expect((await wsOutcome(`${relay.url}/spice/default`)).result).toBe('open');
    relay.allowOrigin('http://localhost:9999');
    expect((await wsOutcome(`${relay.url}/spice/default`, evil)).result).toBe('open');
  });
});

describe('sessions', () => {
  it('a relay without a key lets any page host, and says so', async () => {
    await startRelay({ relayKey: null });
    const host = await RelayHost.connect({ relayUrl: relay.url, WebSocketImpl: WS, reconnect: false });
    cleanup.push(() => host.close());
    expect(relay.stats().sessions).toBe(1);
    expect(logs.some((l) => l.startsWith('warn') && l.includes('no relay key'))).toBe(true);
  });

  it('keeps a dropped page\'s session name for it: a squatter is refused, clients wait, the page comes back', async () => {
    await startRelay({ graceMs: 60_000 });
    const secret = 'owner-secret-0123456789abcdef';
    const owner = await rawHost('default', secret);
    owner.ws.terminate(); // a crash or a reload: no clean close
    await waitFor('grace period', () => logs.some((l) => l.includes('the name stays reserved for that page')));

    // Another page with the relay key (not only one without) cannot take it.
    await expect(
      RelayHost.connect({ relayUrl: relay.url, relayKey: relay.relayKey, secret: 'squatter-secret-0123456789', WebSocketImpl: WS, reconnect: false }),
    ).rejects.toMatchObject({ code: 4001, message: expect.stringContaining('reserved for the page that hosted it') });
    // Clients meanwhile are told to come back later, not handed to anyone.
    const early = await tcp();
    await waitFor('client refused while the page is away', () => early.closed());
    expect(logs.some((l) => l.includes('refused: the page hosting session default is reconnecting'))).toBe(true);

    // The owner, with its secret, gets it back, streams and all.
    const back = await page('default', { secret });
    await tcp();
    await waitFor('offer to the returned page', () => back.offers.length === 1);
    expect(logs.some((l) => l.includes('host came back to session=default'))).toBe(true);
  });

  it('frees the name once the grace period passes', async () => {
    await startRelay({ graceMs: 100 });
    const owner = await rawHost('default', 'owner-secret-0123456789abcdef');
    owner.ws.terminate();
    await waitFor('session ended', () => relay.stats().sessions === 0);
    expect(logs.some((l) => l.includes('its page did not come back within 100 ms'))).toBe(true);
    await page('default', { secret: 'next-page-secret-0123456789' });
    expect(relay.stats().sessions).toBe(1);
  });
});

describe('unauthenticated connections', () => {
  it('offers a connection to the page only once its link request is complete', async () => {
    await startRelay();
    const p = await page();
    const slow = await tcp({ hello: false });
    for (let i = 0; i < LINK_HELLO.length - 1; i++) {
      slow.socket.write(LINK_HELLO.subarray(i, i + 1));
      await sleep(2);
    }
    await sleep(50);
    expect(p.offers).toHaveLength(0); // no page socket spent on it yet
    slow.socket.write(LINK_HELLO.subarray(LINK_HELLO.length - 1));
    await waitFor('offer', () => p.offers.length === 1);
  });

  it('300 idle connections from one address cost nothing and keep no one out', async () => {
    await startRelay();
    const p = await page();
    const idle: Tcp[] = [];
    for (let i = 0; i < 300; i++) idle.push(await tcp({ localAddress: '127.0.0.2', hello: false }));
    await waitFor('all but 8 refused', () => idle.filter((c) => c.closed()).length === 292);
    expect(relay.stats().admission).toMatchObject({ pending: 8 });
    const real = await tcp({ localAddress: '127.0.0.1' });
    await waitFor('the real client offered', () => p.offers.length === 1);
    expect(real.closed()).toBe(false);
    expect(logs.some((l) => l.includes('are still unauthenticated (limit 8)'))).toBe(true);
  });

  it('a hosting page\'s burst of stream sockets is not limited like strangers\' connections', async () => {
    await startRelay();
    const p = await page('default', { auth: true });
    for (let i = 0; i < 40; i++) await tcp({ localAddress: `127.0.2.${i + 1}` });
    await waitFor('40 offers', () => p.offers.length === 40);
    // 40 page sockets at once from the page's own address: more than 8, all attach.
    const streams = await Promise.all(p.offers.map((o) => RelayStream.attach(o, WS)));
    expect(streams).toHaveLength(40);
    for (const st of streams) st.close();
  });

  it('when the global limit is full, a real client still gets in: the biggest holder loses its oldest', async () => {
    await startRelay({ limits: { maxPerAddress: 8, maxTotal: 24 } });
    const p = await page();
    const idle: Tcp[] = [];
    for (let a = 2; a <= 5; a++) for (let i = 0; i < 8; i++) idle.push(await tcp({ localAddress: `127.0.0.${a}`, hello: false }));
    await waitFor('global limit reached', () => relay.stats().admission.pending === 24);
    const real = await tcp({ localAddress: '127.0.0.1' });
    await waitFor('the real client offered', () => p.offers.length === 1);
    expect(real.closed()).toBe(false);
    expect(relay.stats().admission.evicted).toBeGreaterThanOrEqual(1);
  });

  it('closes a connection that does not authenticate in time, with the reason logged', async () => {
    await startRelay({ limits: { timeoutMs: 300 } });
    const p = await page();
    const lazy = await tcp();
    await waitFor('offered', () => p.offers.length === 1);
    await waitFor('closed at the deadline', () => lazy.closed(), 3000);
    expect(logs.some((l) => l.includes('not authenticated within 300 ms'))).toBe(true);
    await waitFor('0 streams', () => relay.stats().streams === 0);
  });

  it('closes a client that sends a flood before authenticating', async () => {
    await startRelay();
    const p = await page();
    const flood = await tcp();
    await waitFor('offered', () => p.offers.length === 1);
    flood.socket.write(Buffer.alloc(200 * 1024, 7));
    await waitFor('flood closed', () => flood.closed());
    expect(logs.some((l) => l.includes('sent more than 65536 B before authenticating'))).toBe(true);
  });

  it('caps relay-wide buffer memory: the stream that would pass it is closed, the others work', async () => {
    await startRelay({ maxTotalBufferedBytes: 300 * 1024, maxBufferedBytes: 8 * 1024 * 1024 });
    const p = await page('default', { auth: true });
    const clients: Tcp[] = [];
    for (let i = 0; i < 4; i++) clients.push(await tcp());
    await waitFor('4 offers', () => p.offers.length === 4);
    await sleep(50); // the auth reports are in
    // Nobody attaches: the relay buffers what they send.
    for (const c of clients) c.socket.write(Buffer.alloc(100 * 1024, 1));
    await waitFor('one closed', () => clients.some((c) => c.closed()));
    expect(logs.some((l) => l.includes('the relay-wide buffer limit is reached'))).toBe(true);
    expect(relay.stats().bufferedBytes).toBeLessThanOrEqual(300 * 1024);
  });
});

describe('authentication', () => {
  it('relay-held password: the relay decides, logs failures and slows that address only', async () => {
    await startRelay({ password: 'correct horse', authThrottle: { baseDelayMs: 300, maxDelayMs: 300 } });
    const p = await page();
    expect(p.host.ticketCheck).toBe('relay');
    const guess = await tcp({ localAddress: '127.0.0.3' });
    await waitFor('offer', () => p.offers.length === 1);
    expect(await p.host.verifyTicket(p.offers[0]!.stream, 'wrong')).toEqual({ ok: false, reason: 'wrong password' });
    expect(await p.host.verifyTicket(p.offers[0]!.stream, null)).toEqual({ ok: false, reason: 'ticket could not be decrypted' });
    expect(logs.filter((l) => l.startsWith('warn') && l.includes('authentication failed for tcp client 127.0.0.3')).length).toBe(2);
    // A page cannot claim success when the relay holds the password.
    p.host.reportAuth(p.offers[0]!.stream, true);
    await waitFor('claim ignored', () => logs.some((l) => l.includes('reported a ticket outcome, but the relay checks tickets itself')));
    guess.socket.destroy();

    // The next connection from the guessing address waits its turn; another address does not.
    const t0 = Date.now();
    await tcp({ localAddress: '127.0.0.3' });
    await tcp({ localAddress: '127.0.0.1' });
    await waitFor('other address offered', () => p.offers.some((o) => o.remote.startsWith('127.0.0.1:')));
    expect(p.offers.filter((o) => o.remote.startsWith('127.0.0.3:'))).toHaveLength(1);
    await waitFor('guesser offered later', () => p.offers.filter((o) => o.remote.startsWith('127.0.0.3:')).length === 2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    const right = p.offers.find((o) => o.remote.startsWith('127.0.0.1:'))!;
    expect(await p.host.verifyTicket(right.stream, 'correct horse')).toEqual({ ok: true });
  });

  it('page-held password: the page reports outcomes; the relay logs them and throttles', async () => {
    await startRelay();
    const p = await page();
    expect(p.host.ticketCheck).toBe('page');
    await tcp({ localAddress: '127.0.0.4' });
    await waitFor('offer', () => p.offers.length === 1);
    p.host.reportAuth(p.offers[0]!.stream, false, 'wrong password');
    await waitFor('failure logged', () =>
      logs.some((l) => l.includes('authentication failed for tcp client 127.0.0.4') && l.includes('its next connection waits 200 ms')),
    );
  });
});

describe('page log lines', () => {
  it('reach the relay log, escaped and rate-limited', async () => {
    await startRelay();
    const p = await page();
    p.host.forwardLog('error', 'disk full\u001b[31m\nfake line');
    for (let i = 0; i < 40; i++) p.host.forwardLog('warn', `noise ${i}`);
    await waitFor('forwarded', () => logs.some((l) => l.includes('page session=default: disk full\\x1b[31m\\x0afake line')));
    await sleep(100);
    expect(logs.find((l) => l.includes('disk full'))).toMatch(/^error \[relay\]/);
    expect(logs.filter((l) => l.includes('page session=default: noise')).length).toBe(19);
  });
});

describe('HTTP CONNECT (native clients through the relay as a proxy)', () => {
  /** Sends a CONNECT on the relay's web port; resolves with the status line and the socket. */
  function connectVia(target: string): Promise<{ status: string; socket: Socket }> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({ host: '127.0.0.1', port: relay.address!.port });
      cleanup.push(() => socket.destroy());
      socket.on('error', reject);
      let head = '';
      const onData = (b: Buffer): void => {
        head += b.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        resolve({ status: head.split('\r\n', 1)[0]!, socket });
      };
      socket.on('data', onData);
      socket.once('connect', () => socket.write(`CONNECT ${target} HTTP/1.0\r\nHost: ${target}\r\n\r\n`));
    });
  }

  it('tunnels to the named session, which sees a tcp client', async () => {
    await startRelay();
    const alpha = await page('alpha');
    const d = await page('default');
    const { status, socket } = await connectVia('alpha:5900');
    expect(status).toBe('HTTP/1.1 200 Connection established');
    socket.write(LINK_HELLO);
    await waitFor('offer to alpha', () => alpha.offers.length === 1);
    expect(alpha.offers[0]).toMatchObject({ transport: 'tcp', session: 'alpha' });
    expect(d.offers).toHaveLength(0);
  });

  it('refuses bad targets and sessions nobody hosts, with a reason', async () => {
    await startRelay();
    await page('alpha');
    expect((await connectVia('no/such:5900')).status).toBe('HTTP/1.1 400 Bad Request');
    expect((await connectVia('alpha')).status).toBe('HTTP/1.1 400 Bad Request');
    expect((await connectVia('nobody:5900')).status).toBe('HTTP/1.1 503 Service Unavailable');
    expect(logs.some((l) => l.includes('refused: no page hosts session nobody'))).toBe(true);
  });
});

describe('behind a reverse proxy', () => {
  it('counts a trusted proxy\'s connections per forwarded client; others cannot forge the header', async () => {
    await startRelay({ trustedProxies: ['127.0.0.9'], limits: { maxPerAddress: 2 } });
    await page();
    const open = (localAddress: string, forwardedFor: string): Promise<string> =>
      new Promise((resolve) => {
        const ws = new WebSocket(`${relay.url}/spice/default`, ['binary'], { localAddress, headers: { 'x-forwarded-for': forwardedFor } });
        cleanup.push(() => ws.terminate());
        ws.on('error', () => resolve('dropped'));
        ws.once('open', () => resolve('open'));
        ws.once('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
      });
    // Through the proxy: two per forwarded client, whatever the proxy's own count.
    expect(await open('127.0.0.9', '10.9.9.1')).toBe('open');
    expect(await open('127.0.0.9', '192.0.2.50, 10.9.9.1')).toBe('open');
    expect(await open('127.0.0.9', '10.9.9.1')).toBe('503');
    expect(await open('127.0.0.9', '10.9.9.2')).toBe('open');
    expect(logs.some((l) => l.includes('ws client 10.9.9.1 via 127.0.0.9:'))).toBe(true);
    // Not a trusted proxy: the header is ignored and the peer's own address counts.
    expect(await open('127.0.0.8', '10.9.9.3')).toBe('open');
    expect(await open('127.0.0.8', '10.9.9.4')).toBe('open');
    expect(await open('127.0.0.8', '10.9.9.5')).toBe('dropped'); // refused as it connected
  });
});
