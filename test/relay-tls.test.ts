/**
 * The relay with TLS on loopback: the page over wss://, a native client over
 * the SPICE TLS port (Node's TLS client verifying against a throw-away CA),
 * clients that do not trust the CA refused, and the CLI's TLS flags.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseRelayArgs, runRelayCli, CliUsageError } from '../src/relay/cli.ts';
import { RelayServer } from '../src/relay/relay-server.ts';
import { spkiSha256 } from '../src/relay/tls-listener.ts';
import { RelayHost } from '../src/transport/relay-host.ts';
import { RelayStream } from '../src/transport/relay-stream.ts';
import type { WebSocketConstructor } from '../src/transport/websocket-like.ts';
import { useCapturedLogs } from './helpers/captured-log.ts';
import { LINK_HELLO } from './helpers/link-hello.ts';
import { makeTestCa, type TestCa } from './helpers/test-ca.ts';
import { waitFor } from './helpers/wait.ts';

let ca: TestCa;
let relay: RelayServer | null = null;
const logs = useCapturedLogs();
const closers: Array<() => void> = [];

beforeAll(async () => {
  ca = await makeTestCa(['127.0.0.1']);
});
afterAll(async () => {
  await ca?.remove();
});
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await relay?.stop();
  relay = null;
});

/** `ws` trusting only the test CA, as the page's WebSocket. */
function trustingWs(caPem: Buffer): WebSocketConstructor {
  class TrustingWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { ca: caPem });
    }
  }
  return TrustingWebSocket as unknown as WebSocketConstructor;
}


/** Connects to the TLS port; resolves with the socket or rejects with the verification error. */
function tlsClient(port: number, caPem?: Buffer): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ...(caPem && { ca: caPem }) });
    closers.push(() => socket.destroy());
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function startTlsRelay(tlsPort: number | null = 0): Promise<RelayServer> {
  relay = new RelayServer({ host: '127.0.0.1', port: 0, tcpPort: null, heartbeatMs: 0, tls: { cert: ca.cert, key: ca.key }, tlsPort });
  await relay.start();
  return relay;
}

