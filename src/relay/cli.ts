/**
 * `spice-relay` command line: starts a {@link RelayServer} with flags and stops
 * it cleanly on SIGINT/SIGTERM. Other scripts reuse {@link runRelayCli}; the
 * file only runs by itself when executed directly (`tsx src/relay/cli.ts`).
 */
import { realpathSync } from 'node:fs';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createLogger, setLogLevel, type LogLevel } from '../util/logger.ts';
import { RelayServer, type RelayServerOptions } from './relay-server.ts';
import { normalizeOrigin } from './origin.ts';
import { readSecretFile, resolveRelayKey } from './secret-files.ts';
import { loadTlsFiles } from './tls-listener.ts';

const log = createLogger('spice-relay');

/** The `--help` text; documents every option. */
export const RELAY_CLI_HELP = `Usage: spice-relay [options]

Meeting point between SPICE clients and the web page that serves them
(a page cannot listen on sockets). The page connects to /host?session=NAME
with the relay key, spice-html5 connects to ws://HOST:PORT/spice/NAME,
native clients (remote-viewer, spicy) connect over TCP to session "default".

Options:
  --relay-key-file FILE  the key pages must give to host a session; created with a
                       fresh key (mode 0600) if FILE does not exist. Or set
                       SPICE_RELAY_KEY. Default: a key made for this run, written
                       to a private temporary file whose path is printed
  --allowed-origin ORIGIN
                       a browser origin (https://host:port) whose pages may host
                       and whose spice-html5 may connect (repeatable). Default:
                       none; clients that send no Origin (native tools) are let
                       through to the SPICE ticket check
  --trusted-proxy ADDR a reverse proxy in front of the relay (e.g. HAProxy with
                       option forwardfor): its connections count per the client in
                       X-Forwarded-For (repeatable; see deploy/haproxy.cfg)
  --static DIR         serve a built site from DIR on the web port (npm run build:site
                       makes dist-site/): the demo page and the web client with the
                       cross-origin isolation headers; their origin is allowed, and on
                       loopback the page gets the relay key by itself
  --password-file FILE the relay itself checks every client's password against
                       the first line of FILE; pages never learn it. Or set
                       SPICE_PASSWORD. Default: pages check their own, if any
  --host ADDR          address to listen on (default 127.0.0.1). A non-loopback
                       address lets anyone who can reach it connect; a warning
                       is printed.
  --port N             HTTP + WebSocket port for pages and spice-html5
                       (default 8765; 0 = any free port)
  --tcp-port N|off     TCP port for native SPICE clients of session "default"
                       (default 5900; 0 = any free port; "off" = no TCP listener)
  --tls-cert FILE      PEM certificate (chain): the HTTP port becomes HTTPS, so
                       pages and spice-html5 use wss://, and the SPICE TLS port opens
  --tls-key FILE       PEM private key of --tls-cert (read here, never logged)
  --tls-port N|off     SPICE TLS port for native clients of session "default"
                       (default 5901 with --tls-cert; 0 = any free port; "off" = none)
  --log-level LEVEL    debug | info | warn | error (default info)
  -h, --help           show this help and exit

Example:
  spice-relay --relay-key-file relay.key --allowed-origin http://127.0.0.1:5173
  remote-viewer spice://127.0.0.1:5900
  spice-relay --host 192.0.2.10 --tls-cert cert.pem --tls-key key.pem --tcp-port off \\
    --relay-key-file relay.key --allowed-origin https://192.0.2.10:5173
  remote-viewer "spice://192.0.2.10?tls-port=5901" --spice-ca-file=ca.pem
`;

/** A bad command line; the message says which flag, what was expected and what came. */
export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliUsageError';
  }
}

/** What the command line asked for. */
export interface RelayCliConfig {
  help: boolean;
  logLevel: LogLevel;
  options: RelayServerOptions;
  /** --relay-key-file, read (or created) when the relay starts. */
  relayKeyFile?: string;
  /** --password-file, read when the relay starts. */
  passwordFile?: string;
  /** `--tls-cert` / `--tls-key` files (both or neither), read when the relay starts. */
  tlsFiles?: { cert: string; key: string };
}

