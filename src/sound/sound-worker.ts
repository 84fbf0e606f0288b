/**
 * SoundWorker: the Web Worker that runs the playback and record channels
 * (spice-server's sound.cpp channels). Audio has its own thread because it must keep a 10 ms
 * cadence: in the RedWorker it would wait behind image encoding (a full-frame
 * QUIC or JPEG takes tens of milliseconds), and the page's main thread runs
 * the link stage, the sources and the page itself. Like the RedWorker it
 * attaches to its client connections itself, so audio never passes through
 * the main thread either. The main thread drives it through the sound
 * dispatcher (sound-dispatcher.ts).
 */
import * as Comlink from 'comlink';
import { ChannelType, channelTypeName } from '../protocol/constants.ts';
import type { ChannelConnectRequest, ChannelWorkerApi, MainDispatcherApi } from '../server/dispatcher.ts';
import { MM_TIME_LAG_MS } from '../server/main-channel.ts';
import { createLogger } from '../util/logger.ts';
import { joined, WorkerSessions } from '../server/worker-sessions.ts';
import { PlaybackChannel, PlaybackChannelClient, type PlaybackStats } from './playback-channel.ts';
import { TestTone } from './test-tone.ts';
import { PcmFeed, type PcmFeedMessage } from './pcm-feed.ts';
import { PcmMixer } from './pcm-mixer.ts';
import { RecordChannel, RecordChannelClient } from './record-channel.ts';
import { WebCodecsOpusEncoder, opusEncoderSupported } from './opus-encoder.ts';

const log = createLogger('sound-worker');

/**
 * A feed that sent nothing for this long is idle; with every input idle,
 * playback stops (clients hear STOP and release their audio device), as
 * spice-server stops when QEMU's voice goes quiet. The next block starts it.
 */
const FEED_IDLE_MS = 500;

/** The SoundWorker's side of the sound dispatcher. */
export interface SoundWorkerApi extends ChannelWorkerApi {
  /** `mediaClockEpoch`: the media clock's zero (wall-clock ms), the one video frames are stamped on. */
  init(main: MainDispatcherApi, mediaClockEpoch: number): Promise<void>;
  /** Plays the test signal, a sine of `hz` (null: stops it). */
  setTone(hz: number | null): Promise<void>;
  /**
   * Plays what arrives on `port` (PcmFeedMessage blocks) until it posts
   * `end`; feeds, the tone and any others are mixed. `name` is for logs.
   */
  attachFeed(port: MessagePort, name: string): Promise<void>;
  /**
   * Clients' microphones go to `port` (RecordedPcm messages) while it is set:
   * every record client is asked to capture. null stops it.
   */
  listenMicrophone(port: MessagePort | null): Promise<void>;
  /** Per-channel volume 0..65535, sent to clients (VOLUME). */
  setVolume(volume: number[]): Promise<void>;
  setMute(mute: boolean): Promise<void>;
  stats(): Promise<SoundWorkerStats>;
  /**
   * Benchmarks: from now on, each playback client keeps the sample time of
   * every DATA it is sent; `sentSampleTimes` returns them per session.
   */
  traceSends(on: boolean): Promise<void>;
  sentSampleTimes(): Promise<Record<number, number[]>>;
}

export interface SoundWorkerStats {
  playback: PlaybackStats;
  /** Record clients connected, and microphone bytes received. */
  record: { clients: number; bytesIn: number; listening: boolean };
  sessions: number;
  /** What plays: "tone 440 Hz", feed names. */
  inputs: string[];
  feeds: Array<{ name: string; framesIn: number; framesDropped: number; underruns: number; bufferedFrames: number }>;
}

export class SoundWorker implements SoundWorkerApi {
  readonly playback = new PlaybackChannel();
  readonly record = new RecordChannel();
  private micPort: MessagePort | null = null;
  private readonly sessions = new WorkerSessions();
  private readonly mixer = new PcmMixer();
  private tone: TestTone | null = null;
  private readonly feeds = new Set<PcmFeed>();
  private idleTimer: ReturnType<typeof setInterval> | null = null;

  async init(main: MainDispatcherApi, mediaClockEpoch: number): Promise<void> {
    this.sessions.main = main;
    this.playback.mediaClockEpoch = mediaClockEpoch;
    // Clients show video MM_TIME_LAG_MS after it was made (their clock lags ours by that): ask for the same audio delay.
    this.playback.latencyMs = MM_TIME_LAG_MS;
    const opus = await opusEncoderSupported();
    if (opus) this.playback.opusFactory = (emit) => new WebCodecsOpusEncoder(emit);
    log.info(`SoundWorker started; ${opus ? 'Opus (WebCodecs) for clients that decode it, raw S16 for the others' : 'no Opus encoder in this browser: raw S16 for every client'}`);
  }

