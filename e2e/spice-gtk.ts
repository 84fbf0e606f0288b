/**
 * Drives e2e/tools/spice_gtk_client.py: a scriptable spice-gtk (SpiceClientGLib)
 * client that connects over TCP and sends input through spice-gtk's own inputs
 * channel. See the script's docstring for the line protocol.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { parsePpm, type RgbImage } from './harness.ts';

/** Debian's Python has gi and SpiceClientGLib; a pyenv `python3` on PATH does not. */
const PYTHON = process.env.SPICE_GTK_PYTHON ?? '/usr/bin/python3';
const SCRIPT = join(import.meta.dirname, 'tools', 'spice_gtk_client.py');

/** A PC AT set-1 make code: 0x1E, 0xE04B / [0xE0, 0x4B] for prefixed keys, or spice-gtk's 0x14B. */
export type Scancode = number | string | number[];

/** SPICE mouse modes (main channel). */
export const MOUSE_MODE_SERVER = 1;
export const MOUSE_MODE_CLIENT = 2;

export type SpiceGtkCommand =
  | { cmd: 'ping' }
  | { cmd: 'quit' }
  | { cmd: 'wait-display' }
  | { cmd: 'mouse-mode' }
  | { cmd: 'request-mouse-mode'; mode: number; timeoutMs?: number }
  | { cmd: 'key'; scancode: Scancode; down: boolean }
  | { cmd: 'key-press-release'; scancode: Scancode }
  | { cmd: 'key-locks'; locks: number }
  | { cmd: 'get-locks' }
  | { cmd: 'cursor' }
  | { cmd: 'watch-frames' }
  | { cmd: 'frames' }
  | { cmd: 'motion'; dx: number; dy: number }
  | { cmd: 'position'; x: number; y: number; display?: number }
  | { cmd: 'button'; button: number; down: boolean }
  | { cmd: 'screenshot'; path: string }
  | { cmd: 'wait-agent'; timeoutMs?: number }
  | { cmd: 'clipboard-grab'; text: string }
  | { cmd: 'clipboard-requests' }
  | { cmd: 'clipboard-wait-grab'; timeoutMs?: number }
  | { cmd: 'clipboard-request' }
  | { cmd: 'monitor-config'; width: number; height: number }
  | { cmd: 'wait-primary'; width: number; height: number; timeoutMs?: number }
  | { cmd: 'file-copy'; path: string }
  | { cmd: 'playback' }
  | { cmd: 'record-playback'; path: string; ms: number }
  | { cmd: 'record' }
  | { cmd: 'record-send'; hz: number; ms: number }
  | { cmd: 'watch-playback' }
  | { cmd: 'playback-arrivals' }
  | { cmd: 'watch-av'; probe: [number, number, number, number] }
  | { cmd: 'av-events' };

export interface SpiceGtkReply {
  ok: boolean;
  error?: string;
  [key: string]: unknown;
}

export interface SpiceGtkReady {
  width: number;
  height: number;
  /** SPICE_SURFACE_FMT_* of the primary surface. */
  format: number;
  mouseMode: number;
}

/** spice-gtk's view of the cursor channel. */
export interface CursorState {
  sets: number;
  moves: number;
  hides: number;
  visible: boolean;
  x: number | null;
  y: number | null;
  width: number;
  height: number;
}

/** spice-gtk's playback channel as an audio backend sees it. */
export interface PlaybackState {
  starts: number;
  stops: number;
  playing: boolean;
  /** SPICE_AUDIO_FMT_* (1 = S16). */
  format: number;
  channels: number;
  rate: number;
  /** Bytes of decoded PCM handed out so far. */
  bytes: number;
  /** The levels of the last VOLUME, per channel. */
  volume: number[];
  mute: boolean;
  /** The channel's min-latency (ms): the last LATENCY since the latest START (spice-gtk resets it to 200 at START). */
  min_latency: number;
}

