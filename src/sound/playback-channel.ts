/**
 * PlaybackChannel and PlaybackChannelClient (spice-server sound.cpp,
 * PlaybackChannel / PlaybackChannelClient), run in the SoundWorker.
 *
 * The channel keeps the media clock's audio cadence: one 10 ms packet per
 * tick, stamped with the media time at which its first sample was made (the
 * clock video frames are stamped with, so spice-gtk keeps them in step). It
 * never waits for a client: a tick that comes late skips the audio it missed,
 * and a client whose transport is backed up loses packets instead of hearing
 * them later (bounded buffering: old audio is dropped, never delayed).
 *
 * Wire order per client (spice-wire.md §13): MODE first (spice-gtk fails a
 * START that comes before it), VOLUME and MUTE to clients with the VOLUME
 * cap, then START, LATENCY after every START to clients with the LATENCY cap
 * (spice-gtk resets its latency at each START, so one sent before is lost),
 * DATA…, STOP.
 */
import { AudioDataMode, AudioFormat, MsgPlayback, PlaybackCap } from '../protocol/constants.ts';
import { hasCap } from '../protocol/link.ts';
import {
  encodeAudioMute,
  encodeAudioVolume,
  encodePlaybackData,
  encodePlaybackLatency,
  encodePlaybackMode,
  encodePlaybackStart,
} from '../protocol/playback-messages.ts';
import { ProtocolError } from '../protocol/wire.ts';
import type { ByteStream } from '../server/byte-stream.ts';
import { RedChannelClient, type RedChannelClientOptions } from '../server/red-channel-client.ts';
import { mediaTime } from '../util/media-clock.ts';
import { createLogger } from '../util/logger.ts';
import { PACKET_FRAMES, PACKET_MS, PLAYBACK_CHANNELS, PLAYBACK_FREQUENCY, type PcmSource } from './pcm.ts';

const log = createLogger('playback');

/** A tick this many packets late skips ahead: audio that old is dropped rather than played late. */
const MAX_LATE_PACKETS = 5;
/**
 * A client whose transport holds more than this many bytes gets no more
 * packets until it drains: about 200 ms of raw audio, far more of Opus.
 */
export const MAX_AUDIO_BACKLOG_BYTES = 40 * 1024;

/** Turns 10 ms PCM packets into coded ones for clients of one data mode (Opus); output may come later. */
export interface PacketEncoder {
  readonly mode: number;
  /** Codes one packet; `emit` is called with the packet (in order, possibly asynchronously). */
  encode(pcm: Int16Array, time: number): void;
  /** Ms of this thread spent in encode() so far. */
  readonly busyMs: number;
  close(): void;
}

export interface PlaybackStats {
  active: boolean;
  clients: number;
  packetsMade: number;
  /** Packets the channel skipped because its tick came late. */
  packetsSkipped: number;
  /** Packets not sent to a client because its transport was backed up (summed over clients). */
  packetsDropped: number;
  /** Bytes of DATA bodies sent, per data mode ("raw", "opus"). */
  bytesByMode: Record<string, number>;
  volume: number[];
  mute: boolean;
  /** Peak of the latest packet, 0..1 of full scale (the demo's level meter). */
  level: number;
  /** Connected clients per data mode ("raw", "opus"). */
  clientsByMode: Record<string, number>;
  /** Wall-clock ms of the latest START: packet n holds the audio of startedAt + 10·n ms (null while stopped). */
  startedAt: number | null;
  /** Opus packets coded so far, and the ms this thread spent handing them to the encoder. */
  opus: { packets: number; busyMs: number };
}

export const MODE_NAMES: Record<number, string> = { [AudioDataMode.RAW]: 'raw', [AudioDataMode.OPUS]: 'opus' };

