/**
 * `<spice-server>`: a SPICE session as an HTML element. Each element is one
 * independent session with its own device memory, RedWorker and relay
 * registration, serving the test pattern, a built-in v86 guest, or a canvas
 * of the page.
 *
 * ```html
 * <spice-server relay="ws://127.0.0.1:8765" session="demo" source="#game" autostart preview></spice-server>
 * <spice-server source="test-pattern" tone="440"></spice-server>  <!-- with a 440 Hz test signal -->
 * ```
 *
 * It is also its clients' guest agent: text a client copies fires
 * `clipboard`, {@link SpiceServerElement.offerClipboard} puts text on every
 * client's clipboard, files clients send fire `file-received`, and with
 * `follow-client-size` a canvas source takes a client's window size.
 *
 * The page must be cross-origin isolated (headers
 * `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp`); otherwise the element shows
 * why and fires `error`.
 */
import type { SpiceAudio, SpiceSource } from '../api/spice-source.ts';
import { SessionHost, type SourceSpec } from '../host/session-host.ts';
import { Region } from '../qxl/qxl-layout.ts';
import { CanvasSource } from '../sources/canvas-source.ts';
import { GUESTS } from '../sources/v86/guest-catalog.ts';
import { catalogGuestSpec, v86SourceSpec } from '../host/v86-source-spec.ts';
import { createLogger } from '../util/logger.ts';
import { defaultRelayUrl } from '../util/default-relay-url.ts';
import { parseToneHz } from '../sound/test-tone.ts';

const log = createLogger('spice-server-element');

/** Detail of `ready`. */
export interface SpiceReadyDetail {
  session: string;
  relayUrl: string;
  /** What spice-html5 connects to. */
  webSocketUrl: string;
}

/** Detail of `client-connected` and `client-disconnected`. */
export interface SpiceClientDetail {
  /** The client's SPICE session id. */
  sessionId: number;
  /** Clients connected now. */
  clients: number;
}

/** Detail of `error`. */
export interface SpiceErrorDetail {
  message: string;
}

/** Detail of `stats` (every second while serving), and the `stats` property. */
export interface SpiceStatsDetail {
  clients: number;
  /** Drawables the RedWorker processed per second. */
  updatesPerSecond: number;
  /** Display bytes sent per second, all clients. */
  bytesPerSecond: number;
  /** Images sent so far, per codec. */
  codecs: Record<'bitmap' | 'lz' | 'quic' | 'lz4' | 'jpeg', number>;
  /** Video streams running now. */
  streams: number;
  /** Primary surface size, if any. */
  width: number;
  height: number;
}

/** Detail of `clipboard`: text a client copied (the last client to copy owns the clipboard). */
export interface SpiceClipboardDetail {
  text: string;
  sessionId: number;
}

/** Detail of `file-received`: a file a client sent (dropped onto its window), whole. */
export interface SpiceFileDetail {
  /** Sanitised: no directories, no control characters. */
  name: string;
  data: Uint8Array;
  sessionId: number;
}

/** Detail of `resize-request`: a client's window size, and whether the source followed it. */
export interface SpiceResizeDetail {
  width: number;
  height: number;
  sessionId: number;
  accepted: boolean;
}

/** The element's events and their details. */
export interface SpiceServerEventMap {
  ready: CustomEvent<SpiceReadyDetail>;
  clipboard: CustomEvent<SpiceClipboardDetail>;
  'file-received': CustomEvent<SpiceFileDetail>;
  'resize-request': CustomEvent<SpiceResizeDetail>;
  'client-connected': CustomEvent<SpiceClientDetail>;
  'client-disconnected': CustomEvent<SpiceClientDetail>;
  error: CustomEvent<SpiceErrorDetail>;
  stats: CustomEvent<SpiceStatsDetail>;
}

const STYLE = `
:host { display: inline-block; font: 13px system-ui, sans-serif; }
.status { padding: 4px 0; }
.error { color: #b00020; white-space: pre-wrap; }
canvas { display: block; max-width: 100%; background: #000; image-rendering: pixelated; }
`;

export class SpiceServerElement extends HTMLElement {
  static readonly observedAttributes = ['source', 'preview', 'tone'];

  private host: SessionHost | null = null;
  private starting: Promise<void> | null = null;
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private previewTimer: ReturnType<typeof setInterval> | null = null;
  private last = { t: 0, drawables: 0, bytes: 0 };
  private sourceOverride: string | SpiceSource | SourceSpec | null = null;
  private readonly statusEl: HTMLDivElement;
  private readonly previewEl: HTMLCanvasElement;
  /** The latest statistics (null before the first tick). */
  stats: SpiceStatsDetail | null = null;
  /** The text a client copied last (null: none yet). */
  clipboard: string | null = null;
  private key: string | null = null;
  /**
   * What a canvas source plays to clients (a Web Audio node or a MediaStream
   * of the page); set before start. The test pattern plays the `tone`
   * attribute's frequency instead.
   */
  audioSource: AudioNode | MediaStream | null = null;

