/** The demo page: hosts the default session on load and says how to connect. */
import { SessionHost } from '../host/session-host.ts';
import { IMAGE_COMPRESSIONS, JPEG_MODES, type ImageCompression, type JpegMode } from '../worker/image-encoder.ts';
import { STREAMING_MODES, type StreamingMode } from '../worker/video-stream.ts';
import { addLogListener, createLogger, setLogLevel, type LogLevel } from '../util/logger.ts';
import { guessImageKind, listImages, loadState, stateMeta, storeImage, storeState, type ImageKind } from './persistence.ts';
import { MissingFileError, resolveSource, type ResolvedSource } from './source-params.ts';

const log = createLogger('demo');
const params = new URLSearchParams(location.search);
const relayUrl = params.get('relay') ?? `ws://${location.hostname || '127.0.0.1'}:8765`;
const session = params.get('session') ?? 'default';
const password = params.get('password') ?? (import.meta.env.VITE_SPICE_PASSWORD as string | undefined) ?? null;
setLogLevel((params.get('log') as LogLevel | null) ?? 'info');

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
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
    /** What the page serves (its key names the saved-state slot). */
    spiceSource?: { key: string; title: string };
  }
}

function banner(text: string): void {
  const b = $('banner');
  b.textContent = text;
  b.hidden = false;
}

/** Reloads the page serving another source; connection settings are kept. */
function serve(query: string): void {
  const next = new URLSearchParams(query);
  for (const k of ['relay', 'session', 'password', 'log', 'compression', 'streaming', 'jpeg']) {
    const v = params.get(k);
    if (v !== null) next.set(k, v);
  }
  location.search = next.toString();
}

async function setUpSourcePanel(current: string): Promise<void> {
  const select = $<HTMLSelectElement>('source-select');
  for (const img of await listImages()) {
    const o = document.createElement('option');
    o.value = `image=${img.id}`;
    o.textContent = `${img.name} (${img.kind}, ${(img.size / 1048576).toFixed(1)} MiB)`;
    select.append(o);
  }
  select.value = [...select.options].some((o) => o.value === current) ? current : '';
  $('source-form').addEventListener('submit', (e) => {
    e.preventDefault();
    serve(select.value);
  });
  $<HTMLInputElement>('image-file').addEventListener('change', async (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (!file) return;
    const chosen = $<HTMLSelectElement>('image-kind').value;
    const kind = (chosen === 'auto' ? guessImageKind(file.name, file.size) : chosen) as ImageKind;
    banner(`Storing ${file.name} (${(file.size / 1048576).toFixed(1)} MiB)…`);
    const meta = await storeImage(file.name, kind, await file.arrayBuffer());
    serve(`image=${meta.id}`);
  });
  $('image-url-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const url = $<HTMLInputElement>('image-url').value.trim();
    if (!url) return;
    const chosen = $<HTMLSelectElement>('image-kind').value;
    const kind = chosen === 'auto' ? guessImageKind(url, 0) : chosen;
    serve(`${kind}=${encodeURIComponent(url)}`);
  });
}

async function setUpVmControls(host: SessionHost, source: ResolvedSource): Promise<void> {
  if (!host.vm) return;
  $('vm-controls').hidden = false;
  const info = $('state-info');
  const show = async (): Promise<void> => {
    const m = await stateMeta(source.key);
    info.textContent = m ? `saved ${new Date(m.savedAt).toLocaleString()} (${(m.size / 1048576).toFixed(1)} MiB)` : 'no saved state';
    $<HTMLButtonElement>('restore-state').disabled = !m;
  };
  $('save-state').addEventListener('click', async () => {
    info.textContent = 'saving…';
    await storeState(source.key, await host.vm!.remote.saveState());
    log.info(`VM state saved for ${source.title}`);
    await show();
  });
  $('restore-state').addEventListener('click', async () => {
    const saved = await loadState(source.key);
    if (!saved) return;
    info.textContent = 'restoring…';
    await host.vm!.remote.restoreState(saved.state);
    log.info(`VM state of ${saved.meta.savedAt} restored`);
    await show();
  });
  await show();
}

async function start(source: ResolvedSource): Promise<SessionHost> {
  const compression = params.get('compression') ?? (import.meta.env.VITE_SPICE_IMAGE_COMPRESSION as string | undefined) ?? 'auto';
  if (!(IMAGE_COMPRESSIONS as readonly string[]).includes(compression)) {
    throw new Error(`compression: expected one of ${IMAGE_COMPRESSIONS.join(', ')}, got "${compression}"`);
  }
  const streaming = params.get('streaming') ?? (import.meta.env.VITE_SPICE_STREAMING as string | undefined) ?? 'filter';
  if (!(STREAMING_MODES as readonly string[]).includes(streaming)) {
    throw new Error(`streaming: expected one of ${STREAMING_MODES.join(', ')}, got "${streaming}"`);
  }
  const jpeg = params.get('jpeg') ?? (import.meta.env.VITE_SPICE_JPEG as string | undefined) ?? 'auto';
  if (!(JPEG_MODES as readonly string[]).includes(jpeg)) {
    throw new Error(`jpeg: expected one of ${JPEG_MODES.join(', ')}, got "${jpeg}"`);
  }
  return SessionHost.start({
    relayUrl,
    session,
    password,
    source: source.spec,
    imageCompression: compression as ImageCompression,
    streaming: streaming as StreamingMode,
    jpeg: jpeg as JpegMode,
  });
}

async function main(): Promise<void> {
  const current = [...params.entries()]
    .filter(([k]) => ['guest', 'image', 'vm'].includes(k))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  void setUpSourcePanel(current);
  try {
    let source: ResolvedSource;
    try {
      source = await resolveSource(params);
    } catch (e) {
      if (!(e instanceof MissingFileError)) throw e;
      // Without a BIOS or guest files the page still serves something: the test pattern.
      banner(`${e.message} Serving the test pattern meanwhile.`);
      log.warn(e.message);
      source = { spec: { kind: 'test-pattern' }, key: 'test-pattern', title: 'Test pattern' };
    }
    window.spiceSource = { key: source.key, title: source.title };
    const host = await start(source);
    window.spiceHost = host;
    const relayHttp = new URL(relayUrl);
    const native = host.relay.tcpPort ? `spice://${relayHttp.hostname}:${host.relay.tcpPort}` : '(no TCP port on this relay session)';
    const wsUrl = `${relayUrl.replace(/\/$/, '')}${host.relay.clientPath}`;
    $('native-url').textContent = native;
    $('ws-url').textContent = wsUrl;
    const client = new URL('/client.html', location.href);
    client.searchParams.set('url', wsUrl);
    if (password) client.searchParams.set('password', password);
    $<HTMLAnchorElement>('web-client').href = client.toString();
    $('password-state').textContent = password ? 'required (set with --password)' : 'none: any client may connect';
    $('source').textContent = source.title;
    $('state').textContent = `serving session "${session}"`;
    $('state').className = 'state ok';
    await setUpVmControls(host, source);
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