export class PlaybackChannel {
  readonly clients = new Set<PlaybackChannelClient>();
  /** The media clock's zero (wall-clock ms), shared with the SpiceServer and the RedWorker. */
  mediaClockEpoch = Date.now();
  /** Per-channel volume, 0..65535 (spice-server's unit). */
  volume: number[] = [65535, 65535];
  mute = false;
  /** The latency (ms) clients with the LATENCY cap are asked to keep, to match the video's delay. */
  latencyMs = 0;
  /** Benchmarks: each client keeps the sample time (wall ms) of every DATA it was sent since its START. */
  traceSends = false;
  private source: PcmSource | null = null;
  private startedAt = 0;
  private packets = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly pcm = new Int16Array(PACKET_FRAMES * PLAYBACK_CHANNELS);
  /** The Opus encoder, when this thread has one (WebCodecs), created on first need. */
  opusFactory: ((emit: (time: number, packet: Uint8Array) => void) => PacketEncoder) | null = null;
  private opus: PacketEncoder | null = null;
  private level = 0;
  private opusPackets = 0;
  private opusBusyMs = 0;
  readonly stats: Omit<PlaybackStats, 'active' | 'clients' | 'volume' | 'mute' | 'level' | 'clientsByMode' | 'startedAt' | 'opus'> = {
    packetsMade: 0,
    packetsSkipped: 0,
    packetsDropped: 0,
    bytesByMode: {},
  };

  get active(): boolean {
    return this.source !== null;
  }

  /** Whether clients with the Opus cap get Opus. */
  get opusAvailable(): boolean {
    return this.opusFactory !== null;
  }

  now(): number {
    return mediaTime(this.mediaClockEpoch);
  }

  /** Starts playing `source` (replacing any other); clients hear START. */
  start(source: PcmSource): void {
    const wasActive = this.active;
    this.source = source;
    if (wasActive) return;
    this.startedAt = Date.now();
    this.packets = 0;
    for (const c of this.clients) c.sendStart();
    this.schedule();
  }

  /** Stops playback; clients hear STOP. */
  stop(): void {
    if (!this.active) return;
    this.source = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.closeOpus();
    for (const c of this.clients) c.sendStop();
  }

  private closeOpus(): void {
    if (!this.opus) return;
    this.opusBusyMs += this.opus.busyMs;
    this.opus.close();
    this.opus = null;
  }

  setVolume(volume: readonly number[]): void {
    if (volume.length < 1 || volume.length > 255 || volume.some((v) => !Number.isInteger(v) || v < 0 || v > 65535)) {
      throw new Error(`volume: expected 1..255 channel levels, each a whole number 0..65535, got [${volume.join(', ')}]`);
    }
    this.volume = [...volume];
    for (const c of this.clients) c.sendVolume();
  }

  setMute(mute: boolean): void {
    this.mute = mute;
    for (const c of this.clients) c.sendMute();
  }

  private schedule(): void {
    const next = this.startedAt + (this.packets + 1) * PACKET_MS;
    this.timer = setTimeout(() => this.tick(), Math.max(0, next - Date.now()));
  }

  /** Makes every packet that is due by now; a long stall skips what is too old to play. */
  tick(): void {
    this.timer = null;
    if (!this.source) return;
    const due = Math.floor((Date.now() - this.startedAt) / PACKET_MS);
    if (due - this.packets > MAX_LATE_PACKETS) {
      const skip = due - this.packets - 1;
      this.source.skip(skip * PACKET_FRAMES);
      this.packets += skip;
      this.stats.packetsSkipped += skip;
      log.debug(`fell ${skip * PACKET_MS} ms behind; that audio is skipped`);
    }
    while (this.packets < due && this.source) this.makePacket();
    if (this.source) this.schedule();
  }

  private makePacket(): void {
    const time = (this.startedAt + this.packets * PACKET_MS - this.mediaClockEpoch) & 0x7fffffff;
    this.packets++;
    this.stats.packetsMade++;
    this.source!.read(this.pcm);
    let peak = 0;
    for (let i = 0; i < this.pcm.length; i++) peak = Math.max(peak, Math.abs(this.pcm[i]!));
    this.level = peak / 32768;
    let wantOpus = false;
    for (const c of this.clients) {
      if (c.mode === AudioDataMode.RAW) c.sendData(time, new Uint8Array(this.pcm.buffer, 0, this.pcm.byteLength));
      else wantOpus = true;
    }
    if (wantOpus && this.opusFactory) {
      this.opus ??= this.opusFactory((t, packet) => {
        for (const c of this.clients) if (c.mode === AudioDataMode.OPUS) c.sendData(t, packet);
      });
      this.opus.encode(this.pcm, time);
      this.opusPackets++;
    }
  }

  countBytes(mode: number, n: number): void {
    const name = MODE_NAMES[mode] ?? `mode-${mode}`;
    this.stats.bytesByMode[name] = (this.stats.bytesByMode[name] ?? 0) + n;
  }

