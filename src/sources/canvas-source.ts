/**
 * Serves any `<canvas>` (2D or WebGL) of the page: every animation frame (or
 * at `fps`) it copies the canvas's current picture into the session's
 * framebuffer and flushes; change detection sends only what changed. A
 * canvas that changes size gets a new surface. Client input comes back as DOM
 * events on the canvas (pointer, wheel and keyboard), so the page's own
 * handlers see them. With `audio` (a Web Audio node or a MediaStream of the
 * page) clients also hear what it plays.
 *
 * The clipboard: text a client copies arrives as a `clipboard` event on the
 * canvas ({@link CanvasClipboardDetail}); {@link CanvasSource.offerClipboard}
 * puts the page's text on every client's clipboard. With `followClientSize`,
 * a client's window size resizes the canvas (a `spice-resize` event on it
 * tells the app to redraw at the new size) and the surface follows.
 *
 * ```ts
 * const canvas = document.querySelector('canvas')!;
 * await SpiceWebServer.start({ relayUrl: 'ws://127.0.0.1:8765', source: new CanvasSource(canvas) });
 * canvas.addEventListener('clipboard', (e) => console.info((e as CustomEvent<CanvasClipboardDetail>).detail.text));
 * ```
 */
import type { AgentSink, InputSink, ResizeRequest, SpiceAgent, SpiceAudio, SpiceDisplay, SpiceSource } from '../api/spice-source.ts';
import { createLogger } from '../util/logger.ts';
import { domKeyForScancode } from './scancode-codes.ts';

const log = createLogger('canvas-source');

export interface CanvasSourceOptions {
  /** Frames per second to sample the canvas; default: every animation frame. */
  fps?: number;
  /**
   * Let clients' window sizes resize the canvas (its width and height
   * attributes; a `spice-resize` event follows). Default false: the canvas
   * keeps its size and clients are told no.
   */
  followClientSize?: boolean;
  /** What clients hear: a Web Audio node's output, or a MediaStream's audio tracks. Default: no sound. */
  audio?: AudioNode | MediaStream;
}

/** Detail of the canvas's `clipboard` event: text a client copied. */
export interface CanvasClipboardDetail {
  text: string;
  /** The client's SPICE session id. */
  sessionId: number;
}

/** Detail of the canvas's `spice-resize` event: the canvas now has the size a client asked for. */
export interface CanvasResizeDetail {
  width: number;
  height: number;
  sessionId: number;
}

/** SPICE buttons mask bits (left 1, middle 2, right 4) to DOM `buttons` bits (left 1, right 2, middle 4). */
function domButtons(mask: number): number {
  return (mask & 1) | ((mask & 4) >> 1) | ((mask & 2) << 1);
}

/** SPICE button codes (1 left, 2 middle, 3 right) to DOM `button` values. */
const DOM_BUTTON: Record<number, number> = { 1: 0, 2: 1, 3: 2 };

