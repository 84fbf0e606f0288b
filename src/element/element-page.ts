/**
 * The plain page that shows `<spice-server>` (element.html): a canvas the
 * user (or a SPICE client) can click, two elements, and a record of their
 * events for tests (`window.spiceEvents`). `?relay=ws://…` points both
 * elements at another relay.
 */
import { defineSpiceServerElement } from './spice-server-element.ts';

declare global {
  interface Window {
    spiceEvents?: Array<{ id: string; type: string; detail: unknown }>;
    /** Clicks the canvas received, with their canvas coordinates. */
    artClicks?: Array<{ x: number; y: number }>;
    /** Texts the canvas's `clipboard` event carried. */
    canvasClipboard?: string[];
  }
}

const params = new URLSearchParams(location.search);
const relay = params.get('relay');
const events: Array<{ id: string; type: string; detail: unknown }> = [];
window.spiceEvents = events;
window.artClicks = [];

const canvas = document.getElementById('art') as HTMLCanvasElement;
const ctx = canvas.getContext('2d')!;
let marks = 0;

/** A deterministic picture: gradient, text, and a dot per click. */
function draw(): void {
  const g = ctx.createLinearGradient(0, 0, canvas.width, canvas.height);
  g.addColorStop(0, '#1d3557');
  g.addColorStop(1, '#e63946');
  ctx.fillStyle = g;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#f1faee';
  ctx.font = '20px sans-serif';
  ctx.fillText(`clicks: ${marks}`, 16, 32);
}

canvas.addEventListener('click', (e) => {
  const box = canvas.getBoundingClientRect();
  const x = Math.round(((e.clientX - box.left) * canvas.width) / box.width);
  const y = Math.round(((e.clientY - box.top) * canvas.height) / box.height);
  window.artClicks!.push({ x, y });
  marks++;
  draw();
  ctx.fillStyle = '#ffd166';
  ctx.fillRect(x - 4, y - 4, 8, 8);
});
draw();
// A client resized the canvas (follow-client-size): draw at the new size.
canvas.addEventListener('spice-resize', () => draw());
/** What the canvas's own `clipboard` event carried (CanvasSource), for tests. */
const canvasClipboard: string[] = [];
window.canvasClipboard = canvasClipboard;
canvas.addEventListener('clipboard', (e) => {
  const { text } = (e as CustomEvent<{ text: string }>).detail;
  canvasClipboard.push(text);
  document.getElementById('clip')!.textContent = text;
});

for (const el of document.querySelectorAll('spice-server')) {
  if (relay) el.setAttribute('relay', relay);
  for (const type of ['ready', 'client-connected', 'client-disconnected', 'error', 'clipboard', 'resize-request']) {
    el.addEventListener(type, (e) => events.push({ id: el.id, type, detail: (e as CustomEvent).detail }));
  }
  // Files: their names and sizes (the bytes stay with the element's session).
  el.addEventListener('file-received', (e) => {
    const { name, data, sessionId } = (e as CustomEvent<{ name: string; data: Uint8Array; sessionId: number }>).detail;
    events.push({ id: el.id, type: 'file-received', detail: { name, size: data.byteLength, sessionId } });
  });
  // `stats` fires every second: keep only the latest per element.
  el.addEventListener('stats', (e) => {
    const i = events.findIndex((x) => x.id === el.id && x.type === 'stats');
    if (i >= 0) events.splice(i, 1);
    events.push({ id: el.id, type: 'stats', detail: (e as CustomEvent).detail });
  });
}
defineSpiceServerElement();
