/**
 * An app that uses the spice-web-server package as any npm dependency: its
 * paint canvas is served to SPICE clients with the JavaScript API, and a
 * `<spice-server>` element serves the test pattern next to it.
 *
 * Query parameters:
 * - `relay=ws://HOST:PORT`: the relay (`npx spice-relay`); default port 8765 of this host.
 * - `vm=bios`: serve a v86 virtual machine booting SeaBIOS on session
 *   "default" instead of the canvas. The BIOS files must be next to the
 *   page: `bios/bios.bin` and `bios/vgabios-stdvga.bin` (Debian's `seabios`
 *   package has them).
 */
import {
  CanvasSource,
  SpiceWebServer,
  defineSpiceServerElement,
  type SpiceReadyDetail,
  type SpiceWebServerOptions,
} from 'spice-web-server';

declare global {
  interface Window {
    /** The app's session (null until it runs), for the console and tests. */
    example?: { server: SpiceWebServer | null; error: string | null };
  }
}

const params = new URLSearchParams(location.search);
const relayUrl = params.get('relay') ?? `ws://${location.hostname || '127.0.0.1'}:8765`;
const statusEl = document.getElementById('status')!;
const canvas = document.getElementById('paint') as HTMLCanvasElement;
const ctx = canvas.getContext('2d')!;
window.example = { server: null, error: null };

/** The picture the app starts with: deterministic, so tests can compare it. */
function drawBackground(): void {
  const g = ctx.createLinearGradient(0, 0, canvas.width, canvas.height);
  g.addColorStop(0, '#264653');
  g.addColorStop(0.5, '#2a9d8f');
  g.addColorStop(1, '#e9c46a');
  ctx.fillStyle = g;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#ffffff';
  ctx.font = 'bold 22px sans-serif';
  ctx.fillText('spice-web-server', 16, 36);
  ctx.font = '14px sans-serif';
  ctx.fillText('draw here or in remote-viewer', 16, 60);
}

/**
 * Painting with the mouse. SPICE clients' pointers arrive as the same DOM
 * events (CanvasSource dispatches them on the canvas), so this code does not
 * know whether a person at this page or at a remote client draws.
 */
function enablePainting(): void {
  let last: { x: number; y: number } | null = null;
  const at = (e: PointerEvent): { x: number; y: number } => {
    const box = canvas.getBoundingClientRect();
    return { x: ((e.clientX - box.left) * canvas.width) / box.width, y: ((e.clientY - box.top) * canvas.height) / box.height };
  };
  canvas.addEventListener('pointerdown', (e) => {
    last = at(e);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!last || (e.buttons & 1) === 0) return;
    const p = at(e);
    ctx.strokeStyle = '#e76f51';
    ctx.lineWidth = 4;
    ctx.lineCap = 'round';
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    last = p;
  });
  canvas.addEventListener('pointerup', () => {
    last = null;
  });
}

/** What session "default" serves: the canvas, or a VM with `?vm=bios`. */
function source(): SpiceWebServerOptions['source'] {
  if (params.get('vm') !== 'bios') return new CanvasSource(canvas);
  const url = (file: string): string => new URL(`bios/${file}`, location.href).href;
  // No disk: SeaBIOS boots, finds nothing to boot and says so on its text screen.
  return { kind: 'v86', vm: { bios: { url: url('bios.bin') }, vgaBios: { url: url('vgabios-stdvga.bin') }, memoryMB: 32 } };
}

/**
 * The key the relay's operator gives pages that may host (`npx spice-relay`
 * says which file holds it). A launcher that drives this browser hands it to
 * the library itself; a person types it once per tab. Never put it in a URL.
 */
function relayKey(): string | undefined {
  if ((window as { spiceLauncherCredentials?: unknown }).spiceLauncherCredentials) return undefined;
  const kept = sessionStorage.getItem('spice-relay-key');
  if (kept) return kept;
  const typed = prompt('Relay key (in the file that spice-relay named when it started):')?.trim();
  if (typed) sessionStorage.setItem('spice-relay-key', typed);
  return typed || undefined;
}

async function main(): Promise<void> {
  drawBackground();
  enablePainting();
  const key = relayKey();

  // The element: give it the relay before it is defined, since it starts as soon as it is (autostart).
  const element = document.getElementById('pattern') as HTMLElement & { relayKey: string | null };
  element.setAttribute('relay', relayUrl);
  if (key) element.relayKey = key;
  element.addEventListener('ready', (e) => {
    document.getElementById('pattern-url')!.textContent = (e as CustomEvent<SpiceReadyDetail>).detail.webSocketUrl;
  });
  defineSpiceServerElement();

  // The API: one call serves the canvas (or the VM) on session "default",
  // which the relay also offers on its TCP port for remote-viewer and spicy.
  const server = await SpiceWebServer.start({ relayUrl, source: source(), ...(key ? { relayKey: key } : {}) });
  window.example!.server = server;
  statusEl.textContent = `serving ${params.get('vm') === 'bios' ? 'a v86 VM' : 'the canvas'} on ${relayUrl}, session "${server.session}"`;
}

main().catch((e: unknown) => {
  const message = e instanceof Error ? e.message : String(e);
  window.example!.error = message;
  statusEl.textContent = message;
  statusEl.className = 'error';
});