/** Parses `--flag value` / `--flag=value` arguments (without node and script path). */
export function parseRelayArgs(args: readonly string[]): RelayCliConfig {
  const config: RelayCliConfig = { help: false, logLevel: 'info', options: {} };
  let tlsCert: string | null = null;
  let tlsKey: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-h' || arg === '--help') {
      config.help = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const takeValue = (): string => {
      if (eq >= 0) return arg.slice(eq + 1);
      const v = args[++i];
      if (v === undefined) throw new CliUsageError(`expected a value after ${flag}, got the end of the arguments`);
      return v;
    };
    switch (flag) {
      case '--host': {
        const v = takeValue();
        if (v === '') throw new CliUsageError('expected an address after --host, got an empty string');
        config.options.host = v;
        break;
      }
      case '--port':
        config.options.port = parsePort(flag, takeValue());
        break;
      case '--tcp-port': {
        const v = takeValue();
        config.options.tcpPort = v === 'off' ? null : parsePort(flag, v);
        break;
      }
      case '--relay-key-file':
        config.relayKeyFile = nonEmpty(flag, takeValue());
        break;
      case '--trusted-proxy': {
        const v = takeValue();
        if (!isIP(v)) throw new CliUsageError(`expected an IP address after --trusted-proxy, got ${JSON.stringify(v)}`);
        config.options.trustedProxies = [...(config.options.trustedProxies ?? []), v];
        break;
      }
      case '--static':
        config.options.staticDir = nonEmpty(flag, takeValue());
        break;
      case '--password-file':
        config.passwordFile = nonEmpty(flag, takeValue());
        break;
      case '--allowed-origin': {
        const v = takeValue();
        try {
          normalizeOrigin(v);
        } catch (e) {
          throw new CliUsageError(`--allowed-origin: ${(e as Error).message}`);
        }
        config.options.allowedOrigins = [...(config.options.allowedOrigins ?? []), v];
        break;
      }
      case '--tls-cert':
        tlsCert = nonEmpty(flag, takeValue());
        break;
      case '--tls-key':
        tlsKey = nonEmpty(flag, takeValue());
        break;
      case '--tls-port': {
        const v = takeValue();
        config.options.tlsPort = v === 'off' ? null : parsePort(flag, v);
        break;
      }
      case '--log-level': {
        const v = takeValue();
        if (v !== 'debug' && v !== 'info' && v !== 'warn' && v !== 'error') {
          throw new CliUsageError(`expected --log-level to be debug, info, warn or error, got ${JSON.stringify(v)}`);
        }
        config.logLevel = v;
        break;
      }
      default:
        throw new CliUsageError(
          `unknown argument ${JSON.stringify(arg)}; expected one of --host, --port, --tcp-port, --relay-key-file, ` +
            '--allowed-origin, --password-file, --static, --trusted-proxy, --tls-cert, --tls-key, --tls-port, --log-level, --help',
        );
    }
  }
  if ((tlsCert === null) !== (tlsKey === null)) {
    throw new CliUsageError(`expected --tls-cert and --tls-key together, got only ${tlsCert === null ? '--tls-key' : '--tls-cert'}`);
  }
  if (tlsCert !== null && tlsKey !== null) config.tlsFiles = { cert: tlsCert, key: tlsKey };
  else if (config.options.tlsPort !== undefined) {
    throw new CliUsageError('expected --tls-cert and --tls-key with --tls-port, got neither');
  }
  return config;
}

function nonEmpty(flag: string, v: string): string {
  if (v === '') throw new CliUsageError(`expected a file name after ${flag}, got an empty string`);
  return v;
}

function parsePort(flag: string, v: string): number {
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n > 65535) {
    const orOff = flag === '--tcp-port' || flag === '--tls-port' ? ' or "off"' : '';
    throw new CliUsageError(`expected ${flag} to be a port number 0..65535${orOff}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** Options of {@link runRelayCli} for scripts that embed it. */
export interface RunRelayCliOptions {
  /** Stop the relay and exit the process on SIGINT/SIGTERM. Default true. */
  handleSignals?: boolean;
}

/**
 * Runs the relay as the command line would: parses `args` (the arguments
 * after the script, i.e. `process.argv.slice(2)`), sets the log level, starts
 * the relay and resolves with it once it listens. With `--help` prints the
 * help and resolves with null. Throws {@link CliUsageError} on bad arguments.
 */
export async function runRelayCli(args: readonly string[], opts: RunRelayCliOptions = {}): Promise<RelayServer | null> {
  const config = parseRelayArgs(args);
  if (config.help) {
    process.stdout.write(RELAY_CLI_HELP);
    return null;
  }
  setLogLevel(config.logLevel);
  const { key, where } = resolveRelayKey(config.relayKeyFile, process.env, 'file');
  const password = config.passwordFile ? readSecretFile(config.passwordFile, '--password-file') : process.env.SPICE_PASSWORD || null;
  // Nothing this process starts later may inherit the secrets.
  delete process.env.SPICE_RELAY_KEY;
  delete process.env.SPICE_PASSWORD;
  if (config.tlsFiles) config.options.tls = loadTlsFiles(config.tlsFiles.cert, config.tlsFiles.key);
  const relay = new RelayServer({ ...config.options, relayKey: key, password });
  await relay.start(); // logs the "spice-relay listening: …" line
  log.info(`relay key: in ${where}; give it to the pages that may host`);
  if (!password) log.info('tickets: checked by each hosting page (no --password-file / SPICE_PASSWORD here)');
  if (opts.handleSignals ?? true) {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn(`${signal} again: exiting without waiting`);
        process.exit(130);
      }
      stopping = true;
      log.info(`${signal}: stopping`);
      relay.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error(`error while stopping: ${err instanceof Error ? err.message : String(err)}`);
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  return relay;
}

/**
 * Entry point for `bin/spice-relay.js` and direct execution: runs the CLI and
 * turns failures into a logged message and an exit code (2 usage, 1 other).
 */
export async function relayCliMain(args: readonly string[]): Promise<void> {
  try {
    await runRelayCli(args);
  } catch (err) {
    if (err instanceof CliUsageError) {
      log.error(`${err.message} (see spice-relay --help)`);
      process.exitCode = 2;
    } else {
      log.error(err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
    }
  }
}

function isDirectRun(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isDirectRun()) void relayCliMain(process.argv.slice(2));
