/**
 * SessionHost: everything one served session needs on the page — the QXL
 * device memory, a RedWorker in a Web Worker, the SpiceServer (main thread),
 * the relay registration, and a source that draws into the device (the test
 * pattern, or a v86 VM in its own worker).
 */
import { QxlDevice } from '../qxl/qxl-device.ts';
import { QxlProducer } from '../qxl/qxl-producer.ts';
import { WorkerDispatcher, type RedWorkerStats } from '../server/dispatcher.ts';
import { RecordingAgentSink } from '../server/agent-sink.ts';
import { RecordingInputSink } from '../server/input-sink.ts';
import { SpiceServer, type SpiceServerStats } from '../server/spice-server.ts';
import { TestPatternAgent, TestPatternInput, TestPatternSource } from '../sources/test-pattern.ts';
import { WorkloadSource, type Workload } from '../sources/workload.ts';
import type { V86StartOptions, V86WorkerStats } from '../sources/v86/v86-api.ts';
import { V86Source } from '../sources/v86/v86-source.ts';
import { RelayHost, type RelayHostStatus } from '../transport/relay-host.ts';
import { RelayStream } from '../transport/relay-stream.ts';
import { addLogListener, createLogger } from '../util/logger.ts';
import { checkPassword } from '../server/ticket.ts';
import { launcherCredentials, storedSessionSecret } from './launcher-credentials.ts';
import type { SpiceSource } from '../api/spice-source.ts';
import { SessionDisplay } from '../api/spice-display.ts';
import type { ImageCompression } from '../worker/image-encoder.ts';
import type { StreamingMode } from '../worker/video-stream.ts';
import type { JpegMode } from '../worker/image-encoder.ts';
import { SoundDispatcher } from '../sound/sound-dispatcher.ts';
import type { SoundWorkerStats } from '../sound/sound-worker.ts';
import { SessionAudio } from '../sound/session-audio.ts';
import type { RecordedPcm } from '../sound/record-channel.ts';

const log = createLogger('session-host');

/** What the session serves. */
export type SourceSpec =
  | {
      kind: 'test-pattern';
      width?: number;
      height?: number;
      fps?: number;
      /** Plays a sine of this many Hz (the test signal) on the playback channel; default none (no sound). */
      tone?: number;
    }
  | { kind: 'workload'; workload: Workload; width?: number; height?: number; fps?: number }
  | {
      kind: 'v86';
      vm: Omit<V86StartOptions, 'memory'>;
      /** Clients hear the guest's Sound Blaster 16 (a playback channel is offered). Default false. */
      sound?: boolean;
    };

export interface SessionHostOptions {
  /** The relay's WebSocket base URL, e.g. ws://127.0.0.1:8765. */
  relayUrl: string;
  /** Session name on the relay ("default" gets the relay's TCP port). */
  session?: string;
  /**
   * Password clients must give, checked on this page; null or '' lets every
   * client in — unless the relay holds the password itself (its operator set
   * one), in which case the relay decides and this is ignored.
   */
  password?: string | null;
  /**
   * The key the relay's operator gave pages that may host (see the relay's
   * `--relay-key-file`). Absent: asked of the launcher that opened this page,
   * if any (`npm start`, `npm run host`; see launcher-credentials.ts). null: none.
   */
  relayKey?: string | null;
  /**
   * Proves to the relay that this page owns the session when it registers
   * again (after a drop or a reload), so the relay gives the name back.
   * Default: one kept in this origin's localStorage (a random one where there
   * is none).
   */
  sessionSecret?: string;
  /** Default: the test pattern at 1024x768. A {@link SpiceSource} object plugs in your own emulator or canvas. */
  source?: SourceSpec | SpiceSource;
  /** Clients watch only: their keys and mouse are dropped, and there is no agent (no clipboard, resizes or files) (default false). */
  viewOnly?: boolean;
  /** Image codec policy (default auto). */
  imageCompression?: ImageCompression;
  /** Video stream detection (default filter). */
  streaming?: StreamingMode;
  /** Lossy JPEG for photo-like areas: at low bandwidth (default), always, or never. */
  jpeg?: JpegMode;
}

export interface SessionHostStats {
  server: SpiceServerStats;
  worker: RedWorkerStats;
  /** The test pattern's frame number (0 for other sources). */
  frame: number;
  vm: V86WorkerStats | null;
  /** The SoundWorker's playback and record channels and inputs (null: the session has no sound). */
  sound: SoundWorkerStats | null;
}

/** Checks the page can share memory with workers; throws a message that says what to fix. */
export function assertCrossOriginIsolated(): void {
  // Browsers isolate only secure contexts: plain http works on loopback and nowhere else.
  if (!globalThis.crossOriginIsolated && globalThis.isSecureContext === false) {
    throw new Error(
      'This page is not cross-origin isolated: it is not a secure context (plain http from an address other than ' +
        'loopback), so SharedArrayBuffer is unavailable. Serve it over https, or open it from 127.0.0.1.',
    );
  }
  if (!globalThis.crossOriginIsolated) {
    throw new Error(
      'This page is not cross-origin isolated, so SharedArrayBuffer is unavailable. Serve it with the headers ' +
        '"Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp".',
    );
  }
}