export class CanvasSource implements SpiceSource {
  readonly input: InputSink;
  readonly agent: AgentSink;
  readonly absolutePointer = true;
  private spiceAgent: SpiceAgent | null = null;
  private display: SpiceDisplay | null = null;
  private readonly scratch: OffscreenCanvas;
  private readonly ctx: OffscreenCanvasRenderingContext2D;
  private raf = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  /** The sample running now (one at a time: each may create a surface). */
  private sampling: Promise<void> | null = null;
  /** Frames copied, for stats and tests. */
  frames = 0;
  private pointer = { x: 0, y: 0 };
  private shift = false;
  private stopAudio: (() => void) | null = null;

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly options: CanvasSourceOptions = {},
  ) {
    this.scratch = new OffscreenCanvas(1, 1);
    const ctx = this.scratch.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('CanvasSource: expected a 2D OffscreenCanvas context, got none');
    this.ctx = ctx;
    this.input = this.inputSink();
    this.agent = {
      clipboardText: (text, sessionId) =>
        this.canvas.dispatchEvent(new CustomEvent<CanvasClipboardDetail>('clipboard', { detail: { text, sessionId } })),
      ...(options.followClientSize ? { resizeRequest: (r: ResizeRequest) => this.followClient(r) } : {}),
    };
  }

  attachAgent(agent: SpiceAgent): void {
    this.spiceAgent = agent;
  }

  /**
   * Puts `text` on every client's clipboard (they can paste it until one of
   * them copies something). Returns false when the session has no agent yet.
   */
  offerClipboard(text: string): boolean {
    if (!this.spiceAgent) return false;
    this.spiceAgent.offerText(text);
    return true;
  }

  /** A client's window size: the canvas takes it, the app redraws, the surface follows with the next sample. */
  private async followClient({ width, height, sessionId }: ResizeRequest): Promise<boolean> {
    if (!this.display) return false;
    this.canvas.width = width;
    this.canvas.height = height;
    this.canvas.dispatchEvent(new CustomEvent<CanvasResizeDetail>('spice-resize', { detail: { width, height, sessionId } }));
    // A sample already running copies the old size; wait for it, then take the new size now.
    await this.sampling;
    await this.sample();
    return this.display?.width === width && this.display.height === height;
  }

  /** A playback channel only when there is audio to play. */
  get sound(): boolean {
    return this.options.audio !== undefined;
  }

  async attach(display: SpiceDisplay, audio: SpiceAudio | null = null): Promise<void> {
    this.display = display;
    const a = this.options.audio;
    if (audio && a) this.stopAudio = a instanceof MediaStream ? await audio.connectStream(a) : await audio.connectNode(a);
    await this.sample();
    if (this.options.fps) this.timer = setInterval(() => void this.sample(), 1000 / this.options.fps);
    else {
      const loop = (): void => {
        void this.sample();
        this.raf = requestAnimationFrame(loop);
      };
      this.raf = requestAnimationFrame(loop);
    }
  }

  detach(): void {
    cancelAnimationFrame(this.raf);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.display = null;
    this.stopAudio?.();
    this.stopAudio = null;
  }

  /** Copies the canvas into the framebuffer and flushes; resizes the surface first if the canvas changed size. */
  private sample(): Promise<void> {
    if (!this.sampling) this.sampling = this.copyFrame().finally(() => (this.sampling = null));
    return this.sampling;
  }

  private async copyFrame(): Promise<void> {
    const d = this.display;
    if (!d) return;
    const { width, height } = this.canvas;
    if (width < 1 || height < 1) return;
    try {
      if (d.width !== width || d.height !== height) {
        await d.resize(width, height);
        this.scratch.width = width;
        this.scratch.height = height;
        log.info(`serving a ${width}x${height} canvas`);
      }
      // Through a 2D canvas: works for WebGL canvases too (preserveDrawingBuffer or drawn this frame).
      this.ctx.clearRect(0, 0, width, height);
      this.ctx.drawImage(this.canvas, 0, 0);
      d.pushRgba(this.ctx.getImageData(0, 0, width, height).data);
      this.frames++;
    } catch (e) {
      log.warn(`could not read the canvas: ${(e as Error).message}`);
    }
  }

  /** Client input as DOM events on the canvas, positions mapped from surface pixels to the canvas's box. */
  private inputSink(): InputSink {
    /** The pointer (surface pixels) in the page's coordinates: the canvas box may be scaled. */
    const clientPoint = (): { clientX: number; clientY: number } => {
      const box = this.canvas.getBoundingClientRect();
      const sx = this.canvas.width ? box.width / this.canvas.width : 1;
      const sy = this.canvas.height ? box.height / this.canvas.height : 1;
      return { clientX: box.left + this.pointer.x * sx, clientY: box.top + this.pointer.y * sy };
    };
    const fire = (type: string, buttons: number, button = 0): void => {
      const init: MouseEventInit = {
        bubbles: true,
        cancelable: true,
        ...clientPoint(),
        buttons: domButtons(buttons),
        button,
      };
      const Ctor = type.startsWith('pointer') && typeof PointerEvent === 'function' ? PointerEvent : MouseEvent;
      this.canvas.dispatchEvent(new Ctor(type, type.startsWith('pointer') ? { ...init, pointerId: 1, pointerType: 'mouse', isPrimary: true } : init));
    };
    const moveTo = (x: number, y: number, buttons: number): void => {
      this.pointer = {
        x: Math.max(0, Math.min(this.canvas.width - 1, x)),
        y: Math.max(0, Math.min(this.canvas.height - 1, y)),
      };
      fire('pointermove', buttons);
      fire('mousemove', buttons);
    };
    const key = (type: 'keydown' | 'keyup', scancode: readonly number[]): void => {
      const k = domKeyForScancode(scancode);
      if (!k) return;
      if (k.code.startsWith('Shift')) this.shift = type === 'keydown';
      this.canvas.dispatchEvent(new KeyboardEvent(type, {
        bubbles: true, cancelable: true, code: k.code, key: this.shift ? k.shiftedKey : k.key, shiftKey: this.shift,
      }));
    };
    return {
      keyDown: (sc) => key('keydown', sc),
      keyUp: (sc) => key('keyup', sc),
      setKeyModifiers: () => {},
      mouseMotion: (dx, dy, buttons) => moveTo(this.pointer.x + dx, this.pointer.y + dy, buttons),
      mousePosition: (x, y, buttons) => moveTo(x, y, buttons),
      mousePress: (button, buttons) => {
        if (button === 4 || button === 5) {
          this.canvas.dispatchEvent(new WheelEvent('wheel', {
            bubbles: true, cancelable: true, deltaY: button === 4 ? -100 : 100, ...clientPoint(),
          }));
          return;
        }
        fire('pointerdown', buttons, DOM_BUTTON[button] ?? 0);
        fire('mousedown', buttons, DOM_BUTTON[button] ?? 0);
      },
      mouseRelease: (button, buttons) => {
        if (button === 4 || button === 5) return;
        fire('pointerup', buttons, DOM_BUTTON[button] ?? 0);
        fire('mouseup', buttons, DOM_BUTTON[button] ?? 0);
        if (button === 1) fire('click', buttons, 0);
      },
    };
  }
}
