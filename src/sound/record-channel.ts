/**
 * RecordChannel and RecordChannelClient (spice-server sound.cpp,
 * RecordChannel / RecordChannelClient), run in the SoundWorker: a client's
 * microphone, for a source that takes one. While the source listens every
 * record client is asked to capture (START: 48 kHz stereo S16); each sends
 * MODE, START_MARK and DATA packets, which go to the source as PCM. Only raw
 * S16 is taken: we advertise no Opus for recording, so clients send raw.
 */
import { AudioDataMode, AudioFormat, MsgRecord, MsgcRecord } from '../protocol/constants.ts';
import { decodeRecordData, decodeRecordMode, decodeRecordStartMark, encodeRecordStart } from '../protocol/record-messages.ts';
import { ProtocolError } from '../protocol/wire.ts';
import type { ByteStream } from '../server/byte-stream.ts';
import { RedChannelClient, type RedChannelClientOptions } from '../server/red-channel-client.ts';
import { PLAYBACK_CHANNELS, PLAYBACK_FREQUENCY } from './pcm.ts';

/** What a record client captured, as the source gets it. */
export interface RecordedPcm {
  sessionId: number;
  /** Interleaved S16 at `sampleRate`, `channels` channels. */
  samples: Int16Array;
  sampleRate: number;
  channels: number;
}

export class RecordChannel {
  readonly clients = new Set<RecordChannelClient>();
  /** Where captured audio goes; null: nobody listens, clients are not asked to capture. */
  private sink: ((pcm: RecordedPcm) => void) | null = null;
  bytesIn = 0;

  get listening(): boolean {
    return this.sink !== null;
  }

  /** Starts (or with null stops) capture on every record client. */
  listen(sink: ((pcm: RecordedPcm) => void) | null): void {
    const was = this.listening;
    this.sink = sink;
    if (was === this.listening) return;
    for (const c of this.clients) {
      if (sink) c.sendStart();
      else c.sendStop();
    }
  }

  deliver(pcm: RecordedPcm): void {
    this.bytesIn += pcm.samples.byteLength;
    this.sink?.(pcm);
  }
}

export class RecordChannelClient extends RedChannelClient {
  /** The data mode the client announced (INVALID until its MODE). */
  mode: number = AudioDataMode.INVALID;
  startMark: number | null = null;

  constructor(
    stream: ByteStream,
    opts: RedChannelClientOptions,
    private readonly channel: RecordChannel,
  ) {
    // A raw packet is at most a few KB; 64 KB leaves room for a client's larger chunks.
    super(stream, { ...opts, ackWindow: 0, maxMessageSize: 64 * 1024 });
  }

  protected onStart(): void {
    if (this.channel.listening) this.sendStart();
  }

  sendStart(): void {
    this.send(MsgRecord.START, encodeRecordStart({ channels: PLAYBACK_CHANNELS, format: AudioFormat.S16, frequency: PLAYBACK_FREQUENCY }));
  }

  sendStop(): void {
    this.send(MsgRecord.STOP, new Uint8Array(0));
  }

  protected handleMessage(type: number, body: Uint8Array): void {
    switch (type) {
      case MsgcRecord.MODE: {
        this.mode = decodeRecordMode(body).mode;
        if (this.mode !== AudioDataMode.RAW) {
          this.ignore('RECORD_MODE', `record mode ${this.mode}: expected ${AudioDataMode.RAW} (raw S16); its audio is ignored`);
        } else this.log.info('microphone audio as raw S16');
        break;
      }
      case MsgcRecord.START_MARK:
        this.startMark = decodeRecordStartMark(body).time;
        break;
      case MsgcRecord.DATA: {
        const { data } = decodeRecordData(body);
        if (this.mode !== AudioDataMode.RAW || !this.channel.listening) return;
        if (data.byteLength % (2 * PLAYBACK_CHANNELS) !== 0) {
          throw new ProtocolError(`record DATA: expected whole S16 stereo frames, got ${data.byteLength} bytes`);
        }
        const samples = new Int16Array(data.byteLength / 2);
        new Uint8Array(samples.buffer).set(data);
        this.channel.deliver({ sessionId: this.sessionId, samples, sampleRate: PLAYBACK_FREQUENCY, channels: PLAYBACK_CHANNELS });
        break;
      }
      default:
        throw new ProtocolError(`record channel: unknown message type ${type}`);
    }
  }
}
