/** The demo page's logic without a DOM: live numbers from stats samples, client addresses, preloading with progress. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { clientAddresses, vvFor } from '../src/demo/connect-panel.ts';
import { virtViewerFile } from '../src/demo/vv-file.ts';
import { formatBytes, formatRate, LiveStatsTracker, type StatsSample } from '../src/demo/live-stats.ts';
import { fileName, preloadSource, type LoadProgress } from '../src/demo/loader.ts';
import { defaultRelayUrl } from '../src/util/default-relay-url.ts';

function sample(o: {
  clients?: number;
  drawables?: number;
  bytes?: Record<number, number>;
  codecs?: Partial<Record<'bitmap' | 'lz' | 'quic' | 'lz4' | 'jpeg', number>>;
  streams?: number;
  frames?: number;
}): StatsSample {
  const byCodec = { bitmap: 0, lz: 0, quic: 0, lz4: 0, jpeg: 0, ...o.codecs };
  return {
    server: { clients: o.clients ?? 0, mainChannels: 0, inputsChannels: 0, remoteChannels: 0, linksInProgress: 0, linkFailures: 0 },
    worker: {
      drawablesProcessed: o.drawables ?? 0,
      images: { images: Object.values(byCodec).reduce((a, b) => a + b, 0), bytesIn: 0, bytesOut: 0, byCodec, rawMultiRow: 0 },
      streams: { active: o.streams ?? 0, started: o.streams ?? 0, framesSent: o.frames ?? 0 },
      displayBacklog: Object.entries(o.bytes ?? {}).map(([id, bytes]) => ({
        sessionId: Number(id), queued: 0, buffered: 0, sent: 0, bytes, bandwidthBps: null, lossyRects: 0,
      })),
    },
  };
}

describe('LiveStatsTracker', () => {
  it('gives rates per second from the deltas of the cumulative counters', () => {
    const t = new LiveStatsTracker();
    const first = t.update(sample({ clients: 1, drawables: 100, bytes: { 1: 5000 }, frames: 10, streams: 1 }), 0);
    expect(first).toMatchObject({ clients: 1, updatesPerSecond: 0, bytesPerSecond: 0, bytesTotal: 5000, streamsActive: 1 });
    const next = t.update(sample({ clients: 1, drawables: 130, bytes: { 1: 25_000 }, frames: 35, streams: 1 }), 2000);
    expect(next.updatesPerSecond).toBe(15);
    expect(next.bytesPerSecond).toBe(10_000);
    expect(next.streamFramesPerSecond).toBe(12.5);
    expect(next.bytesTotal).toBe(25_000);
  });

  it('counts bandwidth per client: one leaving does not make it negative, one arriving counts in full', () => {
    const t = new LiveStatsTracker();
    t.update(sample({ clients: 2, bytes: { 1: 1_000_000, 2: 2000 } }), 0);
    const s = t.update(sample({ clients: 2, bytes: { 2: 3000, 3: 500 } }), 1000);
    expect(s.bytesPerSecond).toBe(1000 + 500);
  });

  it('shows the codec mix of the last seconds, or of everything when nothing went out lately', () => {
    const t = new LiveStatsTracker();
    expect(t.update(sample({}), 0)).toMatchObject({ codecs: [], codecWindow: 'none' });
    const s = t.update(sample({ codecs: { lz: 30, quic: 10 } }), 1000);
    expect(s.codecWindow).toBe('recent');
    expect(s.codecs).toEqual([
      { codec: 'lz', images: 30, percent: 75 },
      { codec: 'quic', images: 10, percent: 25 },
    ]);
    // Six quiet samples later the window holds no change: the totals are shown.
    let quiet = s;
    for (let i = 2; i < 8; i++) quiet = t.update(sample({ codecs: { lz: 30, quic: 10 } }), i * 1000);
    expect(quiet.codecWindow).toBe('total');
    expect(quiet.codecs.map((c) => c.codec)).toEqual(['lz', 'quic']);
    const burst = t.update(sample({ codecs: { lz: 30, quic: 10, jpeg: 5 } }), 9000);
    expect(burst).toMatchObject({ codecWindow: 'recent', codecs: [{ codec: 'jpeg', images: 5, percent: 100 }] });
  });

  it('formats sizes and rates', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(300 * 1024)).toBe('300 KB');
    expect(formatBytes(5 * 1048576)).toBe('5.0 MB');
    expect(formatRate(2.5 * 1048576)).toBe('2.5 MB/s');
  });
});

describe('.vv files', () => {
  it('reach any session through the relay as a proxy; a password only when given, and then the file deletes itself', () => {
    const info = { relayUrl: 'ws://192.0.2.7:8765', session: 'class-1', passwordRequired: true, tcpPort: null, clientPath: '/spice/class-1' };
    const a = clientAddresses(info, 'http://192.0.2.7:5173/');
    expect(a.proxied).toEqual({ proxy: 'http://192.0.2.7:8765', uri: 'spice://class-1:5900' });
    const vv = vvFor(info, a)!;
    expect(virtViewerFile(vv)).toBe(
      '[virt-viewer]\ntype=spice\nhost=class-1\nport=5900\nproxy=http://192.0.2.7:8765\ntitle=spice-web-server: class-1\n',
    );
    expect(virtViewerFile({ ...vv, password: 'pw' })).toMatch(/\npassword=pw\ndelete-this-file=1\n$/);
    expect(() => virtViewerFile({ ...vv, password: 'a\nproxy=http://evil' })).toThrow(/one line/);
  });

  it('over TLS: no proxy (spice-gtk speaks plain HTTP to proxies); the TLS port of "default"', () => {
    const info = { relayUrl: 'wss://192.0.2.7:8765', session: 'default', passwordRequired: false, tcpPort: null, tlsPort: 5901, clientPath: '/spice/default' };
    const a = clientAddresses(info, 'https://192.0.2.7:5173/');
    expect(a.proxied).toBeNull();
    expect(vvFor(info, a)).toMatchObject({ host: '192.0.2.7', tlsPort: 5901 });
    expect(vvFor({ ...info, session: 'other', tlsPort: null }, a)).toBeNull();
  });
});

describe('clientAddresses', () => {
  it('gives the native URL, the WebSocket URL and the web client link, which never carries a password', () => {
    const a = clientAddresses(
      { relayUrl: 'ws://127.0.0.1:8765/', session: 'default', passwordRequired: true, tcpPort: 5900, clientPath: '/spice/default' },
      'http://127.0.0.1:5173/?guest=linux',
    );
    expect(a.native).toBe('spice://127.0.0.1:5900');
    expect(a.webSocket).toBe('ws://127.0.0.1:8765/spice/default');
    const link = new URL(a.webClient);
    expect(link.origin + link.pathname).toBe('http://127.0.0.1:5173/client.html');
    expect(link.searchParams.get('url')).toBe('ws://127.0.0.1:8765/spice/default');
    expect(link.searchParams.has('password')).toBe(false);
  });

  it('has no native URL without a TCP port', () => {
    const a = clientAddresses(
      { relayUrl: 'ws://10.0.0.2:9000', session: 'other', passwordRequired: false, tcpPort: null, clientPath: '/spice/other' },
      'http://10.0.0.2:5173/',
    );
    expect(a.native).toBeNull();
    expect(new URL(a.webClient).searchParams.has('password')).toBe(false);
  });

  it('gives the TLS address and wss:// with the relay on TLS', () => {
    const a = clientAddresses(
      { relayUrl: 'wss://10.0.0.2:8765', session: 'default', passwordRequired: true, tcpPort: null, tlsPort: 5901, clientPath: '/spice/default' },
      'https://10.0.0.2:5173/',
    );
    expect(a.native).toBeNull();
    expect(a.nativeTls).toBe('spice://10.0.0.2?tls-port=5901');
    expect(a.webSocket).toBe('wss://10.0.0.2:8765/spice/default');
    expect(new URL(a.webClient).searchParams.get('url')).toBe('wss://10.0.0.2:8765/spice/default');
  });
});

describe('preloadSource', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('downloads every image URL of a VM with summed progress and hands over the bytes', async () => {
    const files: Record<string, Uint8Array<ArrayBuffer>> = {
      '/.cache/bios/bios.bin': new Uint8Array(1000).fill(1),
      '/.cache/bios/vgabios-stdvga.bin': new Uint8Array(300).fill(2),
      '/guests/text.img': new Uint8Array(700).fill(3),
    };
    vi.stubGlobal('fetch', async (url: string) => {
      const body = files[url];
      return body
        ? new Response(body, { headers: { 'Content-Length': String(body.length) } })
        : new Response('no', { status: 404, statusText: 'Not Found' });
    });
    const seen: LoadProgress[] = [];
    const spec = await preloadSource(
      { kind: 'v86', vm: { bios: { url: '/.cache/bios/bios.bin' }, vgaBios: { url: '/.cache/bios/vgabios-stdvga.bin' }, fda: { url: '/guests/text.img' }, memoryMB: 32 } },
      (p) => seen.push(p),
    );
    if (spec.kind !== 'v86') throw new Error('expected a v86 spec');
    expect(new Uint8Array(spec.vm.bios.buffer!)).toEqual(files['/.cache/bios/bios.bin']);
    expect(new Uint8Array(spec.vm.fda!.buffer!)).toEqual(files['/guests/text.img']);
    expect(spec.vm.memoryMB).toBe(32);
    expect(seen.at(-1)).toMatchObject({ loaded: 2000, total: 2000 });
    expect(seen.every((p, i) => i === 0 || p.loaded >= seen[i - 1]!.loaded)).toBe(true);

    await expect(
      preloadSource({ kind: 'v86', vm: { bios: { url: '/missing.bin' }, vgaBios: { buffer: new ArrayBuffer(1) }, memoryMB: 32 } }, () => {}),
    ).rejects.toThrow('could not download /missing.bin: HTTP 404 Not Found');
  });

  it('leaves other sources alone and names files by their last path part', async () => {
    const spec = { kind: 'test-pattern' as const };
    expect(await preloadSource(spec, () => {})).toBe(spec);
    expect(fileName('/.cache/guests/linux/bzImage?x=1')).toBe('bzImage');
    expect(fileName('/local/0-my%20disk.img')).toBe('0-my disk.img');
  });
});

describe('defaultRelayUrl', () => {
  it('is ws:// on an http page and wss:// on an https page, on the page host at port 8765', () => {
    expect(defaultRelayUrl({ protocol: 'http:', hostname: '127.0.0.1' })).toBe('ws://127.0.0.1:8765');
    expect(defaultRelayUrl({ protocol: 'https:', hostname: '10.0.0.2' })).toBe('wss://10.0.0.2:8765');
    expect(defaultRelayUrl({ protocol: 'file:', hostname: '' })).toBe('ws://127.0.0.1:8765');
  });
});
