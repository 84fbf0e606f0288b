/**
 * The record channel: clients are asked to capture only while a source
 * listens; raw DATA reaches it as S16 frames; other modes are ignored; a
 * DATA that is not whole frames ends that connection.
 */
import { describe, expect, it } from 'vitest';
import { AudioDataMode, AudioFormat, ChannelType, MsgRecord, MsgcRecord } from '../src/protocol/constants.ts';
import { decodeRecordStart, encodeRecordData, encodeRecordMode } from '../src/protocol/record-messages.ts';
import { RecordChannel, RecordChannelClient, type RecordedPcm } from '../src/sound/record-channel.ts';
import { setLogLevel } from '../src/util/logger.ts';
import { MemoryStream } from './helpers/memory-stream.ts';
import { msg } from './helpers/server-session.ts';

setLogLevel('silent');

function connect(channel: RecordChannel, id = 1): { s: MemoryStream; rcc: RecordChannelClient } {
  const s = new MemoryStream(id);
  const rcc = new RecordChannelClient(s, { sessionId: 9, channelType: ChannelType.RECORD, channelId: 0, miniHeader: true, channelCaps: [] }, channel);
  channel.clients.add(rcc);
  rcc.onDisconnect(() => channel.clients.delete(rcc));
  s.onData((b) => rcc.receive(b));
  rcc.start();
  return { s, rcc };
}

describe('record channel', () => {
  it('asks for the microphone only while a source listens, and hands it raw S16 frames', async () => {
    const ch = new RecordChannel();
    const { s } = connect(ch);
    expect(s.toClient.length).toBe(0); // nobody listens: no START
    const got: RecordedPcm[] = [];
    ch.listen((pcm) => got.push(pcm));
    const start = await s.readMessage();
    expect(start.type).toBe(MsgRecord.START);
    expect(decodeRecordStart(start.body)).toEqual({ channels: 2, format: AudioFormat.S16, frequency: 48000 });

    const frames = new Int16Array([1, -1, 2, -2, 3, -3]);
    s.clientSend(msg(MsgcRecord.MODE, encodeRecordMode(0, AudioDataMode.RAW)));
    s.clientSend(msg(MsgcRecord.START_MARK, new Uint8Array(4)));
    s.clientSend(msg(MsgcRecord.DATA, encodeRecordData(5, new Uint8Array(frames.buffer))));
    expect(got).toEqual([{ sessionId: 9, samples: frames, sampleRate: 48000, channels: 2 }]);

    ch.listen(null);
    expect((await s.readMessage()).type).toBe(MsgRecord.STOP);
    s.clientSend(msg(MsgcRecord.DATA, encodeRecordData(6, new Uint8Array(frames.buffer))));
    expect(got.length).toBe(1); // not listening any more
  });

  it('ignores audio in modes other than raw, and disconnects on DATA that is not whole frames', () => {
    const ch = new RecordChannel();
    const got: RecordedPcm[] = [];
    ch.listen((pcm) => got.push(pcm));
    const opus = connect(ch, 1);
    opus.s.clientSend(msg(MsgcRecord.MODE, encodeRecordMode(0, AudioDataMode.OPUS)));
    opus.s.clientSend(msg(MsgcRecord.DATA, encodeRecordData(0, new Uint8Array([1, 2, 3]))));
    expect(got).toEqual([]);
    expect(opus.rcc.isConnected).toBe(true);
    const bad = connect(ch, 2);
    bad.s.clientSend(msg(MsgcRecord.MODE, encodeRecordMode(0, AudioDataMode.RAW)));
    bad.s.clientSend(msg(MsgcRecord.DATA, encodeRecordData(0, new Uint8Array(6))));
    expect(bad.rcc.isConnected).toBe(false);
  });
});
