/** The demo page: hosts the default session on load and says how to connect. */
import { SessionHost, type SourceSpec } from '../host/session-host.ts';
import { IMAGE_COMPRESSIONS, JPEG_MODES, type ImageCompression, type JpegMode } from '../worker/image-encoder.ts';
import { STREAMING_MODES, type StreamingMode } from '../worker/video-stream.ts';
import { addLogListener, createLogger, setLogLevel, type LogLevel } from '../util/logger.ts';
import { defaultRelayUrl } from '../util/default-relay-url.ts';
import { showConnectPanel } from './connect-panel.ts';
import { $ } from './dom.ts';
import { explain, type Explained } from './errors.ts';
import { LivePanel } from './live-panel.ts';
import { formatBytes } from './live-stats.ts';
import { preloadSource, type LoadProgress } from './loader.ts';
import { MissingFileError, resolveSource, type ResolvedSource } from './source-params.ts';
import { setUpSourcePanel } from './source-panel.ts';
import { setUpVmControls } from './vm-panel.ts';
import { setUpAgentPanel } from './agent-panel.ts';
import { setUpSoundPanel } from './sound-panel.ts';

const log = createLogger('demo');
const params = new URLSearchParams(location.search);
const relayUrl = params.get('relay') ?? defaultRelayUrl(location);
const session = params.get('session') ?? 'default';
setLogLevel((params.get('log') as LogLevel | null) ?? 'info');

const logLines: string[] = [];
addLogListener((level, scope, message) => {
  logLines.push(`${new Date().toLocaleTimeString()} ${level} [${scope}] ${message}`);
  if (logLines.length > 200) logLines.shift();
  const pre = $('log');
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.textContent = logLines.join('\n');
  if (atEnd) pre.scrollTop = pre.scrollHeight; // follow new lines unless the reader scrolled up
});

declare global {
  interface Window {
    /** The running session, for tests and the console. */
    spiceHost?: SessionHost;
    spiceHostError?: string;
    /** What the page serves (its key names the saved-state slot). */
    spiceSource?: { key: string; title: string };
  }
}

/** Shows a notice above the panels: `warn` when the page carries on, `error` when it cannot serve. */
function banner(x: Explained, level: 'warn' | 'error'): void {
  $('banner-title').textContent = x.title;
  $('banner-detail').textContent = x.detail;
  const fix = $('banner-fix');
  fix.replaceChildren();
  // `backticked` parts are commands or values to type: set them as code.
  (x.fix ?? '').split(/(`[^`]+`)/).forEach((part) => {
    if (!part) return;
    if (part.startsWith('`')) {
      const code = document.createElement('code');
      code.textContent = part.slice(1, -1);
      fix.append(code);
    } else fix.append(part);
  });
  $('banner').className = `banner ${level}`;
  $('banner').hidden = false;
}

function state(text: string, kind: 'busy' | 'ok' | 'error'): void {
  $('state').textContent = text;
  $('state').className = `state ${kind}`;
}

/** Shows what is loading; `fraction` null draws an indeterminate bar; `text` null hides the notice. */
function progress(text: string | null, fraction: number | null = null): void {
  $('progress').hidden = text === null;
  if (text === null) return;
  $('progress-text').textContent = text;
  const bar = $<HTMLProgressElement>('progress-bar');
  if (fraction === null) bar.removeAttribute('value');
  else bar.value = Math.min(1, fraction);
}

function downloadProgress(p: LoadProgress): void {
  const what = p.files.join(', ');
  if (p.total) progress(`Loading ${what}: ${formatBytes(p.loaded)} of ${formatBytes(p.total)} (${Math.min(100, Math.floor((100 * p.loaded) / p.total))}%)`, p.loaded / p.total);
  else progress(`Loading ${what}: ${formatBytes(p.loaded)}…`);
}

/** Reloads the page serving another source; connection settings are kept. */
function serve(query: string): void {
  const next = new URLSearchParams(query);
  for (const k of ['relay', 'session', 'log', 'compression', 'streaming', 'jpeg', 'sound']) {
    const v = params.get(k);
    if (v !== null) next.set(k, v);
  }
  location.search = next.toString();
}

