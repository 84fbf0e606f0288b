/**
 * V86Source: the page's handle on a v86 VM running in its own worker. It is the
 * inputs channel's sink (keys as set-1 scancodes, relative or absolute mouse,
 * buttons, wheel) and relays the worker's display requests to the RedWorker.
 * As the agent's sink it pastes a client's clipboard text by typing it
 * ({@link PasteTyper}); files go into the VM's shared folder when it has one
 * (the Linux guest's /mnt/host); the guest has no agent of its own, so
 * resizes are refused.
 */
import * as Comlink from 'comlink';
import type { AgentSink, ReceivedFile } from '../../server/agent-sink.ts';
import type { InputSink, KeyModifierSource } from '../../server/input-sink.ts';
import { PasteTyper } from '../paste-typer.ts';
import { KeyModifier, MouseButton as Button } from '../../protocol/constants.ts';
import { createLogger } from '../../util/logger.ts';
import type { V86StartOptions, V86WorkerApi, V86WorkerStats } from './v86-api.ts';

const log = createLogger('v86-source');

export interface V86SourceHooks {
  createPrimary(width: number, height: number): Promise<void>;
  /** The guest turned its absolute pointer on or off. */
  absoluteMouse(enabled: boolean): void;
  serialLine?(line: string): void;
  /** The guest's keyboard LEDs changed (tell the clients). */
  keyboardLeds?(leds: number): void;
  /** The guest copied text (its spice-clip helper): offer it to the clients. */
  guestClipboard?(text: string): void;
}

/** Set-1 make codes of the lock keys, to toggle the guest's state. */
const LOCK_KEYS: ReadonlyArray<[number, number]> = [
  [KeyModifier.CAPS_LOCK, 0x3a],
  [KeyModifier.NUM_LOCK, 0x45],
  [KeyModifier.SCROLL_LOCK, 0x46],
];

export class V86Source implements InputSink, KeyModifierSource, AgentSink {
  private readonly buttons = { left: false, middle: false, right: false };
  /** Types pasted text into the guest. */
  readonly typer = new PasteTyper(
    (scancodes) => this.remote.keyboard(scancodes),
    {},
    () => (this.leds & KeyModifier.CAPS_LOCK) !== 0,
  );
  /** The guest's LEDs as last reported. */
  private leds = 0;
  /** Last lines the guest wrote to its serial port (bounded). */
  readonly serial: string[] = [];

  private constructor(
    private readonly worker: Worker,
    readonly remote: Comlink.Remote<V86WorkerApi>,
    /** Whether the VM has a 9p shared folder that received files go into. */
    readonly sharedFolder: boolean,
  ) {}

  /** Starts the worker and boots the VM. */
  static async start(opts: V86StartOptions, hooks: V86SourceHooks): Promise<V86Source> {
    const worker = new Worker(new URL('./v86-worker.ts', import.meta.url), { type: 'module', name: 'v86' });
    const remote = Comlink.wrap<V86WorkerApi>(worker);
    const source = new V86Source(worker, remote, opts.sharedFolder === true);
    const transfer = [opts.bios.buffer, opts.vgaBios.buffer, opts.fda?.buffer, opts.hda?.buffer, opts.cdrom?.buffer]
      .filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
    await remote.start(
      Comlink.transfer(opts, transfer),
      Comlink.proxy({
        createPrimary: (w: number, h: number) => hooks.createPrimary(w, h),
        absoluteMouse: (on: boolean) => hooks.absoluteMouse(on),
        keyboardLeds: (leds: number) => {
          source.leds = leds;
          hooks.keyboardLeds?.(leds);
        },
        guestClipboard: (text: string) => hooks.guestClipboard?.(text),
        serialLine: (line: string) => {
          source.serial.push(line);
          if (source.serial.length > 500) source.serial.shift();
          hooks.serialLine?.(line);
        },
      }),
    );
    log.info('v86 VM running in its worker');
    return source;
  }

  keyDown(scancode: readonly number[]): void {
    this.remote.keyboard([...scancode]);
  }

  keyUp(scancode: readonly number[]): void {
    this.remote.keyboard([...scancode]);
  }

  /** A client copied text: the guest gets it typed, as if pasted. */
  clipboardText(text: string): void {
    log.info(`typing ${text.length} pasted character(s) into the guest`);
    this.typer.paste(text);
  }

  /** A client sent a file: into the shared folder with it (the page keeps its copy too). */
  fileReceived(file: ReceivedFile): void {
    if (!this.sharedFolder) return;
    this.remote.writeFile(file.name, file.data).catch((e: unknown) =>
      log.warn(`could not put "${file.name}" into the VM: ${(e as Error).message}`),
    );
  }

  getKeyModifiers(): number {
    return this.leds;
  }

  /** The client's lock state differs from the guest's: press the lock keys that differ (as spice-server does). */
  setKeyModifiers(modifiers: number): void {
    for (const [bit, make] of LOCK_KEYS) {
      if ((modifiers & bit) !== (this.leds & bit)) this.remote.keyboard([make, make | 0x80]);
    }
  }

  // Button state comes from PRESS/RELEASE only: spice-html5's motion masks are unreliable.
  mouseMotion(dx: number, dy: number, _buttons: number): void {
    if (dx || dy) this.remote.mouseMotion(dx, dy);
  }

  mousePosition(x: number, y: number, _buttons: number, _displayId: number): void {
    this.remote.mouseAbsolute(x, y);
  }

  mousePress(button: number, _buttons: number): void {
    if (button === Button.UP) this.remote.mouseWheel(-1);
    else if (button === Button.DOWN) this.remote.mouseWheel(1);
    else this.setButton(button, true);
  }

  mouseRelease(button: number, _buttons: number): void {
    if (button !== Button.UP && button !== Button.DOWN) this.setButton(button, false);
  }

  private setButton(button: number, down: boolean): void {
    const b = this.buttons;
    if (button === Button.LEFT) b.left = down;
    else if (button === Button.MIDDLE) b.middle = down;
    else if (button === Button.RIGHT) b.right = down;
    else return;
    this.remote.mouseButtons(b.left, b.middle, b.right);
  }

  stats(): Promise<V86WorkerStats> {
    return this.remote.stats();
  }

  /** The guest's Sound Blaster 16 plays into this SoundWorker feed port (straight from the v86 worker). */
  attachSound(port: MessagePort): Promise<void> {
    return this.remote.attachSound(Comlink.transfer(port, [port]));
  }

  async stop(): Promise<void> {
    this.typer.cancel();
    try {
      await this.remote.stop();
    } finally {
      this.remote[Comlink.releaseProxy]();
      this.worker.terminate();
    }
  }
}
