/**
 * Shared by `npm start` and `npm run host`: parses the options, starts the
 * relay and the Vite server for the demo page, and stops both cleanly.
 */
import { createReadStream, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { createServer, type Plugin, type ViteDevServer } from 'vite';
import { RelayServer } from '../src/relay/relay-server.ts';
import { loadTlsFiles, spkiSha256 } from '../src/relay/tls-listener.ts';
import { isLoopbackHost, urlHost } from '../src/relay/net-util.ts';
import { launcherCredentialsPlugin } from './page-server.ts';
import { readSecretFile, resolveRelayKey } from '../src/relay/secret-files.ts';
import { GUESTS } from '../src/sources/v86/guest-catalog.ts';
import { IMAGE_COMPRESSIONS, JPEG_MODES } from '../src/worker/image-encoder.ts';
import { STREAMING_MODES } from '../src/worker/video-stream.ts';
import { parseToneHz } from '../src/sound/test-tone.ts';
import { createLogger, setLogLevel, type LogLevel } from '../src/util/logger.ts';

const log = createLogger('serve');

export interface ServeOptions {
  help: boolean;
  headless: boolean;
  host: string;
  port: number;
  relayPort: number;
  tcpPort: number | null;
  password: string | null;
  /** Where the password came from (argv is visible to every user through `ps`). */
  passwordFrom: 'file' | 'env' | 'argv' | null;
  /** Serve off loopback without a password (the operator insisted). */
  insecureNoPassword: boolean;
  /** The relay key's file (created with a fresh key if missing); else SPICE_RELAY_KEY or a key made for this run. */
  relayKeyFile: string | null;
  /** More browser origins the relay lets host and connect (besides this page server's own). */
  allowedOrigins: string[];
  /** Host on this existing relay (ws:// or wss://) instead of starting one. */
  relayUrl: string | null;
  session: string;
  logLevel: LogLevel;
  /** Built-in guest name or a local disk image path. */
  guest: string | null;
  kernel: string | null;
  initrd: string | null;
  cmdline: string | null;
  memoryMB: number | null;
  imageCompression: string | null;
  streaming: string | null;
  jpeg: string | null;
  /** `--tone HZ`: the test pattern plays a sine of HZ on the playback channel. */
  toneHz: number | null;
  /** `--sound`: clients hear the VM's Sound Blaster 16. */
  vmSound: boolean;
  /** `--tls-cert` / `--tls-key` (both or neither): https page, wss relay, SPICE TLS port. */
  tlsCert: string | null;
  tlsKey: string | null;
  /** SPICE TLS port with TLS on; null = off. */
  tlsPort: number | null;
}

/** The catalogued guests, plus "bios" (SeaBIOS with no disk). */
export const GUEST_NAMES: readonly string[] = [...GUESTS.map((g) => g.name), 'bios'];

export const SERVE_HELP = `Options:
  --password-file FILE clients must give the password in FILE (first line). Or set the
                       SPICE_PASSWORD environment variable. Default: none, anyone who
                       can reach the ports may connect (a warning says so); off loopback
                       a password is required unless --insecure-no-password
  --password TEXT      the same, but every user of this machine sees it (ps): avoid
  --insecure-no-password
                       serve off loopback without a password
  --relay-key-file FILE
                       the key pages need to host on the relay (created with a fresh
                       key if FILE does not exist). Or SPICE_RELAY_KEY. Default: a key
                       made for this run, handed to the page without a URL or a file
  --relay URL          host on an existing relay (ws://HOST:PORT or wss://…) instead of
                       starting one; needs its key (--relay-key-file or SPICE_RELAY_KEY),
                       and the relay must allow this page server's origin; the relay
                       checks the password, if it has one (spice-relay --password-file)
  --allowed-origin ORIGIN
                       another browser origin (https://host:port) that may host on the
                       relay and connect spice-html5 to it (repeatable; this page
                       server's own origin is always allowed)
  --host ADDR          address for the page, the relay and the TCP port (default 127.0.0.1)
  --port N             port of the demo page (default 5173)
  --relay-port N       relay WebSocket port (default 8765)
  --tcp-port N|off     TCP port for remote-viewer/spicy (default 5900)
  --session NAME       relay session name (default "default"; only it gets the TCP port)
  --guest NAME|PATH    serve a VM: a built-in guest (graphics, text, linux, bios) or a
                       disk image file (floppy up to 2.88 MB, hard disk, or .iso CD-ROM);
                       default: the test pattern
  --kernel PATH        boot a Linux kernel (bzImage) instead of a disk; with
  --initrd PATH        its initramfs, and
  --cmdline TEXT       its command line
  --memory MB          VM memory (default 64, 128 for kernels and linux)
  --image-compression off|lz|quic|lz4|auto
                       image codec (default auto: LZ for screen-like areas, QUIC for
                       photo-like ones; lz4 only reaches clients that support it)
  --streaming off|all|filter
                       video streams for areas that keep changing (default filter: only
                       photo-like ones; all: any; off: never), sent as MJPEG
  --jpeg auto|always|never
                       lossy JPEG for photo-like areas (default auto: only to clients that
                       read slower than 10 Mbit/s; such areas are resent losslessly once
                       they stay unchanged for a second)
  --tone HZ            the test pattern plays a sine of HZ (20..20000) to clients'
                       playback channels (default: no sound, no playback channel)
  --sound              with a VM: clients hear its Sound Blaster 16 (a playback channel
                       is offered; default off)
  --tls-cert FILE      PEM certificate: the page is served over https, the relay over
  --tls-key FILE       wss (same ports), and a SPICE TLS port opens; the key is its
                       private key (read by this process only, never served or logged)
  --tls-port N|off     SPICE TLS port for remote-viewer/spicy (default 5901 with TLS)
  --log-level LEVEL    debug | info | warn | error (default info)
  -h, --help           show this help
`;

export function parseServeArgs(argv: readonly string[]): ServeOptions {
  const o: ServeOptions = {
    help: false,
    headless: false,
    host: '127.0.0.1',
    port: 5173,
    relayPort: 8765,
    tcpPort: 5900,
    password: null,
    passwordFrom: null,
    insecureNoPassword: false,
    relayKeyFile: null,
    allowedOrigins: [],
    relayUrl: null,
    session: 'default',
    logLevel: 'info',
    guest: null,
    kernel: null,
    initrd: null,
    cmdline: null,
    memoryMB: null,
    imageCompression: null,
    streaming: null,
    jpeg: null,
    toneHz: null,
    vmSound: false,
    tlsCert: null,
    tlsKey: null,
    tlsPort: 5901,
  };
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 0 || n > 65535) {
      throw new Error(`${flag}: expected a port number 0..65535, got ${v === undefined ? 'nothing' : `"${v}"`}`);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '-h':
      case '--help':
        o.help = true;
        break;
      case '--headless':
        o.headless = true;
        break;
      case '--password':
        o.password = value() ?? '';
        o.passwordFrom = 'argv';
        break;
      case '--password-file': {
        const v = value();
        if (!v) throw new Error('--password-file: expected a file name');
        o.password = readSecretFile(v, '--password-file');
        o.passwordFrom = 'file';
        break;
      }
      case '--insecure-no-password':
        o.insecureNoPassword = true;
        break;
      case '--relay-key-file': {
        const v = value();
        if (!v) throw new Error('--relay-key-file: expected a file name');
        o.relayKeyFile = v;
        break;
      }
      case '--relay': {
        const v = value();
        if (!v || !/^wss?:\/\/[^/]+\/?$/.test(v)) throw new Error(`--relay: expected a relay URL such as ws://HOST:8765, got "${v ?? ''}"`);
        o.relayUrl = v.replace(/\/$/, '');
        break;
      }
      case '--allowed-origin': {
        const v = value();
        if (!v) throw new Error('--allowed-origin: expected an origin such as https://example.org:8443');
        o.allowedOrigins.push(v);
        break;
      }
      case '--host':
        o.host = value() ?? o.host;
        break;
      case '--port':
        o.port = num(flag, value());
        break;
      case '--relay-port':
        o.relayPort = num(flag, value());
        break;
      case '--tcp-port': {
        const v = value();
        o.tcpPort = v === 'off' ? null : num(flag, v);
        break;
      }
      case '--session':
        o.session = value() ?? o.session;
        break;
      case '--guest':
        o.guest = value() ?? null;
        break;
      case '--kernel':
        o.kernel = value() ?? null;
        break;
      case '--initrd':
        o.initrd = value() ?? null;
        break;
      case '--cmdline':
        o.cmdline = value() ?? null;
        break;
      case '--memory': {
        const v = value();
        const n = Number(v);
        if (!Number.isInteger(n) || n < 16 || n > 2048) throw new Error(`--memory: expected MiB from 16 to 2048, got "${v}"`);
        o.memoryMB = n;
        break;
      }
      case '--image-compression': {
        const v = value();
        if (!v || !(IMAGE_COMPRESSIONS as readonly string[]).includes(v)) {
          throw new Error(`--image-compression: expected one of ${IMAGE_COMPRESSIONS.join(', ')}, got "${v ?? ''}"`);
        }
        o.imageCompression = v;
        break;
      }
      case '--streaming': {
        const v = value();
        if (!v || !(STREAMING_MODES as readonly string[]).includes(v)) {
          throw new Error(`--streaming: expected one of ${STREAMING_MODES.join(', ')}, got "${v ?? ''}"`);
        }
        o.streaming = v;
        break;
      }
      case '--jpeg': {
        const v = value();
        if (!v || !(JPEG_MODES as readonly string[]).includes(v)) {
          throw new Error(`--jpeg: expected one of ${JPEG_MODES.join(', ')}, got "${v ?? ''}"`);
        }
        o.jpeg = v;
        break;
      }
      case '--sound':
        o.vmSound = true;
        break;
      case '--tone':
        o.toneHz = parseToneHz(value() ?? '');
        break;
      case '--log-level':
        o.logLevel = (value() ?? 'info') as LogLevel;
        break;
      case '--tls-cert':
        o.tlsCert = value() || null;
        break;
      case '--tls-key':
        o.tlsKey = value() || null;
        break;
      case '--tls-port': {
        const v = value();
        o.tlsPort = v === 'off' ? null : num(flag, v);
        break;
      }
      default:
        throw new Error(`unknown option "${argv[i]}" (see --help)`);
    }
  }
  if ((o.tlsCert === null) !== (o.tlsKey === null)) {
    throw new Error(`--tls-cert and --tls-key: expected both, got only ${o.tlsCert === null ? '--tls-key' : '--tls-cert'}`);
  }
  const fromEnv = process.env.SPICE_PASSWORD;
  if (o.passwordFrom === null && fromEnv) {
    o.password = fromEnv;
    o.passwordFrom = 'env';
  }
  if (o.password === '') throw new Error('the password is empty: give a non-empty one, or none');
  return o;
}

