/**
 * The playback channel: what each kind of client hears and in which order,
 * raw S16 packets that carry the test tone, 10 ms apart on the media clock,
 * volume and mute, bounded buffering for slow clients, skipping when the
 * channel's thread stalls, and the link policy that offers playback only
 * with sound. Driven over in-memory streams with fake timers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AudioDataMode, AudioFormat, ChannelType, LinkError, MsgMain, MsgPlayback, MsgcMain, PlaybackCap } from '../src/protocol/constants.ts';
import { capsFromBits } from '../src/protocol/link.ts';
import { WireReader } from '../src/protocol/wire.ts';
import {
  decodeAudioMute,
  decodeAudioVolume,
  decodePlaybackData,
  decodePlaybackLatency,
  decodePlaybackMode,
  decodePlaybackStart,
} from '../src/protocol/playback-messages.ts';
import type { ChannelConnectRequest } from '../src/server/dispatcher.ts';
import { RecordingInputSink } from '../src/server/input-sink.ts';
import { SpiceServer } from '../src/server/spice-server.ts';
import { PACKET_BYTES, PLAYBACK_FREQUENCY } from '../src/sound/pcm.ts';
import { MAX_AUDIO_BACKLOG_BYTES, PlaybackChannel, PlaybackChannelClient, type PacketEncoder } from '../src/sound/playback-channel.ts';
import { TestTone, parseToneHz } from '../src/sound/test-tone.ts';
import { setLogLevel } from '../src/util/logger.ts';
import { dominantFrequency, leftChannel } from './helpers/dominant-frequency.ts';
import { MemoryStream } from './helpers/memory-stream.ts';
import { link, msg, stream } from './helpers/server-session.ts';

setLogLevel('silent');

const SPICE_GTK_CAPS = capsFromBits([PlaybackCap.VOLUME, PlaybackCap.LATENCY, PlaybackCap.OPUS]);

function connect(channel: PlaybackChannel, caps: number[], id = 1): { s: MemoryStream; pcc: PlaybackChannelClient } {
  const s = new MemoryStream(id);
  const pcc = new PlaybackChannelClient(s, { sessionId: 7, channelType: ChannelType.PLAYBACK, channelId: 0, miniHeader: true, channelCaps: caps }, channel);
  channel.clients.add(pcc);
  pcc.onDisconnect(() => channel.clients.delete(pcc));
  pcc.start();
  return { s, pcc };
}

/** Every message the server has sent so far (all present: the fake clock made them synchronously). */
function drain(s: MemoryStream): Array<{ type: number; body: Uint8Array }> {
  const out: Array<{ type: number; body: Uint8Array }> = [];
  for (;;) {
    const h = s.toClient.take(6);
    if (!h) return out;
    const dv = new DataView(h.buffer, h.byteOffset);
    const size = dv.getUint32(2, true);
    out.push({ type: dv.getUint16(0, true), body: size ? s.toClient.take(size)! : new Uint8Array(0) });
  }
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('playback channel', () => {
  it('greets spice-gtk with MODE, VOLUME, MUTE, START, LATENCY (after START, which resets the latency spice-gtk keeps), then sends the tone as raw S16 packets 10 ms apart', () => {
    const ch = new PlaybackChannel();
    ch.mediaClockEpoch = Date.now() - 5000;
    ch.latencyMs = 100;
    ch.start(new TestTone(440));
    const { s, pcc } = connect(ch, SPICE_GTK_CAPS);
    expect(pcc.mode).toBe(AudioDataMode.RAW); // no Opus encoder on this thread
    const greeting = drain(s);
    expect(greeting.map((m) => m.type)).toEqual([MsgPlayback.MODE, MsgPlayback.VOLUME, MsgPlayback.MUTE, MsgPlayback.START, MsgPlayback.LATENCY]);
    expect(decodePlaybackMode(greeting[0]!.body)).toEqual({ time: 5000, mode: AudioDataMode.RAW });
    expect(decodeAudioVolume(greeting[1]!.body)).toEqual([65535, 65535]);
    expect(decodeAudioMute(greeting[2]!.body)).toBe(false);
    expect(decodePlaybackStart(greeting[3]!.body)).toEqual({ channels: 2, format: AudioFormat.S16, frequency: 48000, time: 5000 });
    expect(decodePlaybackLatency(greeting[4]!.body)).toBe(100);

    vi.advanceTimersByTime(1000);
    const data = drain(s);
    expect(data.length).toBe(100);
    const packets = data.map((m) => {
      expect(m.type).toBe(MsgPlayback.DATA);
      return decodePlaybackData(m.body);
    });
    packets.forEach((p, i) => {
      expect(p.data.byteLength).toBe(PACKET_BYTES);
      expect(p.time).toBe(5000 + 10 * i);
    });
    const pcm = new Uint8Array(packets.reduce((n, p) => n + p.data.byteLength, 0));
    packets.reduce((at, p) => (pcm.set(p.data, at), at + p.data.byteLength), 0);
    expect(Math.abs(dominantFrequency(leftChannel(pcm), PLAYBACK_FREQUENCY) - 440)).toBeLessThan(1);

    ch.setVolume([32768, 16384]);
    ch.setMute(true);
    ch.stop();
    const after = drain(s);
    expect(after.map((m) => m.type)).toEqual([MsgPlayback.VOLUME, MsgPlayback.MUTE, MsgPlayback.STOP]);
    expect(decodeAudioVolume(after[0]!.body)).toEqual([32768, 16384]);
    expect(decodeAudioMute(after[1]!.body)).toBe(true);
    vi.advanceTimersByTime(100);
    expect(drain(s)).toEqual([]);
  });

  it('a client without caps gets MODE and START only, and a late client joins a running stream', () => {
    const ch = new PlaybackChannel();
    ch.latencyMs = 100;
    const early = connect(ch, [], 1);
    expect(drain(early.s).map((m) => m.type)).toEqual([MsgPlayback.MODE]);
    ch.setVolume([1, 2]); // not for clients without the VOLUME cap
    expect(drain(early.s)).toEqual([]);
    ch.start(new TestTone(1000));
    vi.advanceTimersByTime(50);
    const late = connect(ch, [], 2);
    expect(drain(early.s).map((m) => m.type)).toEqual([MsgPlayback.START, ...Array(5).fill(MsgPlayback.DATA)]);
    expect(drain(late.s).map((m) => m.type)).toEqual([MsgPlayback.MODE, MsgPlayback.START]);
    vi.advanceTimersByTime(20);
    expect(drain(late.s).map((m) => m.type)).toEqual([MsgPlayback.DATA, MsgPlayback.DATA]);
  });

  it('drops packets for a client whose transport is backed up, and resumes with current audio once it drains', () => {
    const ch = new PlaybackChannel();
    ch.start(new TestTone(440));
    const slow = connect(ch, [], 1);
    const fast = connect(ch, [], 2);
    drain(slow.s);
    drain(fast.s);
    slow.s.bufferedAmount = MAX_AUDIO_BACKLOG_BYTES + 1;
    vi.advanceTimersByTime(300);
    expect(drain(slow.s)).toEqual([]);
    expect(drain(fast.s).length).toBe(30);
    expect(slow.pcc.packetsDropped).toBe(30);
    expect(ch.snapshot().packetsDropped).toBe(30);
    slow.s.bufferedAmount = 0;
    vi.advanceTimersByTime(10);
    const [next] = drain(slow.s);
    expect(decodePlaybackData(next!.body).time).toBe(decodePlaybackData(drain(fast.s)[0]!.body).time);
  });

  it('skips audio that is too old when its thread stalls, instead of sending it late', () => {
    const ch = new PlaybackChannel();
    ch.mediaClockEpoch = Date.now();
    ch.start(new TestTone(440));
    const { s } = connect(ch, []);
    drain(s);
    vi.setSystemTime(Date.now() + 2000); // the thread was busy for 2 s: no tick ran
    ch.tick();
    const data = drain(s).map((m) => decodePlaybackData(m.body));
    expect(data.length).toBeLessThanOrEqual(6);
    expect(data.at(-1)!.time).toBe(1990);
    expect(ch.snapshot().packetsSkipped).toBe(200 - data.length);
  });

  it('gives Opus to clients with the Opus cap when there is an encoder, raw to the others, and counts bytes per mode', () => {
    const ch = new PlaybackChannel();
    const encoded: number[] = [];
    ch.opusFactory = (emit): PacketEncoder => ({
      mode: AudioDataMode.OPUS,
      encode: (_pcm, time) => {
        encoded.push(time);
        emit(time, new Uint8Array([0xfc, 1, 2]));
      },
      close: () => {},
      busyMs: 0,
    });
    ch.start(new TestTone(440));
    const opus = connect(ch, SPICE_GTK_CAPS, 1);
    const raw = connect(ch, [], 2);
    expect(opus.pcc.mode).toBe(AudioDataMode.OPUS);
    expect(raw.pcc.mode).toBe(AudioDataMode.RAW);
    expect(decodePlaybackMode(drain(opus.s)[0]!.body).mode).toBe(AudioDataMode.OPUS);
    drain(raw.s);
    vi.advanceTimersByTime(100);
    expect(drain(opus.s).map((m) => decodePlaybackData(m.body).data.byteLength)).toEqual(Array(10).fill(3));
    expect(encoded.length).toBe(10); // encoded once for all Opus clients
    expect(ch.snapshot().bytesByMode).toEqual({ opus: 30, raw: 10 * PACKET_BYTES });
  });

  it('refuses bad volumes and tones, saying what it expected', () => {
    const ch = new PlaybackChannel();
    expect(() => ch.setVolume([70000])).toThrow(/expected 1\.\.255 channel levels, each a whole number 0\.\.65535, got \[70000\]/);
    expect(() => parseToneHz('abc')).toThrow(/expected a frequency in Hz from 20 to 20000, got "abc"/);
    expect(parseToneHz('440')).toBe(440);
  });
});

/** CHANNELS_LIST as a client reads it: u32 count, then {u8 type, u8 id} each. */
function channelsList(body: Uint8Array): Array<{ type: number; id: number }> {
  const r = new WireReader(body, 'CHANNELS_LIST');
  return Array.from({ length: r.u32('num_of_channels') }, () => ({ type: r.u8('type'), id: r.u8('id') }));
}

describe('link policy for playback', () => {
  function server(withSound: boolean) {
    const toWorker: ChannelConnectRequest[] = [];
    const toSound: ChannelConnectRequest[] = [];
    const soundDisconnects: number[] = [];
    const sp = SpiceServer.create({
      inputSink: new RecordingInputSink(),
      worker: { connect: async (r) => void toWorker.push(r), disconnect: async () => {}, primarySurface: () => null },
      ...(withSound && { sound: { connect: async (r) => void toSound.push(r), disconnect: async (id) => void soundDisconnects.push(id) } }),
    });
    return { sp, toWorker, toSound, soundDisconnects };
  }

  async function channelsOf(sp: SpiceServer): Promise<{ main: MemoryStream; sessionId: number; list: Array<{ type: number; id: number }> }> {
    const main = stream();
    sp.accept(main);
    expect(await link(main, ChannelType.MAIN, 0)).toBe(LinkError.OK);
    const init = await main.readMessage();
    const sessionId = new DataView(init.body.buffer, init.body.byteOffset).getUint32(0, true);
    main.clientSend(msg(MsgcMain.ATTACH_CHANNELS, []));
    for (;;) {
      const m = await main.readMessage();
      if (m.type === MsgMain.CHANNELS_LIST) return { main, sessionId, list: channelsList(m.body) };
    }
  }

  it('offers and links playback only when the session has sound, and hands it to the SoundWorker', async () => {
    vi.useRealTimers();
    const silent = server(false);
    const a = await channelsOf(await silent.sp);
    expect(a.list.map((c) => c.type)).not.toContain(ChannelType.PLAYBACK);
    const p1 = stream();
    (await silent.sp).accept(p1);
    expect(await link(p1, ChannelType.PLAYBACK, a.sessionId)).toBe(LinkError.CHANNEL_NOT_AVAILABLE);

    const loud = server(true);
    const sp = await loud.sp;
    const b = await channelsOf(sp);
    expect(b.list).toContainEqual({ type: ChannelType.PLAYBACK, id: 0 });
    const p2 = stream();
    sp.accept(p2);
    expect(await link(p2, ChannelType.PLAYBACK, b.sessionId)).toBe(LinkError.OK);
    await expect.poll(() => loud.toSound.length).toBe(1);
    expect(loud.toSound[0]).toMatchObject({ sessionId: b.sessionId, channelType: ChannelType.PLAYBACK, channelId: 0 });
    expect(loud.toWorker).toEqual([]);
    // Losing main disconnects the session's playback in the SoundWorker too.
    b.main.clientClose();
    await expect.poll(() => loud.soundDisconnects).toEqual([b.sessionId]);
  });
});
