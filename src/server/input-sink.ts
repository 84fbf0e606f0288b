/**
 * Where the inputs channel delivers what clients do. A source (v86, a canvas,
 * the test pattern) implements it.
 */
export interface InputSink {
  /** PC AT set-1 scancode bytes of one key press (E0/E1 prefix included). */
  keyDown(scancode: readonly number[]): void;
  keyUp(scancode: readonly number[]): void;
  /** Client lock state (SCROLL 1, NUM 2, CAPS 4). */
  setKeyModifiers(modifiers: number): void;
  /** Relative motion (server mouse mode). `buttons` is the SPICE buttons mask. */
  mouseMotion(dx: number, dy: number, buttons: number): void;
  /** Absolute position in surface pixels (client mouse mode). */
  mousePosition(x: number, y: number, buttons: number, displayId: number): void;
  /** SPICE button code (1 left, 2 middle, 3 right, 4/5 wheel up/down) and the mask after the event. */
  mousePress(button: number, buttons: number): void;
  mouseRelease(button: number, buttons: number): void;
}

/** The guest's keyboard LED state, if the sink knows it. */
export interface KeyModifierSource {
  getKeyModifiers(): number;
}

/** An input event as recorded by {@link RecordingInputSink}. */
export type InputEvent =
  | { kind: 'keyDown' | 'keyUp'; scancode: number[] }
  | { kind: 'modifiers'; modifiers: number }
  | { kind: 'motion'; dx: number; dy: number; buttons: number }
  | { kind: 'position'; x: number; y: number; buttons: number; displayId: number }
  | { kind: 'press' | 'release'; button: number; buttons: number };

/**
 * Keeps the last events (bounded) and passes each on to `next`, the source's
 * own sink, if there is one. Pages expose it so tests see what arrived.
 */
export class RecordingInputSink implements InputSink, KeyModifierSource {
  readonly events: InputEvent[] = [];
  constructor(
    private readonly limit = 1000,
    /** The sink that acts on the events (null: record only). */
    public next: InputSink | null = null,
  ) {}
  private add(e: InputEvent): void {
    this.events.push(e);
    if (this.events.length > this.limit) this.events.splice(0, this.events.length - this.limit);
  }
  /** The source's LED state, if it has one. */
  getKeyModifiers(): number {
    const next = this.next as (InputSink & Partial<KeyModifierSource>) | null;
    return next?.getKeyModifiers?.() ?? 0;
  }
  keyDown(scancode: readonly number[]): void {
    this.add({ kind: 'keyDown', scancode: [...scancode] });
    this.next?.keyDown(scancode);
  }
  keyUp(scancode: readonly number[]): void {
    this.add({ kind: 'keyUp', scancode: [...scancode] });
    this.next?.keyUp(scancode);
  }
  setKeyModifiers(modifiers: number): void {
    this.add({ kind: 'modifiers', modifiers });
    this.next?.setKeyModifiers(modifiers);
  }
  mouseMotion(dx: number, dy: number, buttons: number): void {
    this.add({ kind: 'motion', dx, dy, buttons });
    this.next?.mouseMotion(dx, dy, buttons);
  }
  mousePosition(x: number, y: number, buttons: number, displayId: number): void {
    this.add({ kind: 'position', x, y, buttons, displayId });
    this.next?.mousePosition(x, y, buttons, displayId);
  }
  mousePress(button: number, buttons: number): void {
    this.add({ kind: 'press', button, buttons });
    this.next?.mousePress(button, buttons);
  }
  mouseRelease(button: number, buttons: number): void {
    this.add({ kind: 'release', button, buttons });
    this.next?.mouseRelease(button, buttons);
  }
}