/**
 * Media times as spice-gtk saw them (see the script's --media-times). Times
 * `t` are ms of GLib's monotonic clock; `t + epochOffset` is epoch ms.
 */
export interface AvEvents {
  /** [t, X]: the session clock was set to X (MAIN_INIT, MULTI_MEDIA_TIME, set_delay). */
  clock: Array<[number, number]>;
  /** [t, mm, margin] per STREAM_DATA: its media time, and that minus the session clock then. */
  frames: Array<[number, number | null, number]>;
  /** [t, level] per redraw touching the probe: the mean of its R, G and B (0..255). */
  shown: Array<[number, number]>;
  /** [t, bytes, onset, peak] per playback-data: the first frame at ≥ 1/8 full scale (-1: none), the largest |left sample|. */
  packets: Array<[number, number, number, number]>;
  /** [k, time]: the DATA time of packets[k], from the set_delay answering playback-get-delay. */
  anchors: Array<[number, number]>;
  /** Stream frames spice-gtk dropped as too late to show. */
  drops: number;
  epochOffset: number;
}

export interface SpiceGtkClient {
  /** What the script reported once main, inputs and the display's primary surface were up. */
  readonly ready: SpiceGtkReady;
  /** Everything the script (and spice-gtk) wrote to stderr so far. */
  stderr(): string;
  /** Sends one command; resolves with its reply as is (`ok: false` included). */
  send(cmd: SpiceGtkCommand, timeoutMs?: number): Promise<SpiceGtkReply>;
  ping(): Promise<void>;
  waitDisplay(): Promise<{ width: number; height: number; format: number }>;
  mouseMode(): Promise<number>;
  /** Asks the server for a mouse mode; resolves once the main channel reports it. */
  requestMouseMode(mode: number): Promise<void>;
  /** KEY_DOWN (down) or KEY_UP through spice_inputs_channel_key_press/_release. Returns spice-gtk's code. */
  key(scancode: Scancode, down: boolean): Promise<number>;
  /** spice_inputs_channel_key_press_and_release (KEY_SCANCODE when the server has the cap). */
  keyPressRelease(scancode: Scancode): Promise<number>;
  keyLocks(locks: number): Promise<void>;
  /** The lock state the server last announced (INIT or KEY_MODIFIERS). */
  getLocks(): Promise<number>;
  /** What spice-gtk's cursor channel reported (cursor-set/-move/-hide signals, counted). */
  cursor(): Promise<CursorState>;
  /** Starts recording the frame number its picture shows (the barcode), with receive times. */
  watchFrames(): Promise<void>;
  /** Stops recording; returns [frame, epoch ms] pairs, one per change. */
  frames(): Promise<Array<[number, number]>>;
  /** Relative motion (server mouse mode). */
  motion(dx: number, dy: number): Promise<void>;
  /** Absolute position (client mouse mode). */
  position(x: number, y: number, display?: number): Promise<void>;
  /** Presses or releases a SPICE button (1 left, 2 middle, 3 right, 4/5 wheel); returns the mask sent. */
  button(button: number, down: boolean): Promise<number>;
  /** The display channel's primary surface now, as spice-gtk holds it. */
  screenshot(): Promise<RgbImage>;
  /** Waits until the main channel has the agent and its capabilities; returns agent-caps-0. */
  waitAgent(): Promise<number>;
  /** Grabs the client clipboard with UTF-8 `text` (what the agent gets when it asks). */
  clipboardGrab(text: string): Promise<void>;
  /** How many agent requests for our clipboard were answered. */
  clipboardRequests(): Promise<number>;
  /** Waits for the agent's next clipboard grab; returns the types it offers. */
  clipboardWaitGrab(): Promise<number[]>;
  /** Asks the agent for its UTF-8 clipboard (what a paste in the client gets). */
  clipboardRequest(): Promise<{ type: number; text: string }>;
  /** spice_main_channel_update_display for display 0 + send_monitor_config; returns whether spice-gtk sent it. */
  monitorConfig(width: number, height: number): Promise<boolean>;
  /** Waits until the primary surface is width×height (and marked drawn). */
  waitPrimary(width: number, height: number, timeoutMs?: number): Promise<void>;
  /** spice_main_channel_file_copy_async of one file; resolves when spice-gtk reports it done (rejects on its error). */
  fileCopy(path: string, timeoutMs?: number): Promise<void>;
  /** The playback channel's state (needs `audio: true`). */
  playback(): Promise<PlaybackState>;
  /** The next `ms` of decoded playback PCM (S16LE interleaved), as spice-gtk handed it out. */
  recordPlayback(ms: number): Promise<{ pcm: Uint8Array; channels: number; rate: number }>;
  /** The record channel as spice-gtk sees it: whether the server asked for the microphone. */
  record(): Promise<{ starts: number; stops: number; capturing: boolean; channels: number; rate: number }>;
  /** Sends `ms` of a sine of `hz` as microphone audio, through spice-gtk's record channel. */
  recordSend(hz: number, ms: number): Promise<number>;
  /** Starts recording when each playback-data arrives (restarting at every playback-start). */
  watchPlayback(): Promise<void>;
  /** Stops recording; returns [epoch ms, bytes] per playback-data since the latest START. */
  playbackArrivals(): Promise<Array<[number, number]>>;
  /** Starts recording media times (needs `mediaTimes`); `probe` is the rectangle whose redraws are measured. */
  watchAv(probe: [number, number, number, number]): Promise<void>;
  /** Stops recording; returns what spice-gtk stamped, showed and played meanwhile. */
  avEvents(): Promise<AvEvents>;
  /** Quits the script (SIGKILL if it does not exit in time). Idempotent. */
  close(): Promise<void>;
  /** Resolves with the exit code once the script has exited. */
  readonly exited: Promise<number | null>;
}