function isSpiceSource(s: SourceSpec | SpiceSource): s is SpiceSource {
  return typeof (s as SpiceSource).attach === 'function';
}

function toVerdict(v: { ok: boolean; reason?: string }): { ok: true } | { ok: false; reason: string } {
  return v.ok ? { ok: true } : { ok: false, reason: v.reason ?? 'refused by the relay' };
}

export class SessionHost {
  /** Set when serving the test pattern. */
  pattern: TestPatternSource | null = null;
  /** Set when serving a v86 VM. */
  vm: V86Source | null = null;
  /** Set when serving a benchmark workload. */
  workload: WorkloadSource | null = null;
  /** Set when serving a library source (canvas adapter, your own emulator). */
  custom: SpiceSource | null = null;

  private constructor(
    readonly device: QxlDevice,
    readonly worker: WorkerDispatcher,
    readonly server: SpiceServer,
    /** Every input event, recorded, then passed to the source. */
    readonly inputs: RecordingInputSink,
    /** Every agent request (clipboard, resize, files), recorded, then passed to the source. */
    readonly agentEvents: RecordingAgentSink,
    /** The SoundWorker running the playback channel; null when the source has no sound. */
    readonly sound: SoundDispatcher | null,
  ) {}

  /** Set when serving the test pattern: what it does with agent requests. */
  patternAgent: TestPatternAgent | null = null;

  /** Offers `text` on the page's clipboard: every client can paste it. */
  offerClipboard(text: string): void {
    this.server.agent?.offerText(text);
  }

  relay!: RelayHost;
  /** The session's sound output (its playback channel), when the source has sound. */
  audio: SessionAudio | null = null;
  private stopLogForwarding: (() => void) | null = null;

  /** `cb(status)` when the relay registration drops, comes back, or ends. */
  onRelayStatus(cb: (status: RelayHostStatus) => void): void {
    this.relay.onStatus(cb);
  }