  /**
   * The relay key its operator gave this page (a property, not an attribute,
   * so it never shows in the markup; it may be set before the element is
   * defined). When null, the element asks the launcher that opened the page
   * (`npm start`, `npm run host`), if any.
   */
  get relayKey(): string | null {
    return this.key;
  }

  set relayKey(key: string | null) {
    this.key = key;
  }

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = STYLE;
    this.statusEl = document.createElement('div');
    this.statusEl.className = 'status';
    this.statusEl.part.add('status');
    this.previewEl = document.createElement('canvas');
    this.previewEl.part.add('preview');
    this.previewEl.hidden = true;
    root.append(style, this.statusEl, this.previewEl);
    // A value set on the element before it was upgraded sits in an own property: move it behind the accessor.
    if (Object.hasOwn(this, 'relayKey')) {
      const key = (this as { relayKey: string | null }).relayKey;
      delete (this as { relayKey?: string | null }).relayKey;
      this.relayKey = key;
    }
  }

  /** Relay WebSocket URL (attribute `relay`); default ws://<page host>:8765. */
  get relay(): string {
    return this.getAttribute('relay') ?? defaultRelayUrl(location);
  }

  /** Relay session name (attribute `session`); default "default". */
  get session(): string {
    return this.getAttribute('session') ?? 'default';
  }

  /** The running session, once started. */
  get sessionHost(): SessionHost | null {
    return this.host;
  }

  /** The session's sound output, when its source has sound (push PCM, tap nodes, volume, mute). */
  get audio(): SpiceAudio | null {
    return this.host?.audio ?? null;
  }

  connectedCallback(): void {
    if (this.hasAttribute('autostart') && !this.host && !this.starting) void this.start().catch(() => {});
  }

  disconnectedCallback(): void {
    void this.stop();
  }

  attributeChangedCallback(name: string, oldValue: string | null, value: string | null): void {
    if (oldValue === value) return;
    if (name === 'preview') this.updatePreview();
    // Also while starting: the start under way read the old value.
    if ((name === 'source' || name === 'tone') && (this.host || this.starting)) void this.restart().catch(() => {});
  }

  /**
   * Starts serving (idempotent while running). Rejects, and fires `error`,
   * when the page is not cross-origin isolated, the relay is unreachable or
   * the source cannot start.
   */
  start(): Promise<void> {
    if (this.host) return Promise.resolve();
    this.starting ??= this.doStart().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    this.status('starting…');
    try {
      const source = await this.resolveSource();
      const host = await SessionHost.start({
        relayUrl: this.relay,
        session: this.session,
        ...(this.relayKey !== null ? { relayKey: this.relayKey } : {}),
        password: this.getAttribute('password') || null,
        source,
        viewOnly: this.hasAttribute('view-only'),
      });
      this.host = host;
      this.forwardAgentEvents(host);
      host.onClientConnected((sessionId) => this.clientEvent('client-connected', sessionId));
      host.onClientDisconnected((sessionId) => this.clientEvent('client-disconnected', sessionId));
      this.statsTimer = setInterval(() => void this.tick(), 1000);
      this.updatePreview();
      this.status(`serving session "${host.session}" on ${this.relay}`);
      // The relay connection can drop and come back by itself: say so while it does.
      host.onRelayStatus((st) => {
        if (this.host !== host) return;
        if (st.state === 'registered') this.status(`serving session "${host.session}" on ${this.relay}`);
        else if (st.state === 'reconnecting') this.status(`relay connection lost; registering again in ${Math.ceil(st.retryInMs / 1000)} s`);
        else this.status(`not serving: ${st.reason}`, true);
      });
      this.dispatchEvent(new CustomEvent<SpiceReadyDetail>('ready', {
        detail: { session: host.session, relayUrl: this.relay, webSocketUrl: `${this.relay.replace(/\/$/, '')}/spice/${encodeURIComponent(host.session)}` },
      }));
    } catch (e) {
      const message = (e as Error).message;
      log.error(`<spice-server session="${this.session}">: ${message}`);
      this.status(message, true);
      this.dispatchEvent(new CustomEvent<SpiceErrorDetail>('error', { detail: { message } }));
      throw e;
    }
  }

  /**
   * Puts `text` on every connected (and later) client's clipboard. Returns
   * false when the element is not serving.
   */
  offerClipboard(text: string): boolean {
    if (!this.host) return false;
    this.host.offerClipboard(text);
    return true;
  }

  /** Turns the session's agent requests into the element's events. */
  private forwardAgentEvents(host: SessionHost): void {
    host.agentEvents.onEvent((e) => {
      if (e.kind === 'clipboardText') {
        this.clipboard = e.text;
        this.dispatchEvent(new CustomEvent<SpiceClipboardDetail>('clipboard', { detail: { text: e.text, sessionId: e.sessionId } }));
      } else if (e.kind === 'file') {
        const file = host.agentEvents.files.at(-1);
        if (file) this.dispatchEvent(new CustomEvent<SpiceFileDetail>('file-received', { detail: { ...file } }));
      } else if (e.kind === 'resize') {
        const { width, height, sessionId, accepted } = e;
        this.dispatchEvent(new CustomEvent<SpiceResizeDetail>('resize-request', { detail: { width, height, sessionId, accepted } }));
      }
    });
  }

  /** Stops serving: clients are disconnected, the worker and the VM end. */
  async stop(): Promise<void> {
    await this.starting?.catch(() => {});
    const host = this.host;
    this.host = null;
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.previewTimer) clearInterval(this.previewTimer);
    this.statsTimer = this.previewTimer = null;
    if (host) {
      await host.stop();
      this.status('stopped');
    }
  }

  /**
   * Serves something else: a source name as the `source` attribute takes, a
   * {@link SpiceSource} object, or a source spec. Restarts a running session.
   */
  async setSource(source: string | SpiceSource | SourceSpec): Promise<void> {
    this.sourceOverride = source;
    if (this.host || this.starting) await this.restart();
  }

  private async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private async resolveSource(): Promise<SourceSpec | SpiceSource> {
    const s = this.sourceOverride ?? this.getAttribute('source') ?? 'test-pattern';
    if (typeof s !== 'string') return s;
    if (s === 'test-pattern') {
      const tone = this.getAttribute('tone');
      return { kind: 'test-pattern', ...(tone !== null && { tone: parseToneHz(tone) }) };
    }
    if (s === 'bios') return v86SourceSpec();
    if (GUESTS.some((g) => g.name === s)) return (await catalogGuestSpec(s)).spec;
    const el = document.querySelector(s);
    if (!(el instanceof HTMLCanvasElement)) {
      throw new Error(
        `source: expected "test-pattern", a guest name (${GUESTS.map((g) => g.name).join(', ')}, bios) or a selector of a <canvas>, got "${s}"` +
          (el ? ` (it selects a <${el.localName}>)` : ' (it selects nothing)'),
      );
    }
    return new CanvasSource(el, {
      followClientSize: this.hasAttribute('follow-client-size'),
      ...(this.audioSource ? { audio: this.audioSource } : {}),
    });
  }

  private clientEvent(type: 'client-connected' | 'client-disconnected', sessionId: number): void {
    const clients = this.host?.server.stats().clients ?? 0;
    this.dispatchEvent(new CustomEvent<SpiceClientDetail>(type, { detail: { sessionId, clients } }));
  }

  private async tick(): Promise<void> {
    const host = this.host;
    if (!host) return;
    const s = await host.stats();
    const now = performance.now();
    const bytes = s.worker.displayBacklog.reduce((a, b) => a + b.bytes, 0);
    const dt = this.last.t ? (now - this.last.t) / 1000 : 0;
    const detail: SpiceStatsDetail = {
      clients: s.server.clients,
      updatesPerSecond: dt ? Math.round((s.worker.drawablesProcessed - this.last.drawables) / dt) : 0,
      bytesPerSecond: dt ? Math.max(0, Math.round((bytes - this.last.bytes) / dt)) : 0,
      codecs: { ...s.worker.images.byCodec },
      streams: s.worker.streams.active,
      width: s.worker.primary?.width ?? 0,
      height: s.worker.primary?.height ?? 0,
    };
    this.last = { t: now, drawables: s.worker.drawablesProcessed, bytes };
    this.stats = detail;
    this.dispatchEvent(new CustomEvent<SpiceStatsDetail>('stats', { detail }));
  }

  /** The preview shows what the source drew (its frame in device memory), five times a second. */
  private updatePreview(): void {
    const on = this.hasAttribute('preview') && this.host !== null;
    this.previewEl.hidden = !on;
    if (!on) {
      if (this.previewTimer) clearInterval(this.previewTimer);
      this.previewTimer = null;
      return;
    }
    this.previewTimer ??= setInterval(() => this.drawPreview(), 200);
  }

  private drawPreview(): void {
    const host = this.host;
    const size = this.stats;
    if (!host || !size || !size.width || !size.height) return;
    const { width, height } = size;
    if (this.previewEl.width !== width || this.previewEl.height !== height) {
      this.previewEl.width = width;
      this.previewEl.height = height;
    }
    const ctx = this.previewEl.getContext('2d');
    if (!ctx) return;
    const frame = new Uint32Array(host.device.memory.buffer, Region.SOURCE_FRAME, width * height);
    const img = ctx.createImageData(width, height);
    const out = new Uint32Array(img.data.buffer);
    for (let i = 0; i < out.length; i++) {
      const p = frame[i]!;
      out[i] = 0xff000000 | ((p & 0xff) << 16) | (p & 0xff00) | ((p >>> 16) & 0xff);
    }
    ctx.putImageData(img, 0, 0);
  }

  private status(text: string, error = false): void {
    this.statusEl.textContent = text;
    this.statusEl.classList.toggle('error', error);
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'spice-server': SpiceServerElement;
  }
}

/** Registers `<spice-server>` (once). */
export function defineSpiceServerElement(name = 'spice-server'): void {
  if (!customElements.get(name)) customElements.define(name, SpiceServerElement);
}
