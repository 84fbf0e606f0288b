/**
 * Boots v86 in Node for tests: no DOM, no screen container. The helper
 * replaces v86's dummy screen adapter with one that keeps what a real screen
 * would show (the composed RGBA picture of graphics modes, the text screen,
 * the cursor position and every size change), drives the guest's keyboard,
 * mouse and serial port, and always destroys the emulator.
 *
 * Nothing calls v86's `screen_fill_buffer()` in Node, so the picture only
 * changes when a test calls {@link NodeVm.refresh} (the helpers below that
 * read the picture do so themselves).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { V86, type V86Options } from 'v86';
import { BIOS_DIR, ensureBios } from '../../scripts/fetch-bios.ts';
import type { V86Layer } from '../../src/sources/v86/v86-display.ts';

/** A rectangle of v86's graphics buffer and where it goes on the screen. */
type ScreenLayer = V86Layer;

/** The parts of v86's dummy screen adapter the helper overrides or calls. */
interface ScreenAdapter {
  set_size_graphical(width: number, height: number, virtualWidth: number, virtualHeight: number): void;
  set_size_text(cols: number, rows: number): void;
  set_mode(graphical: boolean): void;
  update_buffer(layers: ScreenLayer[]): void;
  update_cursor(row: number, col: number): void;
  get_text_screen(): string[];
}

/** v86 internals reached from the public object (not in v86.d.ts). */
interface V86Internals {
  screen_adapter: ScreenAdapter;
  bus: { send(name: string, value: unknown): void };
  v86?: { cpu: { devices: { vga?: { screen_fill_buffer(): void } } } };
}

/** Options for {@link bootV86}; give exactly one of `fda` or `bzimage`. */
export interface BootOptions {
  /** Floppy image (e.g. guests/graphics.img). */
  fda?: Uint8Array;
  /** Linux kernel and initramfs, with their command line. */
  bzimage?: Uint8Array;
  initrd?: Uint8Array;
  cmdline?: string;
  /** Guest RAM; default 32 MiB (a kernel with an initrd needs ≥ 128). */
  memoryMB?: number;
  /** VGA memory; default v86's 8 MiB (enough for 1920x1080x32). */
  vgaMemoryMB?: number;
  /** How long to wait for v86 to start; default 20 s. */
  startTimeoutMs?: number;
}

/** What the guest's screen shows (graphics modes only). */
export interface Picture {
  width: number;
  height: number;
  /** RGBA, row-major, `width * height * 4` bytes; a copy. */
  rgba: Uint8Array;
}