  snapshot(): PlaybackStats {
    const clientsByMode: Record<string, number> = {};
    for (const c of this.clients) clientsByMode[MODE_NAMES[c.mode]!] = (clientsByMode[MODE_NAMES[c.mode]!] ?? 0) + 1;
    return {
      ...this.stats,
      bytesByMode: { ...this.stats.bytesByMode },
      active: this.active,
      clients: this.clients.size,
      volume: [...this.volume],
      mute: this.mute,
      level: this.active ? this.level : 0,
      clientsByMode,
      startedAt: this.active ? this.startedAt : null,
      opus: { packets: this.opusPackets, busyMs: this.opusBusyMs + (this.opus?.busyMs ?? 0) },
    };
  }

  shutdown(): void {
    this.stop();
  }
}

export class PlaybackChannelClient extends RedChannelClient {
  /** AudioDataMode this client gets: Opus when it can decode it and we can encode it, else raw S16. */
  readonly mode: number;
  packetsSent = 0;
  packetsDropped = 0;
  /** With PlaybackChannel.traceSends: wall-clock ms of the first sample of each DATA sent since START. */
  readonly sentSampleTimes: number[] = [];

  constructor(
    stream: ByteStream,
    opts: RedChannelClientOptions,
    private readonly channel: PlaybackChannel,
  ) {
    // Playback has no ACK window (spice-server does not set one): bounded here by bytes instead.
    super(stream, { ...opts, ackWindow: 0, maxMessageSize: 4096 });
    const opus = hasCap(opts.channelCaps, PlaybackCap.OPUS);
    this.mode = opus && channel.opusAvailable ? AudioDataMode.OPUS : AudioDataMode.RAW;
    this.log.info(
      `audio as ${MODE_NAMES[this.mode]}: the client ${opus ? 'decodes' : 'does not decode'} Opus` +
        (opus && !channel.opusAvailable ? ', but this browser has no Opus encoder' : ''),
    );
  }

  private has(cap: number): boolean {
    return hasCap(this.channelCaps, cap);
  }

  protected onStart(): void {
    const ch = this.channel;
    this.send(MsgPlayback.MODE, encodePlaybackMode(ch.now(), this.mode));
    if (this.has(PlaybackCap.VOLUME)) {
      this.sendVolume();
      this.sendMute();
    }
    if (ch.active) this.sendStart();
  }

  sendStart(): void {
    this.sentSampleTimes.length = 0;
    this.send(
      MsgPlayback.START,
      encodePlaybackStart({ channels: PLAYBACK_CHANNELS, format: AudioFormat.S16, frequency: PLAYBACK_FREQUENCY, time: this.channel.now() }),
    );
    if (this.has(PlaybackCap.LATENCY) && this.channel.latencyMs > 0) this.send(MsgPlayback.LATENCY, encodePlaybackLatency(this.channel.latencyMs));
  }

  sendStop(): void {
    this.send(MsgPlayback.STOP, new Uint8Array(0));
  }

  /** VOLUME and MUTE go only to clients that announced the VOLUME cap (as spice-server does). */
  sendVolume(): void {
    if (this.has(PlaybackCap.VOLUME)) this.send(MsgPlayback.VOLUME, encodeAudioVolume(this.channel.volume));
  }

  sendMute(): void {
    if (this.has(PlaybackCap.VOLUME)) this.send(MsgPlayback.MUTE, encodeAudioMute(this.channel.mute));
  }

  /** One packet; dropped (not queued) while the client's transport is backed up. */
  sendData(time: number, audio: Uint8Array): void {
    if (!this.isConnected) return;
    if (this.transportBuffered > MAX_AUDIO_BACKLOG_BYTES) {
      if (this.packetsDropped++ === 0) this.log.warn('client reads too slowly: audio packets are dropped while it catches up');
      this.channel.stats.packetsDropped++;
      return;
    }
    this.send(MsgPlayback.DATA, encodePlaybackData(time, audio));
    this.packetsSent++;
    if (this.channel.traceSends) this.sentSampleTimes.push(this.channel.mediaClockEpoch + time);
    this.channel.countBytes(this.mode, audio.byteLength);
  }

  protected handleMessage(type: number, _body: Uint8Array): void {
    // The playback channel has no client messages besides the common ones.
    throw new ProtocolError(`playback channel: unknown message type ${type}`);
  }
}
