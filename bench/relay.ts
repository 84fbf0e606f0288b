/**
 * The relay alone, as a separate process (its own memory and CPU measured
 * from /proc): what an idle hosted session costs, and how many bytes a second
 * it forwards from pages to native clients, per CPU second. The numbers behind
 * docs/scaling.md.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { RelayHost } from '../src/transport/relay-host.ts';
import { RelayStream, type StreamOffer } from '../src/transport/relay-stream.ts';
import type { WebSocketConstructor } from '../src/transport/websocket-like.ts';
import { LINK_HELLO } from '../test/helpers/link-hello.ts';
import type { Row } from './run.ts';

const WS = WebSocket as unknown as WebSocketConstructor;
const ROOT = join(import.meta.dirname, '..');

/** Resident memory (bytes) and CPU seconds used so far by a process. */
function usage(pid: number): { rss: number; cpu: number } {
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { rss, cpu: (Number(f[11]) + Number(f[12])) / 100 };
}

async function startRelay(dir: string): Promise<{ pid: number; url: string; tcpPort: number; key: string; stop(): void }> {
  const keyFile = join(dir, 'key');
  const proc = spawn(process.execPath, ['scripts/run.mjs', 'src/relay/cli.ts', '--port', '0', '--tcp-port', '0', '--relay-key-file', keyFile, '--log-level', 'warn'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const started = Date.now();
  // At warn level the relay prints nothing when it starts: wait for its key file, then find its port.
  while (!(() => { try { return readFileSync(keyFile, 'utf8').length > 0; } catch { return false; } })()) {
    if (Date.now() - started > 20_000) throw new Error(`relay did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const ports = await listeningPorts(proc.pid!);
  return { pid: proc.pid!, url: `ws://127.0.0.1:${ports[0]}`, tcpPort: ports[1]!, key: readFileSync(keyFile, 'utf8').trim(), stop: () => proc.kill('SIGTERM') };
}

/** The TCP ports a process listens on, in the order it opened them (web port, then TCP port). */
async function listeningPorts(pid: number): Promise<number[]> {
  for (let i = 0; i < 200; i++) {
    const inodes = new Set<string>();
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const m = /socket:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      }
    } catch {
      /* not yet */
    }
    const ports = readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[3] === '0A' && inodes.has(f[9]!))
      .map((f) => ({ port: parseInt(f[1]!.split(':')[1]!, 16), inode: Number(f[9]) }))
      .sort((a, b) => a.inode - b.inode)
      .map((p) => p.port);
    if (ports.length >= 2) return ports;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('relay ports not found');
}


async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`relay bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Idle sessions: what each costs the relay in memory. */
async function sessionRows(relay: { pid: number; url: string; key: string }): Promise<Row[]> {
  const before = usage(relay.pid).rss;
  const hosts: RelayHost[] = [];
  const n = 1000;
  for (let i = 0; i < n; i++) hosts.push(await RelayHost.connect({ relayUrl: relay.url, session: `s${i}`, relayKey: relay.key, WebSocketImpl: WS, reconnect: false }));
  await new Promise((r) => setTimeout(r, 500));
  const after = usage(relay.pid).rss;
  for (const h of hosts) h.close();
  return [{ section: 'relay', name: `${n} idle hosted sessions`, 'KB/session': Math.round((after - before) / n / 1024), 'relay MB': Math.round(after / 1e6) }];
}

/** Page → native clients through the relay: MB/s and relay CPU per GB, for 1, 10 and 50 clients of one session. */
async function forwardRows(relay: { pid: number; url: string; tcpPort: number; key: string }): Promise<Row[]> {
  const rows: Row[] = [];
  const host = await RelayHost.connect({ relayUrl: relay.url, relayKey: relay.key, WebSocketImpl: WS, reconnect: false });
  const offers: StreamOffer[] = [];
  host.onStream((o) => {
    host.reportAuth(o.stream, true);
    offers.push(o);
  });
  const chunk = new Uint8Array(64 * 1024).fill(7);
  for (const clients of [1, 10, 50]) {
    offers.length = 0;
    const sockets: Socket[] = [];
    let received = 0;
    for (let i = 0; i < clients; i++) {
      // Each from its own loopback address: the relay admits only 8 unauthenticated connections per address.
      const s = connect({ port: relay.tcpPort, host: '127.0.0.1', localAddress: `127.0.1.${i + 1}` });
      s.on('data', (b: Buffer) => (received += b.length));
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
      s.write(LINK_HELLO);
      sockets.push(s);
    }
    await until(() => offers.length >= clients, `${clients} offers (have ${offers.length})`);
    const streams = await Promise.all(offers.map((o) => RelayStream.attach(o, WS)));
    const perClient = Math.round(256e6 / clients);
    const start = Date.now();
    const cpu0 = usage(relay.pid).cpu;
    // Each page socket keeps at most 4 MiB queued, as the RedWorker's flow control does.
    await Promise.all(
      streams.map(async (st) => {
        for (let sent = 0; sent < perClient; sent += chunk.length) {
          while (st.bufferedAmount > 4 * 1024 * 1024) await new Promise((r) => setTimeout(r, 1));
          st.send(chunk);
        }
      }),
    );
    await until(() => received >= clients * perClient - clients * chunk.length, `all bytes at the clients (have ${received})`, 120_000);
    const seconds = (Date.now() - start) / 1000;
    const cpu = usage(relay.pid).cpu - cpu0;
    rows.push({
      section: 'relay',
      name: `page → ${clients} native client(s)`,
      'MB/s': Math.round(received / 1e6 / seconds),
      'relay CPU s/GB': +((cpu / received) * 1e9).toFixed(2),
    });
    for (const st of streams) st.close();
    for (const s of sockets) s.destroy();
  }
  host.close();
  return rows;
}

/** Both measurements against a relay in its own process. */
export async function relayRows(): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'relay-bench-'));
  const relay = await startRelay(dir);
  try {
    return [...(await sessionRows(relay)), ...(await forwardRows(relay))];
  } finally {
    relay.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