export interface Served {
  pageUrl: string;
  relayUrl: string;
  /** How spice-gtk reaches this session through the relay as its proxy (plain relays only). */
  proxyCommand: string | null;
  /** The key pages need to host on the relay; hand it to the page, never print it. */
  relayKey: string | null;
  nativeUrl: string | null;
  /** `spice://HOST?tls-port=N` with TLS on, else null. */
  tlsUrl: string | null;
  webSocketUrl: string;
  /** Chromium flags that trust this server's own certificate (and no other); empty without TLS. */
  chromiumTrustArgs: string[];
  stop(): Promise<void>;
}

/** Files given on the command line, served to the page under /local/NAME. */
function localFilesPlugin(files: Map<string, string>): Plugin {
  return {
    name: 'spice-web-server-local-files',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const m = /^\/local\/([^/?]+)/.exec(req.url ?? '');
        const path = m ? files.get(decodeURIComponent(m[1]!)) : undefined;
        if (!path) return next();
        res.setHeader('Content-Type', 'application/octet-stream');
        res.setHeader('Content-Length', String(statSync(path).size));
        res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
        if (req.method === 'HEAD') return void res.end();
        createReadStream(path).pipe(res);
      });
    },
  };
}

/** Turns --guest/--kernel/--initrd into page query parameters, registering local files. */
export function guestQuery(o: ServeOptions, files: Map<string, string>): URLSearchParams {
  const q = new URLSearchParams();
  const local = (path: string): string => {
    const full = resolve(path);
    let size: number;
    try {
      size = statSync(full).size;
    } catch {
      throw new Error(`no such file: ${full}`);
    }
    if (size === 0) throw new Error(`${full} is empty`);
    const name = `${files.size}-${basename(full)}`;
    files.set(name, full);
    return `/local/${encodeURIComponent(name)}`;
  };
  if (o.kernel) {
    q.set('bzimage', local(o.kernel));
    if (o.initrd) q.set('initrd', local(o.initrd));
    if (o.cmdline) q.set('cmdline', o.cmdline);
  } else if (o.guest && GUEST_NAMES.includes(o.guest)) {
    if (o.guest === 'bios') q.set('vm', 'bios');
    else q.set('guest', o.guest);
  } else if (o.guest) {
    const url = local(o.guest);
    const size = statSync(resolve(o.guest)).size;
    q.set(/\.iso$/i.test(o.guest) ? 'cdrom' : size <= 2949120 ? 'fda' : 'hda', url);
  }
  if (o.memoryMB) q.set('memory', String(o.memoryMB));
  if (o.imageCompression) q.set('compression', o.imageCompression);
  if (o.streaming) q.set('streaming', o.streaming);
  if (o.jpeg) q.set('jpeg', o.jpeg);
  if (o.toneHz !== null) q.set('tone', String(o.toneHz));
  if (o.vmSound) q.set('sound', '1');
  return q;
}

