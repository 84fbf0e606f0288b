/**
 * The v86 emulator in a Web Worker of its own, so the page's main thread (which
 * runs the SpiceServer) stays free. The worker owns the QXL producer of the
 * device: it turns the VGA into copy drawables (see {@link V86Display}) and
 * takes keyboard and mouse input from the inputs channel through Comlink.
 */
import * as Comlink from 'comlink';
import { V86 } from 'v86';
import v86WasmUrl from 'v86/build/v86.wasm?url';
import { QxlDevice } from '../../qxl/qxl-device.ts';
import { QxlProducer } from '../../qxl/qxl-producer.ts';
import { createLogger } from '../../util/logger.ts';
import { ps2MovePackets } from './ps2-mouse.ts';
import { V86Display, type V86Vga } from './v86-display.ts';
import { SerialLineReader, parseClipLine } from './guest-clipboard.ts';
import { Sb16Dac } from './sb16-dac.ts';
import type {
  GuestFramebuffer,
  GuestImage,
  V86HostApi,
  V86StartOptions,
  V86WorkerApi,
  V86WorkerStats,
  VgaTextDump,
} from './v86-api.ts';

const log = createLogger('v86-worker');

/** Screen refresh: v86's own browser adapter redraws at display rate; 60 Hz here. */
const PUMP_MS = 16;

/** VGA state read for {@link V86Worker.vgaTextDump}. */
interface VgaRegisters {
  vga_memory: Uint8Array;
  plane2: Uint8Array;
  start_address: number;
  max_cols: number;
  max_rows: number;
  max_scan_line: number;
  clocking_mode: number;
  attribute_mode: number;
  graphical_mode: boolean;
  svga_memory: Uint8Array;
  svga_offset: number;
  svga_width: number;
  svga_height: number;
}

/** The parts of a running V86 this worker uses beyond the typed API. */
interface V86Internals {
  screen_adapter: Record<string, unknown>;
  bus: {
    send(name: string, value?: unknown): void;
    register(name: string, fn: (value: never) => void, ctx: unknown): void;
  };
  v86?: {
    cpu?: {
      devices?: { vga?: V86Vga & VgaRegisters; ps2?: { next_read_led: boolean } };
      io?: { ports: Array<{ write8: (this: unknown, value: number) => void }> };
    };
  };
}

async function loadImage(img: GuestImage | undefined): Promise<{ buffer: ArrayBuffer } | undefined> {
  if (!img) return undefined;
  if (img.buffer) return { buffer: img.buffer };
  const res = await fetch(img.url!);
  if (!res.ok) throw new Error(`fetching ${img.url}: expected HTTP 200, got ${res.status} ${res.statusText}`);
  return { buffer: await res.arrayBuffer() };
}

export class V86Worker implements V86WorkerApi {
  private emulator: (V86 & V86Internals) | null = null;
  private sharedFolder = false;
  private display: V86Display | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private host: V86HostApi | null = null;
  private absolute = false;
  private serialLine = '';
  private leds = 0;
  private buttons: [boolean, boolean, boolean] = [false, false, false];
  private lastAbsolute: { x: number; y: number } | null = null;
  private dac: Sb16Dac | null = null;
  private soundPort: MessagePort | null = null;