/** A running emulator plus what it has shown. */
export interface NodeVm {
  emulator: V86;
  /** `[width, height, bpp]` of every `screen-set-size` event (bpp 0 = text, then columns x rows). */
  readonly sizeEvents: ReadonlyArray<readonly [number, number, number]>;
  /** Current mode as v86 reported it last: pixels, or columns and rows in text mode. */
  readonly mode: { graphical: boolean; width: number; height: number };
  /** Last hardware cursor position v86 reported in text mode. */
  readonly cursor: { row: number; col: number };
  /** Every byte the guest wrote to COM1, as Latin-1 text. */
  readonly serialText: string;
  /** Pulls the latest graphics into the picture (v86's screen_fill_buffer). */
  refresh(): void;
  /** Refreshes and returns a copy of the current graphics picture. */
  picture(): Picture;
  /** Refreshes and returns a short hash of the picture (with its size). */
  pictureHash(): string;
  /** The text screen, one string per row (cp437 mapped to Unicode). */
  textScreen(): string[];
  /** Sends raw set-1 scancodes (make and break codes as the caller lists them). */
  sendScancodes(codes: number[]): void;
  /** Types text on the PS/2 keyboard (US layout; see {@link textScancodes}). */
  typeText(text: string): void;
  /**
   * Relative PS/2 mouse motion; positive dy is up, as in PS/2 packets. Moves
   * beyond ±255 are split into several packets (v86 would wrap them).
   */
  mouseDelta(dx: number, dy: number): void;
  /** PS/2 mouse buttons held (left, middle, right). */
  mouseButtons(left: boolean, middle: boolean, right: boolean): void;
  /** Types text on COM1. */
  serialSend(text: string): void;
  /** Polls `predicate` (after a refresh) every 25 ms until it is true; throws `what` on timeout. */
  waitFor(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Waits until a text row matches. */
  waitForText(pattern: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Waits until the serial output matches. */
  waitForSerial(pattern: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Waits until the picture hash stays the same across a few polls, and returns it. */
  waitForStablePicture(timeoutMs?: number): Promise<string>;
  /** Stops and frees the emulator; safe to call twice. */
  destroy(): Promise<void>;
}

const require = createRequire(import.meta.url);
/** node_modules/v86/build, found through the package's main entry. */
const V86_BUILD_DIR = dirname(require.resolve('v86'));

let wasmModule: Promise<WebAssembly.Module> | undefined;

/** Compiles v86.wasm once per process; every emulator instantiates it again. */
function v86Wasm(): Promise<WebAssembly.Module> {
  wasmModule ??= WebAssembly.compile(readFileSync(join(V86_BUILD_DIR, 'v86.wasm')));
  return wasmModule;
}

/** v86 only allocates its graphics buffer when ImageData exists; Node has none. */
class NodeImageData {
  readonly colorSpace = 'srgb';
  constructor(
    readonly data: Uint8ClampedArray,
    readonly width: number,
    readonly height: number,
  ) {}
}

function installImageData(): void {
  const g = globalThis as unknown as { ImageData?: unknown };
  if (typeof g.ImageData === 'undefined') g.ImageData = NodeImageData;
}

/** The BIOS images, fetched into .cache/bios first if missing. */
function loadBios(): { bios: ArrayBuffer; vgaBios: ArrayBuffer } {
  const bios = join(BIOS_DIR, 'bios.bin');
  const vga = join(BIOS_DIR, 'vgabios-stdvga.bin');
  if (!existsSync(bios) || !existsSync(vga)) ensureBios();
  return { bios: toArrayBuffer(readFileSync(bios)), vgaBios: toArrayBuffer(readFileSync(vga)) };
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Boots v86 with the given media and resolves once it runs. */
export async function bootV86(options: BootOptions): Promise<NodeVm> {
  if (!options.fda === !options.bzimage) {
    throw new Error(`bootV86: expected exactly one of fda or bzimage, got ${options.fda ? 'both' : 'neither'}`);
  }
  installImageData();
  const { bios, vgaBios } = loadBios();
  const compiled = v86Wasm();
  const config: V86Options = {
    wasm_fn: async (imports) => (await WebAssembly.instantiate(await compiled, imports)).exports,
    memory_size: (options.memoryMB ?? 32) * 1024 * 1024,
    vga_memory_size: (options.vgaMemoryMB ?? 8) * 1024 * 1024,
    bios: { buffer: bios },
    vga_bios: { buffer: vgaBios },
    autostart: true,
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
  };
  if (options.fda) config.fda = { buffer: toArrayBuffer(options.fda) };
  if (options.bzimage) {
    config.bzimage = { buffer: toArrayBuffer(options.bzimage) };
    if (options.initrd) config.initrd = { buffer: toArrayBuffer(options.initrd) };
    if (options.cmdline !== undefined) config.cmdline = options.cmdline;
  }

  const emulator = new V86(config);
  const internals = emulator as unknown as V86Internals;

  const sizeEvents: Array<readonly [number, number, number]> = [];
  // v86 only reports a graphics size when it changes, so a return to an
  // earlier graphics mode (through text mode) arrives as set_mode(true) alone.
  let graphical = false;
  const gfx = { width: 0, height: 0 };
  const textGrid = { cols: 80, rows: 25 };
  const cursor = { row: 0, col: 0 };
  let frame = new Uint8Array(0);
  let serialText = '';
  let screen: ScreenAdapter | undefined;

  // v86 creates its screen adapter only once the wasm is instantiated, just
  // before the VGA device that uses it; patch it the moment it is assigned.
  Object.defineProperty(emulator, 'screen_adapter', {
    configurable: true,
    get: () => screen,
    set: (adapter: ScreenAdapter) => {
      screen = adapter;
      patchScreen(adapter);
    },
  });

  // Keep our own copy of the screen, as a canvas would: v86 hands over only the
  // rectangles that changed, each a window of its (possibly larger) buffer.
  function patchScreen(adapter: ScreenAdapter): void {
    adapter.set_size_graphical = (width, height) => {
      graphical = true;
      gfx.width = width;
      gfx.height = height;
      frame = new Uint8Array(width * height * 4);
    };
    const originalSetSizeText = adapter.set_size_text.bind(adapter);
    adapter.set_size_text = (cols, rows) => {
      graphical = false;
      textGrid.cols = cols;
      textGrid.rows = rows;
      originalSetSizeText(cols, rows);
    };
    adapter.set_mode = (isGraphical) => {
      graphical = isGraphical;
    };
    adapter.update_buffer = (layers) => {
      for (const layer of layers) composeLayer(frame, gfx.width, gfx.height, layer);
    };
    adapter.update_cursor = (row, col) => {
      cursor.row = row;
      cursor.col = col;
    };
  }
  emulator.add_listener('screen-set-size', (size) => {
    sizeEvents.push([size[0], size[1], size[2]]);
  });
  emulator.add_listener('serial0-output-byte', (byte) => {
    serialText += String.fromCharCode(byte);
  });

  let destroyed = false;
  const vm: NodeVm = {
    emulator,
    sizeEvents,
    get mode() {
      return graphical
        ? { graphical, width: gfx.width, height: gfx.height }
        : { graphical, width: textGrid.cols, height: textGrid.rows };
    },
    cursor,
    get serialText() {
      return serialText;
    },
    refresh() {
      internals.v86?.cpu.devices.vga?.screen_fill_buffer();
    },
    picture() {
      vm.refresh();
      if (!graphical) {
        throw new Error(`picture(): expected a graphics mode, the guest is in ${textGrid.cols}x${textGrid.rows} text mode`);
      }
      return { width: gfx.width, height: gfx.height, rgba: frame.slice() };
    },
    pictureHash() {
      const p = vm.picture();
      return `${p.width}x${p.height}:${createHash('sha1').update(p.rgba).digest('hex').slice(0, 16)}`;
    },
    textScreen() {
      return screen?.get_text_screen() ?? [];
    },
    sendScancodes(codes) {
      emulator.keyboard_send_scancodes(codes);
    },
    typeText(text) {
      // Not emulator.keyboard_send_text: it needs v86's browser keyboard adapter.
      emulator.keyboard_send_scancodes(textScancodes(text));
    },
    mouseDelta(dx, dy) {
      // A packet carries 9-bit deltas; v86 truncates larger ones instead of splitting them.
      const step = (v: number): number => Math.max(-255, Math.min(255, v));
      let restX = Math.trunc(dx);
      let restY = Math.trunc(dy);
      do {
        const sx = step(restX);
        const sy = step(restY);
        internals.bus.send('mouse-delta', [sx, sy]);
        restX -= sx;
        restY -= sy;
      } while (restX !== 0 || restY !== 0);
    },
    mouseButtons(left, middle, right) {
      internals.bus.send('mouse-click', [left, middle, right]);
    },
    serialSend(text) {
      emulator.serial0_send(text);
    },
    async waitFor(predicate, what, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        vm.refresh();
        if (predicate()) return;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(25);
      }
    },
    async waitForText(pattern, timeoutMs = 10_000) {
      const matches = (row: string): boolean => (typeof pattern === 'string' ? row.includes(pattern) : pattern.test(row));
      try {
        await vm.waitFor(() => vm.textScreen().some(matches), `text ${String(pattern)}`, timeoutMs);
      } catch (e) {
        throw new Error(`${(e as Error).message}; screen was:\n${vm.textScreen().join('\n')}`);
      }
    },
    async waitForSerial(pattern, timeoutMs = 10_000) {
      const matches = (): boolean => (typeof pattern === 'string' ? serialText.includes(pattern) : pattern.test(serialText));
      try {
        await vm.waitFor(matches, `serial output ${String(pattern)}`, timeoutMs);
      } catch (e) {
        throw new Error(`${(e as Error).message}; serial output was:\n${serialText.slice(-2000)}`);
      }
    },
    async waitForStablePicture(timeoutMs = 10_000) {
      // The guests draw only in reaction to input, so "unchanged for 150 ms"
      // means the reaction is complete.
      let last = '';
      let same = 0;
      await vm.waitFor(
        () => {
          const h = graphical ? vm.pictureHash() : `text:${vm.textScreen().join('\n')}`;
          same = h === last ? same + 1 : 0;
          last = h;
          return same >= 6;
        },
        'a stable picture',
        timeoutMs,
      );
      return last;
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await emulator.destroy();
    },
  };

  try {
    await waitForStart(emulator, options.startTimeoutMs ?? 20_000);
  } catch (e) {
    await vm.destroy();
    throw e;
  }
  return vm;
}

function waitForStart(emulator: V86, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`v86 did not start within ${timeoutMs} ms`)), timeoutMs);
    emulator.add_listener('emulator-started', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Copies one v86 layer into the screen-sized RGBA frame, clipped to both. */
function composeLayer(frame: Uint8Array, width: number, height: number, layer: ScreenLayer): void {
  const src = layer.image_data;
  if (src.data.byteLength === 0) return; // wasm memory grew; v86 re-creates it on the next fill
  const rows = Math.min(layer.buffer_height, height - layer.screen_y, src.height - layer.buffer_y);
  let x0 = 0;
  if (layer.screen_x < 0) x0 = -layer.screen_x;
  const cols = Math.min(layer.buffer_width, width - layer.screen_x, src.width - layer.buffer_x);
  if (rows <= 0 || cols <= x0) return;
  for (let r = 0; r < rows; r++) {
    const sy = layer.buffer_y + r;
    const dy = layer.screen_y + r;
    if (dy < 0 || sy < 0) continue;
    const s = (sy * src.width + layer.buffer_x + x0) * 4;
    const d = (dy * width + layer.screen_x + x0) * 4;
    frame.set(src.data.subarray(s, s + (cols - x0) * 4), d);
  }
}

/** Boots, runs `body`, and destroys the emulator whatever happens. */
export async function withV86<T>(options: BootOptions, body: (vm: NodeVm) => Promise<T>): Promise<T> {
  const vm = await bootV86(options);
  try {
    return await body(vm);
  } finally {
    await vm.destroy();
  }
}

/** Scancode set 1 make codes of named keys (break code = make | 0x80). */
const NAMED_KEYS: Readonly<Record<string, number>> = { enter: 0x1c, backspace: 0x0e, space: 0x39, tab: 0x0f, escape: 0x01 };
const LEFT_SHIFT = 0x2a;

/** US layout: rows of the keyboard as [unshifted, shifted, first make code]. */
const US_ROWS: ReadonlyArray<readonly [string, string, number]> = [
  ['1234567890-=', '!@#$%^&*()_+', 0x02],
  ['qwertyuiop[]', 'QWERTYUIOP{}', 0x10],
  ["asdfghjkl;'`", 'ASDFGHJKL:"~', 0x1e],
  ['\\zxcvbnm,./', '|ZXCVBNM<>?', 0x2b],
];

/** Character -> [make code, needs shift], for the US layout. */
const US_KEYS: ReadonlyMap<string, readonly [number, boolean]> = (() => {
  const map = new Map<string, readonly [number, boolean]>();
  for (const [plain, shifted, first] of US_ROWS) {
    for (let i = 0; i < plain.length; i++) {
      map.set(plain[i]!, [first + i, false]);
      map.set(shifted[i]!, [first + i, true]);
    }
  }
  map.set(' ', [NAMED_KEYS.space!, false]);
  map.set('\n', [NAMED_KEYS.enter!, false]);
  map.set('\t', [NAMED_KEYS.tab!, false]);
  map.set('\b', [NAMED_KEYS.backspace!, false]);
  return map;
})();

/** Make code of a character ("a", "1") or a named key ("enter"); throws for others. */
export function scancodeOf(key: string): number {
  const code = NAMED_KEYS[key] ?? US_KEYS.get(key)?.[0];
  if (code === undefined) {
    throw new Error(`scancodeOf: expected a US-layout character or one of ${Object.keys(NAMED_KEYS).join(', ')}, got "${key}"`);
  }
  return code;
}

/** Make then break code of one key (a character or a named key). */
export function keyPress(key: string): number[] {
  const code = scancodeOf(key);
  return [code, code | 0x80];
}

/** Scancodes that type `text` on a US layout, with shift where needed. */
export function textScancodes(text: string): number[] {
  const codes: number[] = [];
  for (const ch of text) {
    const key = US_KEYS.get(ch);
    if (!key) throw new Error(`textScancodes: expected printable ASCII, newline, tab or backspace, got ${JSON.stringify(ch)}`);
    const [code, shift] = key;
    if (shift) codes.push(LEFT_SHIFT);
    codes.push(code, code | 0x80);
    if (shift) codes.push(LEFT_SHIFT | 0x80);
  }
  return codes;
}