describe('RelayServer with TLS', () => {
  it('serves wss:// and the SPICE TLS port; a verified TLS client reaches the page byte for byte', async () => {
    const r = await startTlsRelay();
    const tlsPort = r.address!.tlsPort!;
    expect(r.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    expect(tlsPort).toBeGreaterThan(0);
    expect(logs.some((l) => l.includes(`tls 127.0.0.1:${tlsPort}`))).toBe(true);

    const WS = trustingWs(ca.caCert);
    const host = await RelayHost.connect({ relayUrl: r.url, relayKey: r.relayKey, WebSocketImpl: WS, reconnect: false });
    closers.push(() => host.close());
    expect(host.tlsPort).toBe(tlsPort);
    const offers: Parameters<Parameters<RelayHost['onStream']>[0]>[0][] = [];
    host.onStream((o) => {
      host.reportAuth(o.stream, true);
      offers.push(o);
    });

    const client = await tlsClient(tlsPort, ca.caCert);
    expect(client.authorized).toBe(true);
    // The relay offers a client to the page once its link request is complete.
    client.write(LINK_HELLO);
    await waitFor('an offer', () => offers.length > 0);
    expect(offers[0]).toMatchObject({ transport: 'tcp', session: 'default' });
    const page = await RelayStream.attach(offers[0]!, WS);
    closers.push(() => page.close());
    const up: Buffer[] = [];
    page.onData((b) => up.push(Buffer.from(b)));
    const down: Buffer[] = [];
    client.on('data', (b: Buffer) => down.push(b));

    client.write('more from the client');
    page.send(new TextEncoder().encode('REDQ from the page'));
    const want = Buffer.concat([Buffer.from(LINK_HELLO), Buffer.from('more from the client')]);
    await waitFor('bytes both ways', () => Buffer.concat(up).length >= want.length && Buffer.concat(down).length >= 18);
    expect(Buffer.concat(up).equals(want)).toBe(true);
    expect(Buffer.concat(down).toString()).toBe('REDQ from the page');
  });

  it('a client that does not trust the CA fails verification; nor can such a page register', async () => {
    // Node's client checks the chain after the handshake, so the relay may or may not see a
    // finished handshake here; spice-gtk aborts inside it (e2e/tls.spec.ts covers that).
    const r = await startTlsRelay();
    await expect(tlsClient(r.address!.tlsPort!)).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    await expect(
      RelayHost.connect({
        relayUrl: r.url,
        relayKey: r.relayKey,
        WebSocketImpl: WebSocket as unknown as WebSocketConstructor,
        timeoutMs: 3000,
        reconnect: false,
      }),
    ).rejects.toThrow(/relay refused session default/);
    expect(r.stats()).toMatchObject({ sessions: 0, streams: 0 });
  });

  it.each(['the SPICE TLS port', 'the wss:// port'])('connections still in their TLS handshake on %s count against the per-address limit', async (which) => {
    relay = new RelayServer({
      host: '127.0.0.1', port: 0, tcpPort: null, heartbeatMs: 0, tls: { cert: ca.cert, key: ca.key }, tlsPort: 0,
      limits: { maxPerAddress: 2 },
    });
    await relay.start();
    const port = which === 'the wss:// port' ? relay.address!.port : relay.address!.tlsPort!;
    const silent = (): { closed: () => boolean } => {
      const s = tcpConnect({ host: '127.0.0.1', port });
      closers.push(() => s.destroy());
      s.on('error', () => {});
      let closed = false;
      s.on('close', () => (closed = true));
      return { closed: () => closed };
    };
    const [a, b] = [silent(), silent()];
    await waitFor('two pending connections', () => relay!.stats().admission.pending === 2);
    const c = silent();
    await waitFor('the third to be refused', () => c.closed());
    expect([a.closed(), b.closed()]).toEqual([false, false]);
    expect(logs.some((l) => /(tls client|connection) 127\.0\.0\.1:\d+ refused/.test(l))).toBe(true);
  });

  it('tlsPort null keeps wss:// without a TLS port; tlsPort without tls and bad credentials are refused', async () => {
    const r = await startTlsRelay(null);
    expect(r.address!.tlsPort).toBeNull();
    expect(r.url.startsWith('wss://')).toBe(true);
    expect(() => new RelayServer({ tlsPort: 5901 })).toThrow(/expected tls credentials with tlsPort/);
    const err = (() => {
      try {
        new RelayServer({ tls: { cert: ca.cert, key: 'not a key' } });
        return null;
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toMatch(/^TLS: expected a PEM certificate and its matching private key/);
    // The CA's key is a real key, but not this certificate's.
    expect(() => new RelayServer({ tls: { cert: ca.cert, key: readFileSync(join(ca.dir, 'ca.key')) } })).toThrow(/key values mismatch/);
  });

  it('drops a plain SPICE client on the TLS port with one line naming it, and logs no part of the key', async () => {
    const r = await startTlsRelay();
    const socket = tcpConnect({ host: '127.0.0.1', port: r.address!.tlsPort! });
    closers.push(() => socket.destroy());
    socket.on('error', () => {});
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('connect', () => socket.write(Buffer.from('REDQ\x02\x00\x00\x00\x02\x00\x00\x00', 'latin1')));
    await waitFor('the relay to drop the client', () => closed);
    const line = (): string | undefined => logs.find((l) => l.includes('[relay-tls] tls client'));
    await waitFor('the handshake failure in the log', () => line() !== undefined);
    expect(line()).toMatch(/tls client 127\.0\.0\.1:\d+ failed the TLS handshake: \S+/);
    expect(r.stats().streams).toBe(0);
    const keyBody = ca.key.toString().split('\n')[1]!;
    expect(logs.join('\n')).not.toContain(keyBody);
  });
});

describe('spkiSha256', () => {
  it('equals openssl\'s SHA-256 of the certificate\'s public key (what Chromium\'s SPKI list takes)', () => {
    const der = execFileSync('openssl', ['x509', '-in', ca.certFile, '-noout', '-pubkey']);
    const spki = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: der });
    const want = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: spki }).toString('base64');
    expect(spkiSha256(ca.cert)).toBe(want);
  });
});

describe('spice-relay CLI TLS flags', () => {
  it('parses --tls-cert, --tls-key and --tls-port', () => {
    const c = parseRelayArgs(['--tls-cert', 'c.pem', '--tls-key=k.pem', '--tls-port', '0']);
    expect(c.tlsFiles).toEqual({ cert: 'c.pem', key: 'k.pem' });
    expect(c.options.tlsPort).toBe(0);
    expect(parseRelayArgs(['--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--tls-port=off']).options.tlsPort).toBeNull();
    expect(parseRelayArgs([]).tlsFiles).toBeUndefined();
  });

  it('refuses half a TLS configuration and bad ports', () => {
    expect(() => parseRelayArgs(['--tls-cert', 'c.pem'])).toThrow(new CliUsageError('expected --tls-cert and --tls-key together, got only --tls-cert'));
    expect(() => parseRelayArgs(['--tls-key', 'k.pem'])).toThrow(/got only --tls-key/);
    expect(() => parseRelayArgs(['--tls-port', '5901'])).toThrow(/expected --tls-cert and --tls-key with --tls-port/);
    expect(() => parseRelayArgs(['--tls-cert', 'c', '--tls-key', 'k', '--tls-port', 'x'])).toThrow(/--tls-port to be a port number 0\.\.65535 or "off"/);
  });

  it('runs with the files: wss:// and a TLS port; a missing file says which flag', async () => {
    relay = await runRelayCli(
      ['--port', '0', '--tcp-port', 'off', '--tls-cert', ca.certFile, '--tls-key', ca.keyFile, '--tls-port', '0'],
      { handleSignals: false },
    );
    expect(relay!.url.startsWith('wss://127.0.0.1:')).toBe(true);
    expect(relay!.address!.tlsPort).toBeGreaterThan(0);
    await expect(
      runRelayCli(['--port', '0', '--tls-cert', ca.certFile, '--tls-key', `${ca.dir}/missing.pem`], { handleSignals: false }),
    ).rejects.toThrow(/--tls-key: expected a readable PEM file, got ENOENT/);
  });
});
