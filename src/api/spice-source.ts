/**
 * The library's plug-in points for emulators and apps: a {@link SpiceSource}
 * draws into the {@link SpiceDisplay} a session hands it and, optionally,
 * takes what clients do through an {@link InputSink}.
 *
 * ```ts
 * const source: SpiceSource = {
 *   async attach(display) {
 *     await display.resize(640, 480);
 *     display.framebuffer.fill(0x3366cc); // xRGB
 *     display.flush();
 *   },
 * };
 * await SpiceWebServer.start({ relayUrl: 'ws://127.0.0.1:8765', source });
 * ```
 */
import type { CursorShape, QxlProducer } from '../qxl/qxl-producer.ts';
import type { AgentSink, SpiceAgent } from '../server/agent-sink.ts';
import type { InputSink } from '../server/input-sink.ts';

export type { CursorShape } from '../qxl/qxl-producer.ts';
export type { InputSink } from '../server/input-sink.ts';
export type { AgentSink, SpiceAgent, ResizeRequest, ReceivedFile, FileProgress } from '../server/agent-sink.ts';

/** A rectangle in surface pixels. */
export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** What a source draws into: the session's primary surface. */
export interface SpiceDisplay {
  /** Current surface size (0×0 before the first {@link SpiceDisplay.resize}). */
  readonly width: number;
  readonly height: number;
  /**
   * Creates (or recreates, at another size) the primary surface; clients get
   * the new surface. The framebuffer is replaced: fetch it again afterwards.
   */
  resize(width: number, height: number): Promise<void>;
  /**
   * The surface's pixels as 0x00RRGGBB words (bytes B,G,R,x), `width` per row,
   * in the shared device memory. Draw here, then call {@link SpiceDisplay.flush}.
   */
  readonly framebuffer: Uint32Array;
  /**
   * Sends what changed since the last flush. Change detection finds it by
   * itself (scrolls and moved blocks become COPY_BITS); `dirty` rects, when
   * the source knows them, limit the rows it compares. Returns false when the
   * device was full: the rest goes with the next flush.
   */
  flush(dirty?: readonly Rect[]): boolean;
  /**
   * Copies a frame of RGBA bytes (canvas ImageData order) of the surface's
   * size into the framebuffer, then flushes.
   */
  pushRgba(rgba: Uint8Array | Uint8ClampedArray, dirty?: readonly Rect[]): boolean;
  /** Shows a cursor shape at (x, y) on clients; null hides it. */
  setCursor(shape: CursorShape | null, x?: number, y?: number): boolean;
  /** Moves the cursor set last. */
  moveCursor(x: number, y: number): boolean;
  /** The QXL command producer, for sources that build drawables themselves (copy, copy-bits). */
  readonly producer: QxlProducer;
}

/**
 * The session's sound output (its SPICE playback channel), for sources that
 * declare {@link SpiceSource.sound}. What every input plays is mixed; clients
 * get it as Opus when they decode it, raw 48 kHz S16 otherwise. The audio
 * goes from where it is made (an AudioWorklet, a message port) to the
 * session's SoundWorker without waiting on this thread.
 */
export interface SpiceAudio {
  /**
   * Plays interleaved signed 16-bit PCM (`channels` 1 or 2) at `sampleRate`
   * (resampled to 48 kHz). Push as you make it: audio that arrives more than
   * about 60 ms ahead of the playback clock is dropped, oldest first.
   */
  pushPcm(samples: Int16Array, sampleRate?: number, channels?: number): void;
  /**
   * Plays what a Web Audio node outputs (tapped with an AudioWorklet in the
   * node's own context; the node still plays locally wherever it is
   * connected). Resolves with a function that stops the tap.
   */
  connectNode(node: AudioNode): Promise<() => void>;
  /** Plays a MediaStream's audio tracks (e.g. a `<video>`'s `captureStream()`, a microphone). */
  connectStream(stream: MediaStream): Promise<() => void>;
  /** Volume clients are told to use, 0..1 for every channel (SPICE VOLUME). */
  setVolume(level: number): Promise<void>;
  /** Mutes or unmutes the clients (SPICE MUTE). */
  setMute(mute: boolean): Promise<void>;
}

/** A source of pictures (and, optionally, a sink of input and sound) for one session. */
export interface SpiceSource {
  /**
   * Called once when the session starts; set the surface size here and draw
   * the first frame. `audio` is the session's sound output when the source
   * declares {@link SpiceSource.sound}, else null.
   */
  attach(display: SpiceDisplay, audio: SpiceAudio | null): Promise<void> | void;
  /** True: the session offers clients a playback channel and hands {@link attach} a {@link SpiceAudio}. */
  readonly sound?: boolean;
  /**
   * Takes clients' microphones: the session offers the record channel, asks
   * every client that links it to capture, and calls this with what each
   * sends (interleaved S16, 48 kHz stereo, in the client's packets).
   */
  microphone?(samples: Int16Array, sampleRate: number, channels: number): void;
  /** Called when the session stops. */
  detach?(): Promise<void> | void;
  /** Where clients' keys and mouse go; absent: clients only watch. */
  readonly input?: InputSink;
  /** Whether the source takes absolute positions (client mouse mode) from the start. Default true. */
  readonly absolutePointer?: boolean;
  /**
   * What clients' agents ask of the source (the page is their guest agent):
   * clipboard text and images, a new display size, files. Absent: the
   * clipboard stays between clients, resizes and files are refused.
   */
  readonly agent?: AgentSink;
  /** Called once, after {@link SpiceSource.attach}, with the agent through which the source offers its clipboard. */
  attachAgent?(agent: SpiceAgent): void;
}
