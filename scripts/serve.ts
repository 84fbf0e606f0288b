/**
 * Shared by `npm start` and `npm run host`: parses the options, starts the
 * relay and the Vite server for the demo page, and stops both cleanly.
 */
import { join } from 'node:path';
import { createServer, type ViteDevServer } from 'vite';
import { RelayServer } from '../src/relay/relay-server.ts';
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
  session: string;
  logLevel: LogLevel;
}

export const SERVE_HELP = `Options:
  --password TEXT      clients must give this password (default: none, anyone may connect)
  --host ADDR          address for the page, the relay and the TCP port (default 127.0.0.1)
  --port N             port of the demo page (default 5173)
  --relay-port N       relay WebSocket port (default 8765)
  --tcp-port N|off     TCP port for remote-viewer/spicy (default 5900)
  --session NAME       relay session name (default "default"; only it gets the TCP port)
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
    session: 'default',
    logLevel: 'info',
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
        break;
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
      case '--log-level':
        o.logLevel = (value() ?? 'info') as LogLevel;
        break;
      default:
        throw new Error(`unknown option "${argv[i]}" (see --help)`);
    }
  }
  return o;
}

export interface Served {
  pageUrl: string;
  relayUrl: string;
  nativeUrl: string | null;
  webSocketUrl: string;
  stop(): Promise<void>;
}

/** Starts relay + demo page server. */
export async function serve(o: ServeOptions): Promise<Served> {
  setLogLevel(o.logLevel);
  const relay = new RelayServer({ host: o.host, port: o.relayPort, tcpPort: o.tcpPort });
  const ports = await relay.start();
  if (o.password) process.env.VITE_SPICE_PASSWORD = o.password;
  let vite: ViteDevServer;
  try {
    vite = await createServer({
      configFile: join(import.meta.dirname, '..', 'vite.config.ts'),
      root: join(import.meta.dirname, '..'),
      logLevel: 'warn',
      server: { host: o.host, port: o.port, strictPort: true },
    });
    await vite.listen();
  } catch (e) {
    await relay.stop();
    throw e;
  }
  const relayUrl = `ws://${o.host}:${ports.port}`;
  const page = new URL(`http://${o.host}:${o.port}/`);
  if (ports.port !== 8765 || o.host !== '127.0.0.1') page.searchParams.set('relay', relayUrl);
  if (o.session !== 'default') page.searchParams.set('session', o.session);
  return {
    pageUrl: page.toString(),
    relayUrl,
    nativeUrl: ports.tcpPort !== null && o.session === 'default' ? `spice://${o.host}:${ports.tcpPort}` : null,
    webSocketUrl: `${relayUrl}/spice/${o.session}`,
    async stop() {
      await vite.close();
      await relay.stop();
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