  async start(opts: V86StartOptions, host: V86HostApi): Promise<void> {
    this.host = host;
    const device = await QxlDevice.attach(opts.memory);
    const producer = new QxlProducer(device);
    const [bios, vgaBios, fda, hda, cdrom, bzimage, initrd] = await Promise.all([
      loadImage(opts.bios),
      loadImage(opts.vgaBios),
      loadImage(opts.fda),
      loadImage(opts.hda),
      loadImage(opts.cdrom),
      loadImage(opts.bzimage),
      loadImage(opts.initrd),
    ]);
    const emulator = new V86({
      wasm_path: v86WasmUrl,
      bios,
      vga_bios: vgaBios,
      fda,
      hda,
      cdrom,
      bzimage,
      initrd,
      cmdline: opts.cmdline,
      memory_size: opts.memoryMB * 1024 * 1024,
      // 1920x1080x32 needs 8 MB; leave room for larger VBE modes.
      vga_memory_size: 32 * 1024 * 1024,
      autostart: true,
      disable_keyboard: true,
      disable_mouse: true,
      disable_speaker: true,
      initial_state: opts.initialState ? { buffer: opts.initialState } : undefined,
      // An empty 9p filesystem: files clients send are written into it (writeFile).
      filesystem: opts.sharedFolder ? {} : undefined,
      uart1: opts.guestClipboard === true,
    }) as V86 & V86Internals;
    this.emulator = emulator;
    this.sharedFolder = opts.sharedFolder === true;
    // The Sound Blaster 16's DAC: always there, so a guest's DMA playback is paced even unheard.
    this.dac = new Sb16Dac(emulator.bus);
    this.dac.attach(this.soundPort);
    const display = new V86Display(producer, { createPrimary: (w, h) => host.createPrimary(w, h) }, () => emulator.v86?.cpu?.devices?.vga ?? null);
    this.display = display;
    // Without a screen container v86 makes a dummy screen adapter once its WASM has
    // loaded (after this constructor returns); ours replaces its methods as it is set.
    let adapter: Record<string, unknown> | undefined;
    Object.defineProperty(emulator, 'screen_adapter', {
      configurable: true,
      get: () => adapter,
      set: (value: Record<string, unknown>) => {
        adapter = Object.assign(value, display.adapterMethods());
      },
    });
    emulator.bus.register(
      'vmware-absolute-mouse',
      (enabled: boolean) => {
        if (enabled === this.absolute) return;
        this.absolute = enabled;
        log.info(`guest ${enabled ? 'enabled' : 'disabled'} the VMware absolute pointer`);
        host.absoluteMouse(enabled);
      },
      this,
    );
    emulator.add_listener('serial0-output-byte', (byte: number) => {
      if (byte === 10) {
        host.serialLine(this.serialLine);
        this.serialLine = '';
      } else if (byte !== 13 && this.serialLine.length < 4096) this.serialLine += String.fromCharCode(byte);
    });
    if (opts.guestClipboard) {
      const com2 = new SerialLineReader((line) => {
        const text = parseClipLine(line);
        if (text !== null) host.guestClipboard(text);
        else log.debug(`COM2: not a spice-clip line (${line.length} characters): ignored`);
      });
      emulator.add_listener('serial1-output-byte', (byte: number) => com2.push(byte));
    }
    await new Promise<void>((resolve) => emulator.add_listener('emulator-ready', () => resolve()));
    this.watchKeyboardLeds(emulator, host);
    this.timer = setInterval(() => {
      display.pump().catch((e: unknown) => log.error(`display update failed: ${(e as Error).message}`));
    }, PUMP_MS);
    log.info(`v86 started (${opts.memoryMB} MiB)`);
  }

  /**
   * v86 accepts the guest's Set-LEDs command (0xED, then the LED byte on port
   * 0x60) but keeps nothing; the port's write handler is wrapped to see the byte.
   * PS/2 LED bits (1 scroll, 2 num, 4 caps) are SPICE's modifier bits.
   */
  private watchKeyboardLeds(emulator: V86Internals, host: V86HostApi): void {
    const ps2 = emulator.v86?.cpu?.devices?.ps2;
    const entry = emulator.v86?.cpu?.io?.ports[0x60];
    if (!ps2 || !entry) {
      log.warn('keyboard LEDs cannot be followed in this v86 build');
      return;
    }
    const write = entry.write8;
    const setLeds = (leds: number): void => this.setLeds(leds, host);
    entry.write8 = function (this: unknown, value: number): void {
      const ledByte = ps2.next_read_led;
      write.call(this, value);
      if (ledByte) setLeds(value & 7);
    };
  }

  private setLeds(leds: number, host: V86HostApi): void {
    if (leds === this.leds) return;
    this.leds = leds;
    host.keyboardLeds(leds);
  }

  keyboard(scancode: number[]): void {
    this.emulator?.keyboard_send_scancodes(scancode);
  }

  mouseMotion(dx: number, dy: number): void {
    const e = this.emulator;
    if (!e) return;
    // Bounded per call (ps2MovePackets), whatever the input. v86 takes y growing upwards; SPICE downwards.
    for (const [x, y] of ps2MovePackets(dx, dy)) e.bus.send('mouse-delta', [x, -y]);
  }

  mouseButtons(left: boolean, middle: boolean, right: boolean): void {
    this.buttons = [left, middle, right];
    this.emulator?.bus.send('mouse-click', this.buttons);
  }

  mouseWheel(dy: number): void {
    this.emulator?.bus.send('mouse-wheel', [dy, 0]);
  }

  mouseAbsolute(x: number, y: number): void {
    const s = this.display?.size;
    const e = this.emulator;
    if (!s || !e) return;
    // The server clamps already; this keeps the worker's own API safe too.
    const to = { x: Math.max(0, Math.min(s.width - 1, Math.trunc(x) || 0)), y: Math.max(0, Math.min(s.height - 1, Math.trunc(y) || 0)) };
    e.bus.send('mouse-absolute', [to.x, to.y, s.width, s.height]);
    // The VMware pointer only queues the position: the guest's driver reads the
    // queue when the PS/2 mouse interrupts. So a PS/2 packet follows, as v86's
    // own browser adapter does: the relative move, or the unchanged buttons.
    const last = this.lastAbsolute;
    this.lastAbsolute = to;
    if (last && (to.x !== last.x || to.y !== last.y)) this.mouseMotion(to.x - last.x, to.y - last.y);
    else e.bus.send('mouse-click', this.buttons);
  }