/** Says what the secrets allow, and refuses what would be unsafe. */
function checkExposure(o: ServeOptions): void {
  if (o.passwordFrom === 'argv') {
    log.warn('--password on the command line is visible to every user of this machine (ps); use --password-file FILE or SPICE_PASSWORD');
  }
  if (o.password) return;
  if (!isLoopbackHost(o.host) && !o.insecureNoPassword) {
    throw new Error(
      `--host ${o.host} exposes the session to the network: give a password (--password-file FILE or SPICE_PASSWORD), ` +
        'or --insecure-no-password if anyone who can reach it may watch and type',
    );
  }
  log.warn(
    `NO PASSWORD: anyone who can reach ${o.host} may connect, watch the screen and type into it ` +
      '(set one with --password-file FILE or SPICE_PASSWORD)',
  );
}

/** The key for an existing relay (--relay): its operator's, from a file or the environment, never made up. */
function existingRelayKey(o: ServeOptions): string {
  if (o.password) {
    throw new Error('--relay: the relay checks passwords; give it one there (spice-relay --password-file FILE), not here');
  }
  if (!o.relayKeyFile && !process.env.SPICE_RELAY_KEY) {
    throw new Error("--relay: expected the relay's key in --relay-key-file FILE or SPICE_RELAY_KEY");
  }
  if (o.relayKeyFile) return readSecretFile(o.relayKeyFile, '--relay-key-file');
  return process.env.SPICE_RELAY_KEY!;
}

