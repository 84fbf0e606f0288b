/** The demo page: hosts the default session on load and says how to connect. */
import { SessionHost } from '../host/session-host.ts';
import { sourceFromParams } from './source-params.ts';
import { addLogListener, createLogger, setLogLevel, type LogLevel } from '../util/logger.ts';

const log = createLogger('demo');
const params = new URLSearchParams(location.search);
const relayUrl = params.get('relay') ?? `ws://${location.hostname || '127.0.0.1'}:8765`;
const session = params.get('session') ?? 'default';
const password = params.get('password') ?? (import.meta.env.VITE_SPICE_PASSWORD as string | undefined) ?? null;
setLogLevel((params.get('log') as LogLevel | null) ?? 'info');

const $ = (id: string): HTMLElement => document.getElementById(id)!;
const logLines: string[] = [];
addLogListener((level, scope, message) => {
  logLines.push(`${new Date().toLocaleTimeString()} ${level} [${scope}] ${message}`);
  if (logLines.length > 200) logLines.shift();
  $('log').textContent = logLines.join('\n');
});

declare global {
  interface Window {
    /** The running session, for tests and the console. */
    spiceHost?: SessionHost;
    spiceHostError?: string;
  }
}

async function main(): Promise<void> {
  try {
    const source = sourceFromParams(params);
    const host = await SessionHost.start({ relayUrl, session, password, source });
    window.spiceHost = host;
    const relayHttp = new URL(relayUrl);
    const native = host.relay.tcpPort ? `spice://${relayHttp.hostname}:${host.relay.tcpPort}` : '(no TCP port on this relay session)';
    const wsUrl = `${relayUrl.replace(/\/$/, '')}${host.relay.clientPath}`;
    $('native-url').textContent = native;
    $('ws-url').textContent = wsUrl;
    const client = new URL('/client.html', location.href);
    client.searchParams.set('url', wsUrl);
    if (password) client.searchParams.set('password', password);
    ($('web-client') as HTMLAnchorElement).href = client.toString();
    $('password-state').textContent = password ? 'required (set with --password)' : 'none: any client may connect';
    $('source').textContent = source.kind === 'v86' ? 'v86 virtual machine' : 'test pattern';
    $('state').textContent = `serving session "${session}"`;
    $('state').className = 'state ok';
    const refresh = async (): Promise<void> => {
      const s = await host.stats();
      $('clients').textContent = String(s.server.clients);
      $('frame').textContent = s.vm ? `${s.vm.mode} ${s.vm.width}x${s.vm.height}` : String(s.frame);
    };
    host.server.onClientConnected(() => void refresh());
    host.server.onClientDisconnected(() => void refresh());
    setInterval(() => void refresh(), 1000);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    window.spiceHostError = message;
    log.error(message);
    $('state').textContent = `error: ${message}`;
    $('state').className = 'state error';
  }
}

void main();