export class SpiceGtkClientError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(stderr.trim() ? `${message}\n--- spice_gtk_client stderr ---\n${stderr.trimEnd()}` : message);
    this.name = 'SpiceGtkClientError';
  }
}

export interface SpiceGtkOptions {
  port: number;
  host?: string;
  password?: string;
  /** How long the script may take to connect (its --timeout). */
  connectTimeoutMs?: number;
  /** Default time a command may take to be answered. */
  commandTimeoutMs?: number;
  /** Enable audio: the playback channel is connected and recorded (the script's --audio). */
  audio?: boolean;
  /**
   * Read spice-gtk's media times from its debug log and act as an audio
   * backend lagging this many ms (the script's --media-times): the session
   * clock then runs on the audio, as in remote-viewer with sound.
   */
  mediaTimes?: number;
  /** Extra environment, e.g. { SPICE_DEBUG: '1' }, { SPICE_DISABLE_OPUS: '1' }. */
  env?: NodeJS.ProcessEnv;
}

interface Pending {
  resolve(reply: SpiceGtkReply): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  what: string;
}

/** Starts the script; resolves once it is connected and ready, rejects (with its stderr) when it fails. */
export async function startSpiceGtkClient(opts: SpiceGtkOptions): Promise<SpiceGtkClient> {
  const connectTimeoutMs = opts.connectTimeoutMs ?? 20_000;
  const commandTimeoutMs = opts.commandTimeoutMs ?? 10_000;
  const args = [SCRIPT, '--host', opts.host ?? '127.0.0.1', '--port', String(opts.port), '--timeout', String(connectTimeoutMs / 1000)];
  if (opts.password !== undefined) args.push('--password', opts.password);
  if (opts.audio) args.push('--audio');
  if (opts.mediaTimes !== undefined) args.push('--media-times', String(opts.mediaTimes));
  const proc: ChildProcessByStdio<Writable, Readable, Readable> = spawn(PYTHON, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });

  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d: string) => {
    stderr += d;
  });
  // A quit script closes stdin early; writes after that must not crash the test run.
  proc.stdin.on('error', () => {});

  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    proc.once('error', (e) => {
      stderr += `spawn ${PYTHON}: ${e.message}\n`;
      exitCode = null;
      resolve(null);
    });
    // 'close' (not 'exit'): stdout and stderr are fully read by then.
    proc.once('close', (code) => {
      exitCode = code;
      resolve(code);
    });
  });

  const pending: Pending[] = [];
  let closing: Promise<void> | undefined;
  let onReady: ((r: SpiceGtkReady) => void) | undefined;
  const lines = createInterface({ input: proc.stdout });
  lines.on('line', (line) => {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      stderr += `(unparsable stdout line) ${line}\n`;
      return;
    }
    if (msg.ready === true && onReady) {
      onReady(msg as unknown as SpiceGtkReady);
      onReady = undefined;
      return;
    }
    const p = pending.shift();
    if (!p) {
      if (!closing) stderr += `(reply without a command) ${line}\n`;
      return;
    }
    clearTimeout(p.timer);
    p.resolve(msg as SpiceGtkReply);
  });

  void exited.then((code) => {
    for (const p of pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(new SpiceGtkClientError(`spice_gtk_client exited (${code}) before answering ${p.what}`, code, stderr));
    }
  });

  const ready = await new Promise<SpiceGtkReady>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new SpiceGtkClientError(`spice_gtk_client not ready within ${connectTimeoutMs + 5000} ms`, null, stderr));
    }, connectTimeoutMs + 5000);
    onReady = (r) => {
      clearTimeout(timer);
      resolve(r);
    };
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new SpiceGtkClientError(`spice_gtk_client exited with ${code} before it was ready`, code, stderr));
    });
  });

  const send = (cmd: SpiceGtkCommand, timeoutMs = commandTimeoutMs): Promise<SpiceGtkReply> => {
    const what = JSON.stringify(cmd);
    if (exitCode !== undefined) {
      return Promise.reject(new SpiceGtkClientError(`spice_gtk_client has exited (${exitCode}); cannot send ${what}`, exitCode, stderr));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = pending.findIndex((p) => p.timer === timer);
        // Replies come in order: a command that times out leaves the stream unusable.
        if (i >= 0) pending.splice(i, 1);
        proc.kill('SIGKILL');
        reject(new SpiceGtkClientError(`spice_gtk_client did not answer ${what} within ${timeoutMs} ms`, null, stderr));
      }, timeoutMs);
      pending.push({ resolve, reject, timer, what });
      proc.stdin.write(`${what}\n`);
    });
  };

  /** send() that throws on `ok: false`. */
  const call = async (cmd: SpiceGtkCommand, timeoutMs?: number): Promise<SpiceGtkReply> => {
    const reply = await send(cmd, timeoutMs);
    if (!reply.ok) throw new SpiceGtkClientError(`spice_gtk_client: ${JSON.stringify(cmd)} failed: ${reply.error}`, null, stderr);
    return reply;
  };

  return {
    ready,
    exited,
    stderr: () => stderr,
    send,
    async ping() {
      await call({ cmd: 'ping' });
    },
    async waitDisplay() {
      const r = await call({ cmd: 'wait-display' });
      return { width: r.width as number, height: r.height as number, format: r.format as number };
    },
    async mouseMode() {
      return (await call({ cmd: 'mouse-mode' })).mode as number;
    },
    async requestMouseMode(mode) {
      await call({ cmd: 'request-mouse-mode', mode, timeoutMs: 5000 }, 8000);
    },
    async key(scancode, down) {
      return (await call({ cmd: 'key', scancode, down })).code as number;
    },
    async keyPressRelease(scancode) {
      return (await call({ cmd: 'key-press-release', scancode })).code as number;
    },
    async keyLocks(locks) {
      await call({ cmd: 'key-locks', locks });
    },
    async getLocks() {
      return (await call({ cmd: 'get-locks' })).locks as number;
    },
    async watchFrames() {
      await call({ cmd: 'watch-frames' });
    },
    async frames() {
      return (await call({ cmd: 'frames' })).frames as Array<[number, number]>;
    },
    async cursor() {
      const r = await call({ cmd: 'cursor' });
      return {
        sets: r.sets as number,
        moves: r.moves as number,
        hides: r.hides as number,
        visible: r.visible as boolean,
        x: r.x as number | null,
        y: r.y as number | null,
        width: r.width as number,
        height: r.height as number,
      };
    },
    async motion(dx, dy) {
      await call({ cmd: 'motion', dx, dy });
    },
    async position(x, y, display = 0) {
      await call({ cmd: 'position', x, y, display });
    },
    async waitAgent() {
      return (await call({ cmd: 'wait-agent', timeoutMs: 10_000 }, 15_000)).caps0 as number;
    },
    async clipboardGrab(text) {
      await call({ cmd: 'clipboard-grab', text });
    },
    async clipboardRequests() {
      return (await call({ cmd: 'clipboard-requests' })).count as number;
    },
    async clipboardWaitGrab() {
      return (await call({ cmd: 'clipboard-wait-grab', timeoutMs: 10_000 }, 15_000)).types as number[];
    },
    async clipboardRequest() {
      const r = await call({ cmd: 'clipboard-request' });
      return { type: r.type as number, text: r.text as string };
    },
    async monitorConfig(width, height) {
      return (await call({ cmd: 'monitor-config', width, height })).sent as boolean;
    },
    async waitPrimary(width, height, timeoutMs = 15_000) {
      await call({ cmd: 'wait-primary', width, height, timeoutMs }, timeoutMs + 5000);
    },
    async fileCopy(path, timeoutMs = 30_000) {
      await call({ cmd: 'file-copy', path }, timeoutMs);
    },
    async button(button, down) {
      return (await call({ cmd: 'button', button, down })).buttons as number;
    },
    async playback() {
      const { ok: _ok, ...state } = await call({ cmd: 'playback' });
      return state as unknown as PlaybackState;
    },
    async record() {
      const { ok: _ok, ...state } = await call({ cmd: 'record' });
      return state as unknown as { starts: number; stops: number; capturing: boolean; channels: number; rate: number };
    },
    async recordSend(hz, ms) {
      return (await call({ cmd: 'record-send', hz, ms }, ms + 20_000)).bytes as number;
    },
    async watchPlayback() {
      await call({ cmd: 'watch-playback' });
    },
    async playbackArrivals() {
      return (await call({ cmd: 'playback-arrivals' }, 60_000)).arrivals as Array<[number, number]>;
    },
    async watchAv(probe) {
      await call({ cmd: 'watch-av', probe });
    },
    async avEvents() {
      const { ok: _ok, ...events } = await call({ cmd: 'av-events' }, 60_000);
      return events as unknown as AvEvents;
    },
    async recordPlayback(ms) {
      const dir = await mkdtemp(join(tmpdir(), 'spice-gtk-'));
      try {
        const path = join(dir, 'playback.raw');
        const r = await call({ cmd: 'record-playback', path, ms }, ms + 15_000);
        return { pcm: new Uint8Array(await readFile(path)), channels: r.channels as number, rate: r.rate as number };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    async screenshot() {
      const dir = await mkdtemp(join(tmpdir(), 'spice-gtk-'));
      try {
        const path = join(dir, 'shot.ppm');
        await call({ cmd: 'screenshot', path });
        return parsePpm(new Uint8Array(await readFile(path)));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    close() {
      closing ??= (async () => {
        if (exitCode === undefined) {
          proc.stdin.end(`${JSON.stringify({ cmd: 'quit' })}\n`);
          const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        lines.close();
      })();
      return closing;
    },
  };
}