/** Starts relay + demo page server (or only the page server, hosting on the relay `--relay` names). */
export async function serve(o: ServeOptions): Promise<Served> {
  const files = new Map<string, string>();
  const query = guestQuery(o, files);
  setLogLevel(o.logLevel);
  if (!o.relayUrl) checkExposure(o);
  const onLoopback = isLoopbackHost(o.host);
  // On loopback the launcher hands the key to its page; elsewhere a person types it in, so it goes to a file.
  const { key: relayKey, where } = o.relayUrl
    ? { key: existingRelayKey(o), where: 'the relay operator\'s key' }
    : resolveRelayKey(o.relayKeyFile, process.env, onLoopback ? 'memory' : 'file');
  if (!onLoopback && !o.relayUrl) log.info(`relay key: in ${where}; a page opened from another machine asks for it`);
  // Secrets stay in this process: no child (Chromium, npm scripts) inherits them.
  delete process.env.SPICE_PASSWORD;
  delete process.env.SPICE_RELAY_KEY;
  const tls = o.tlsCert && o.tlsKey ? loadTlsFiles(o.tlsCert, o.tlsKey) : null;
  const scheme = tls ? 'https' : 'http';
  const pageOrigin = `${scheme}://${urlHost(o.host)}:${o.port}`;
  const origins = [pageOrigin, ...o.allowedOrigins];
  // The same page opened as localhost instead of 127.0.0.1 is the same server.
  if (o.host === '127.0.0.1' || o.host === 'localhost') origins.push(`${scheme}://localhost:${o.port}`, `${scheme}://127.0.0.1:${o.port}`);
  const relay = o.relayUrl
    ? null
    : new RelayServer({
        host: o.host,
        port: o.relayPort,
        tcpPort: o.tcpPort,
        relayKey,
        allowedOrigins: origins,
        // The relay checks tickets itself: the page never learns the password.
        password: o.password,
        ...(tls && { tls, tlsPort: o.tlsPort }),
      });
  const ports = relay ? await relay.start() : { port: null, tcpPort: null, tlsPort: null };
  if (o.relayUrl) log.info(`hosting on the relay at ${o.relayUrl}; it must allow this page's origin ${pageOrigin} (spice-relay --allowed-origin)`);
  let vite: ViteDevServer;
  // Vite exits the process on SIGTERM (code 143) and when stdin ends; these scripts
  // own the process lifecycle (relay, browser, then exit 0), so its listeners are detached.
  const sigterm = new Set(process.listeners('SIGTERM'));
  const stdinEnd = new Set(process.stdin.listeners('end'));
  try {
    vite = await createServer({
      configFile: join(import.meta.dirname, '..', 'vite.config.ts'),
      root: join(import.meta.dirname, '..'),
      logLevel: 'warn',
      server: { host: o.host, port: o.port, strictPort: true, ...(tls && { https: tls }) },
      plugins: [localFilesPlugin(files), launcherCredentialsPlugin(() => ({ relayKey }))],
    });
    await vite.listen();
    for (const l of process.listeners('SIGTERM')) if (!sigterm.has(l)) process.off('SIGTERM', l);
    for (const l of process.stdin.listeners('end')) if (!stdinEnd.has(l)) process.stdin.off('end', l as () => void);
  } catch (e) {
    await relay?.stop();
    throw e;
  }
  const relayUrl = relay ? relay.url : o.relayUrl!;
  const page = new URL(`${pageOrigin}/`);
  if (!relay || ports.port !== 8765 || o.host !== '127.0.0.1') page.searchParams.set('relay', relayUrl);
  if (o.session !== 'default') page.searchParams.set('session', o.session);
  for (const [k, v] of query) page.searchParams.set(k, v);
  const relayAddress = new URL(relayUrl);
  return {
    pageUrl: page.toString(),
    relayUrl,
    relayKey,
    proxyCommand: relayAddress.protocol === 'ws:' ? `SPICE_PROXY=http://${relayAddress.host} remote-viewer spice://${o.session}:5900` : null,
    nativeUrl: ports.tcpPort !== null && o.session === 'default' ? `spice://${o.host}:${ports.tcpPort}` : null,
    tlsUrl: ports.tlsPort !== null && o.session === 'default' ? `spice://${o.host}?tls-port=${ports.tlsPort}` : null,
    webSocketUrl: `${relayUrl}/spice/${o.session}`,
    chromiumTrustArgs: tls ? [`--ignore-certificate-errors-spki-list=${spkiSha256(tls.cert)}`] : [],
    async stop() {
      await vite.close();
      await relay?.stop();
    },
  };
}

/** Runs until SIGINT/SIGTERM, then stops everything and exits 0. */
export function stopOnSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log.info(`${sig}: stopping`);
    stop().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error(`stop failed: ${(e as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}