/** A query parameter that must be one of `allowed`; `env` is what `npm start` passed through Vite. */
function choice<T extends string>(name: string, allowed: readonly T[], env: string | undefined, fallback: T): T {
  const v = params.get(name) ?? env ?? fallback;
  if (!(allowed as readonly string[]).includes(v)) throw new Error(`${name}: expected one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

/** Where a relay key typed into this page is kept: this tab only, this origin only. */
const RELAY_KEY_ITEM = 'spice-web-server:relay-key';

/** Asks for the relay key when the relay wants one the launcher could not hand over (a page opened from afar). */
function askForRelayKey(): void {
  const form = $<HTMLFormElement>('relay-key-form');
  form.hidden = false;
  $<HTMLInputElement>('relay-key').focus();
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(RELAY_KEY_ITEM, $<HTMLInputElement>('relay-key').value.trim());
    location.reload();
  });
}

async function start(spec: SourceSpec): Promise<SessionHost> {
  const env = import.meta.env as Record<string, string | undefined>;
  // The launcher (npm start, npm run host) keeps the password at the relay; the page
  // gets only the relay key, from the launcher (SessionHost asks it) or typed in here.
  const typedKey = sessionStorage.getItem(RELAY_KEY_ITEM);
  return SessionHost.start({
    relayUrl,
    session,
    ...(typedKey ? { relayKey: typedKey } : {}),
    source: spec,
    imageCompression: choice<ImageCompression>('compression', IMAGE_COMPRESSIONS, env.VITE_SPICE_IMAGE_COMPRESSION, 'auto'),
    streaming: choice<StreamingMode>('streaming', STREAMING_MODES, env.VITE_SPICE_STREAMING, 'filter'),
    jpeg: choice<JpegMode>('jpeg', JPEG_MODES, env.VITE_SPICE_JPEG, 'auto'),
  });
}

/** Resolves what the URL asks for; without a BIOS or guest files, says what to run and serves the test pattern. */
async function chooseSource(): Promise<ResolvedSource> {
  try {
    return await resolveSource(params);
  } catch (e) {
    if (!(e instanceof MissingFileError)) throw e;
    const x = explain(e, { relayUrl, session });
    banner({ ...x, detail: `${x.detail} Serving the test pattern meanwhile.` }, 'warn');
    log.warn(e.message);
    return { spec: { kind: 'test-pattern' }, key: 'test-pattern', title: 'Test pattern' };
  }
}

async function main(): Promise<void> {
  const current = [...params.entries()]
    .filter(([k]) => ['guest', 'image', 'vm'].includes(k))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  void setUpSourcePanel(current, serve, (text) => progress(text)).catch((e: unknown) =>
    log.warn(`source list: ${(e as Error).message}`),
  );
  try {
    state('loading…', 'busy');
    progress(params.has('image') ? 'Reading the image from this browser…' : 'Finding the source…');
    const source = await chooseSource();
    window.spiceSource = { key: source.key, title: source.title };
    $('source').textContent = source.title;
    const spec = await preloadSource(source.spec, downloadProgress);
    progress(spec.kind === 'v86' ? 'Starting the virtual machine…' : 'Starting the server…');
    const host = await start(spec);
    window.spiceHost = host;
    progress(null);
    showConnectPanel({
      relayUrl,
      session,
      passwordRequired: host.relay.ticketCheck === 'relay',
      tcpPort: host.relay.tcpPort,
      clientPath: host.relay.clientPath,
      tlsPort: host.relay.tlsPort,
    });
    state(`serving session "${session}"`, 'ok');
    host.onRelayStatus((s) => {
      if (s.state === 'registered') state(`serving session "${session}"`, 'ok');
      else if (s.state === 'reconnecting') state(`relay connection lost; registering again in ${Math.ceil(s.retryInMs / 1000)} s`, 'busy');
      else state(`not serving: ${s.reason}`, 'error');
    });
    new LivePanel(host, { preview: !host.workload }).start();
    setUpAgentPanel(host);
    setUpSoundPanel(host, () => serve('tone=440'));
    await setUpVmControls(host, source);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    window.spiceHostError = message;
    log.error(message);
    progress(null);
    state('not serving', 'error');
    $('preview-note').textContent = 'nothing is served';
    banner(explain(e, { relayUrl, session }), 'error');
    if (/relay key/.test(message)) askForRelayKey();
  }
}

void main();