  async setTone(hz: number | null): Promise<void> {
    if (this.tone) this.mixer.delete(this.tone);
    this.tone = hz === null ? null : new TestTone(hz);
    if (this.tone) {
      this.mixer.add(this.tone);
      log.info(`playing a ${hz} Hz test tone`);
    }
    this.mixerChanged();
  }

  async attachFeed(port: MessagePort, name: string): Promise<void> {
    const feed = new PcmFeed(name);
    this.feeds.add(feed);
    this.mixer.add(feed);
    const end = (why: string): void => {
      if (!this.feeds.delete(feed)) return;
      this.mixer.delete(feed);
      port.close();
      log.info(`audio feed ${name} ended (${why})`);
      this.mixerChanged();
    };
    port.onmessage = (ev: MessageEvent<PcmFeedMessage>) => {
      if (ev.data.kind === 'end') return end('its source stopped');
      try {
        feed.push(ev.data);
        if (!this.playback.active) this.mixerChanged();
      } catch (e) {
        log.warn((e as Error).message);
        end('bad block');
      }
    };
    port.start();
    log.info(`audio feed ${name} attached`);
    this.mixerChanged();
  }

  /** Whether anything plays: the tone, or a feed that sent audio lately. */
  private audible(): boolean {
    const now = Date.now();
    return this.tone !== null || [...this.feeds].some((f) => f.lastPushAt > 0 && now - f.lastPushAt < FEED_IDLE_MS);
  }

  /** Playback runs while something plays: START when it begins, STOP once every input is idle or gone. */
  private mixerChanged(): void {
    if (this.audible()) {
      this.playback.start(this.mixer);
      this.idleTimer ??= setInterval(() => this.mixerChanged(), FEED_IDLE_MS / 5);
      return;
    }
    this.playback.stop();
    if (this.idleTimer !== null) clearInterval(this.idleTimer);
    this.idleTimer = null;
  }

  async setVolume(volume: number[]): Promise<void> {
    this.playback.setVolume(volume);
  }

  async setMute(mute: boolean): Promise<void> {
    this.playback.setMute(mute);
  }

  async listenMicrophone(port: MessagePort | null): Promise<void> {
    this.micPort?.close();
    this.micPort = port;
    this.record.listen(port ? (pcm) => port.postMessage(pcm, [pcm.samples.buffer]) : null);
    log.info(port ? 'the source listens to clients\' microphones' : 'microphones off');
  }

  async connectChannel(req: ChannelConnectRequest): Promise<void> {
    await this.sessions.connect(req, (stream, opts) => {
      if (req.channelType === ChannelType.PLAYBACK) return joined(this.playback.clients, new PlaybackChannelClient(stream, opts, this.playback));
      if (req.channelType === ChannelType.RECORD) return joined(this.record.clients, new RecordChannelClient(stream, opts, this.record));
      throw new Error(`SoundWorker runs the playback and record channels, not ${channelTypeName(req.channelType)}`);
    });
  }

  async disconnectClient(sessionId: number): Promise<void> {
    this.sessions.disconnect(sessionId);
  }

  async stats(): Promise<SoundWorkerStats> {
    const feeds = [...this.feeds];
    return {
      playback: this.playback.snapshot(),
      record: { clients: this.record.clients.size, bytesIn: this.record.bytesIn, listening: this.record.listening },
      sessions: this.sessions.size,
      inputs: [...(this.tone ? [`tone ${this.tone.hz} Hz`] : []), ...feeds.map((f) => f.name)],
      feeds: feeds.map((f) => ({ name: f.name, framesIn: f.framesIn, framesDropped: f.framesDropped, underruns: f.underruns, bufferedFrames: f.bufferedFrames })),
    };
  }

  async traceSends(on: boolean): Promise<void> {
    this.playback.traceSends = on;
  }

  async sentSampleTimes(): Promise<Record<number, number[]>> {
    const out: Record<number, number[]> = {};
    for (const c of this.playback.clients) out[c.sessionId] = [...c.sentSampleTimes];
    return out;
  }

  async shutdown(): Promise<void> {
    if (this.idleTimer !== null) clearInterval(this.idleTimer);
    this.idleTimer = null;
    this.playback.shutdown();
    for (const id of this.sessions.sessionIds()) this.sessions.disconnect(id);
  }
}

// Only expose when running as a worker (this module is also imported by tests).
const scope = globalThis as { WorkerGlobalScope?: unknown };
if (typeof scope.WorkerGlobalScope !== 'undefined') Comlink.expose(new SoundWorker());