  static async start(opts: SessionHostOptions): Promise<SessionHost> {
    assertCrossOriginIsolated();
    const source: SourceSpec | SpiceSource = opts.source ?? { kind: 'test-pattern' };
    const custom = isSpiceSource(source) ? source : null;
    // Only consulted when there is no library source.
    const spec: SourceSpec = isSpiceSource(source) ? { kind: 'test-pattern' } : source;
    const device = await QxlDevice.create();
    const worker = new WorkerDispatcher(
      new Worker(new URL('../worker/red-worker.ts', import.meta.url), { type: 'module', name: 'red-worker' }),
    );
    const inputs = new RecordingInputSink();
    const agentEvents = new RecordingAgentSink();
    const tone = !custom && spec.kind === 'test-pattern' ? (spec.tone ?? null) : null;
    // Sound only when the source makes some: a listed playback channel costs spice-html5 its cursor channel.
    const vmSound = !custom && spec.kind === 'v86' && spec.sound === true;
    // A microphone is client input too: view-only sessions take none.
    const mic = !opts.viewOnly && typeof custom?.microphone === 'function';
    const sound = tone !== null || vmSound || custom?.sound === true || mic ? SoundDispatcher.create() : null;
    if (sound) sound.record = mic;
    const server = await SpiceServer.create({
      password: opts.password ?? null,
      worker,
      ...(sound && { sound }),
      inputSink: inputs,
      // View-only clients get no agent: no clipboard, sizes or files into the page.
      ...(opts.viewOnly ? {} : { agentSink: agentEvents }),
      // The test pattern takes positions; a VM only once its guest turns the absolute pointer on.
      absoluteMouse: custom ? custom.absolutePointer !== false : spec.kind === 'test-pattern',
    });
    // The main dispatcher both workers report to.
    const main = { channelClientDisconnected: (s: number, t: number, i: number, r: string) => server.channelClientDisconnected(s, t, i, r) };
    await worker.init(device.memory, main, server.mediaClockEpoch);
    if (sound) {
      await sound.init(main, server.mediaClockEpoch);
      if (tone !== null) await sound.setTone(tone);
    }
    if (opts.imageCompression) await worker.setImageCompression(opts.imageCompression);
    if (opts.streaming) await worker.setStreaming(opts.streaming);
    if (opts.jpeg) await worker.setJpeg(opts.jpeg);
    const host = new SessionHost(device, worker, server, inputs, agentEvents, sound);
    host.audio = sound ? new SessionAudio(sound) : null;
    if (custom) {
      await custom.attach(new SessionDisplay(new QxlProducer(device), (w, h) => worker.createPrimary(w, h)), host.audio);
      host.custom = custom;
      if (mic && sound) {
        // Microphone audio arrives on a port of its own, straight from the SoundWorker.
        const { port1, port2 } = new MessageChannel();
        port1.onmessage = (ev: MessageEvent<RecordedPcm>) => custom.microphone?.(ev.data.samples, ev.data.sampleRate, ev.data.channels);
        await sound.listenMicrophone(port2);
      }
      inputs.next = custom.input ?? null;
      agentEvents.next = custom.agent ?? null;
      if (server.agent) custom.attachAgent?.(server.agent);
    } else if (spec.kind === 'test-pattern') {
      const pattern = new TestPatternSource(new QxlProducer(device), {
        width: spec.width ?? 1024,
        height: spec.height ?? 768,
        fps: spec.fps ?? 30,
      });
      await worker.createPrimary(pattern.width, pattern.height);
      pattern.start();
      host.pattern = pattern;
      inputs.next = new TestPatternInput(pattern);
      host.patternAgent = new TestPatternAgent(pattern, (w, h) => worker.createPrimary(w, h));
      agentEvents.next = host.patternAgent;
    } else if (spec.kind === 'workload') {
      const w = new WorkloadSource(new QxlProducer(device), spec.workload, spec);
      await worker.createPrimary(w.width, w.height);
      w.start();
      host.workload = w;
    } else {
      host.vm = await V86Source.start(
        { ...spec.vm, memory: device.memory },
        {
          createPrimary: (w, h) => worker.createPrimary(w, h),
          absoluteMouse: (on) => server.setAbsoluteMouse(on),
          keyboardLeds: (leds) => server.broadcastKeyModifiers(leds),
          guestClipboard: (text) => server.agent?.offerText(text),
        },
      );
      inputs.next = host.vm;
      agentEvents.next = host.vm;
      if (vmSound && host.audio) await host.vm.attachSound(host.audio.openFeed('Sound Blaster 16'));
    }
    // View-only: every event is still recorded (and visible in stats), none reaches the source.
    if (opts.viewOnly) {
      inputs.next = null;
      agentEvents.next = null;
    }
    const relay = await RelayHost.connect({
      relayUrl: opts.relayUrl,
      session: opts.session ?? 'default',
      relayKey: opts.relayKey === undefined ? ((await launcherCredentials())?.relayKey ?? null) : opts.relayKey,
      secret: opts.sessionSecret ?? storedSessionSecret(opts.relayUrl, opts.session ?? 'default'),
    });
    // Warnings and errors reach the relay operator's log (never secrets: nothing here logs them);
    // another session's own lines (a page may host several, on other relays) stay out of this one's.
    const sessionName = relay.session;
    const sessionLog = createLogger('session-host', sessionName);
    host.stopLogForwarding = addLogListener((level, scope, message, context) => {
      if ((level === 'warn' || level === 'error') && scope !== 'relay-host' && (context === undefined || context === sessionName)) {
        relay.forwardLog(level, `[${scope}] ${message}`);
      }
    });
    const localPassword = opts.password ?? null;
    if (relay.ticketCheck === 'relay' && localPassword) {
      sessionLog.warn('the relay checks tickets against its own password; the password given to this page is not used');
    } else if (relay.ticketCheck === 'page' && !localPassword) {
      sessionLog.warn(`session "${relay.session}" has no password: anyone who can reach the relay may watch and type`);
    }
    // The relay either holds the password (it decides) or hears the outcome (it logs and throttles).
    server.setTicketChecker(async (offer, given) => {
      if (relay.ticketCheck === 'relay') return toVerdict(await relay.verifyTicket(offer.stream, given));
      const verdict = await checkPassword(given, localPassword);
      relay.reportAuth(offer.stream, verdict.ok, verdict.ok ? undefined : verdict.reason);
      return verdict;
    });
    relay.onStream((offer) => {
      RelayStream.attach(offer).then(
        (stream) => server.accept(stream),
        (e: unknown) => sessionLog.warn(`could not attach stream ${offer.stream}: ${(e as Error).message}`),
      );
    });
    relay.onClose((reason) => sessionLog.error(`relay registration ended (${reason}): clients can no longer connect`));
    host.relay = relay;
    sessionLog.info(`session "${relay.session}" hosted on ${opts.relayUrl} (${custom ? 'library source' : spec.kind})`);
    return host;
  }

  async stats(): Promise<SessionHostStats> {
    return {
      server: this.server.stats(),
      worker: await this.worker.stats(),
      frame: this.pattern?.frame ?? this.workload?.frame ?? 0,
      vm: this.vm ? await this.vm.stats() : null,
      sound: this.sound ? await this.sound.stats() : null,
    };
  }

  /** `cb(sessionId)` when a client's main channel links. */
  onClientConnected(cb: (sessionId: number) => void): void {
    this.server.onClientConnected(cb);
  }

  /** `cb(sessionId)` when a client is gone (all its channels closed). */
  onClientDisconnected(cb: (sessionId: number) => void): void {
    this.server.onClientDisconnected(cb);
  }

  /** The relay session name clients connect to. */
  get session(): string {
    return this.relay?.session ?? '';
  }

  async stop(): Promise<void> {
    this.pattern?.stop();
    this.workload?.stop();
    await this.custom?.detach?.();
    this.audio?.close();
    this.stopLogForwarding?.();
    this.relay?.close();
    await this.server.stop();
    await this.vm?.stop();
    await this.worker.terminate();
    await this.sound?.terminate();
  }
}