  serialSend(text: string): void {
    this.emulator?.serial0_send(text);
  }

  async writeFile(name: string, data: Uint8Array): Promise<void> {
    if (!this.emulator) throw new Error('writeFile: the VM is not running');
    if (!this.sharedFolder) throw new Error('writeFile: this VM was started without a shared folder (sharedFolder: true)');
    if (!/^[^/\0]+$/.test(name) || name === '.' || name === '..') {
      throw new Error(`writeFile: expected a plain file name, got ${JSON.stringify(name)}`);
    }
    await this.emulator.create_file(`/${name}`, data);
    log.info(`wrote ${name} (${data.byteLength} bytes) into the VM's shared folder`);
  }

  ctrlAltDel(): void {
    // Set-1 make codes of Ctrl, Alt and (keypad) Del, then their break codes in reverse.
    this.emulator?.keyboard_send_scancodes([0x1d, 0x38, 0x53, 0xd3, 0xb8, 0x9d]);
  }

  reset(): void {
    const e = this.emulator;
    if (!e) return;
    e.restart();
    this.lastAbsolute = null;
    // A fresh boot has no VMware pointer driver: clients go back to relative motion.
    if (this.absolute) {
      this.absolute = false;
      this.host?.absoluteMouse(false);
    }
    this.display?.text.invalidate();
    log.info('VM reset');
  }

  async stats(): Promise<V86WorkerStats> {
    const d = this.display;
    return {
      mode: d?.mode ?? 'text',
      width: d?.size?.width ?? 0,
      height: d?.size?.height ?? 0,
      absoluteMouse: this.absolute,
      surfacesCreated: d?.surfacesCreated ?? 0,
      pending: d?.pending ?? false,
      leds: this.leds,
      soundFrames: this.dac?.framesOut ?? 0,
    };
  }

  async attachSound(port: MessagePort): Promise<void> {
    this.soundPort = port;
    this.dac?.attach(port);
  }

  async textScreen(): Promise<{ lines: string[]; cursor: { row: number; col: number } }> {
    const t = this.display?.text;
    return { lines: t?.textLines() ?? [], cursor: t ? { row: t.cursor.row, col: t.cursor.col } : { row: 0, col: 0 } };
  }

  async framebuffer(): Promise<{ width: number; height: number; pixels: Uint32Array } | null> {
    const d = this.display;
    if (!d?.size) return null;
    return { width: d.size.width, height: d.size.height, pixels: d.framebuffer.slice() };
  }

  async vgaTextDump(): Promise<VgaTextDump | null> {
    const vga = this.emulator?.v86?.cpu?.devices?.vga;
    if (!vga || vga.graphical_mode) return null;
    const start = vga.start_address << 1;
    const cols = vga.max_cols;
    const rows = vga.max_rows;
    const t = this.display?.text;
    return {
      cols,
      rows,
      cells: vga.vga_memory.slice(start, start + cols * rows * 2),
      font: vga.plane2.slice(0, 256 * 32),
      fontHeight: (vga.max_scan_line & 31) + 1,
      width9: !(vga.clocking_mode & 1),
      blinkEnabled: (vga.attribute_mode & 8) !== 0,
      cursor: t ? { row: t.cursor.row, col: t.cursor.col } : { row: -1, col: -1 },
    };
  }

  async guestFramebuffer(): Promise<GuestFramebuffer | null> {
    const vga = this.emulator?.v86?.cpu?.devices?.vga;
    if (!vga || !vga.graphical_mode || !vga.svga_enabled || vga.svga_bpp !== 32) return null;
    const size = vga.svga_width * vga.svga_height * 4;
    return {
      width: vga.svga_width,
      height: vga.svga_height,
      bpp: 32,
      bytes: vga.svga_memory.slice(vga.svga_offset, vga.svga_offset + size),
    };
  }

  async saveState(): Promise<ArrayBuffer> {
    if (!this.emulator) throw new Error('saveState: the VM is not running');
    return Comlink.transfer(await this.emulator.save_state(), []);
  }

  async restoreState(state: ArrayBuffer): Promise<void> {
    if (!this.emulator) throw new Error('restoreState: the VM is not running');
    await this.emulator.restore_state(state);
    this.display?.text.invalidate();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.dac?.stop();
    await this.emulator?.destroy();
    this.emulator = null;
  }
}

const scope = globalThis as { WorkerGlobalScope?: unknown };
if (typeof scope.WorkerGlobalScope !== 'undefined') Comlink.expose(new V86Worker());
