/**
 * Every send of every channel client carries whole SPICE messages: a
 * WebSocket transport makes each send one WebSocket message, and a client
 * that reassembles per WebSocket message drops a message whose header ended
 * one. Checked at the byte level over in-memory streams.
 */
import { describe, expect, it } from 'vitest';
import { ChannelType, MsgCursor, MsgDisplay, MsgInputs, MsgMain, MsgcMain } from '../src/protocol/constants.ts';
import {
  FULL_HEADER_SIZE,
  MINI_HEADER_SIZE,
  decodeFullHeader,
  decodeMiniHeader,
} from '../src/protocol/data-header.ts';
import { LINK_HEADER_SIZE, decodeLinkHeader } from '../src/protocol/link.ts';
import { RedChannelClient } from '../src/server/red-channel-client.ts';
import { CursorChannel, CursorChannelClient } from '../src/worker/cursor-channel.ts';
import { DisplayChannel, DisplayChannelClient } from '../src/worker/display-channel.ts';
import { setLogLevel } from '../src/util/logger.ts';
import { MemoryStream } from './helpers/memory-stream.ts';
import { link, makeServer, msg, stream } from './helpers/server-session.ts';

setLogLevel('silent');

interface Framed {
  type: number;
  size: number;
}

/** Splits one send into messages; fails unless it holds whole messages only (no header or body cut at its end). */
function wholeMessages(send: Uint8Array, mini = true): Framed[] {
  const headerSize = mini ? MINI_HEADER_SIZE : FULL_HEADER_SIZE;
  const out: Framed[] = [];
  let at = 0;
  while (at < send.byteLength) {
    if (send.byteLength - at < headerSize) {
      throw new Error(`send of ${send.byteLength} B: expected a whole header at ${at}, only ${send.byteLength - at} B left`);
    }
    const headerBytes = send.subarray(at, at + headerSize);
    const h = mini ? decodeMiniHeader(headerBytes) : decodeFullHeader(headerBytes);
    at += headerSize;
    if (send.byteLength - at < h.size) {
      throw new Error(`send of ${send.byteLength} B: message type ${h.type} expects ${h.size} B of body at ${at}, only ${send.byteLength - at} B left`);
    }
    at += h.size;
    out.push({ type: h.type, size: h.size });
  }
  if (out.length === 0) throw new Error('an empty send');
  return out;
}

function allWhole(sends: readonly Uint8Array[], mini = true): Framed[] {
  return sends.flatMap((s) => wholeMessages(s, mini));
}

class EchoChannelClient extends RedChannelClient {
  protected onStart(): void {}
  protected handleMessage(): void {}
  sendRaw(type: number, body: Uint8Array): void {
    this.send(type, body);
  }
}

const opts = { sessionId: 1, channelType: ChannelType.DISPLAY, channelId: 0, miniHeader: true, channelCaps: [] };
const SIZES = [0, 1, 4095, 4096, 4097, 65535, 65536, 70_000, 1 << 20];

describe('whole messages per send', () => {
  for (const mini of [true, false]) {
    it(`RedChannelClient, ${mini ? 'mini' : 'full'} header: bodies of ${SIZES.join(', ')} B each go out whole in one send`, () => {
      const s = new MemoryStream(1);
      s.recordSends = true;
      const rcc = new EchoChannelClient(s, { ...opts, miniHeader: mini });
      rcc.start();
      for (const n of SIZES) rcc.sendRaw(200, new Uint8Array(n).fill(7));
      expect(s.sends.map((b) => wholeMessages(b, mini))).toEqual(SIZES.map((size) => [{ type: 200, size }]));
      expect(s.sends.map((b) => b.byteLength)).toEqual(SIZES.map((n) => n + (mini ? MINI_HEADER_SIZE : FULL_HEADER_SIZE)));
    });
  }

  it('link stage, main and inputs: the link reply is one send, its result another, then whole messages', async () => {
    const server = await makeServer().server;
    const main = stream();
    main.recordSends = true;
    server.accept(main);
    expect(await link(main, ChannelType.MAIN, 0)).toBe(0);
    const init = await main.readMessage();
    expect(init.type).toBe(MsgMain.INIT);
    const sessionId = new DataView(init.body.buffer, init.body.byteOffset).getUint32(0, true);
    main.clientSend(msg(MsgcMain.ATTACH_CHANNELS, []));
    // Read up to CHANNELS_LIST (a PING comes first).
    while ((await main.readMessage()).type !== MsgMain.CHANNELS_LIST);
    const inputs = stream();
    inputs.recordSends = true;
    server.accept(inputs);
    expect(await link(inputs, ChannelType.INPUTS, sessionId)).toBe(0);
    expect((await inputs.readMessage()).type).toBe(MsgInputs.INIT);
    for (const s of [main, inputs]) {
      const [reply, result, ...rest] = s.sends;
      expect(reply!.byteLength).toBe(LINK_HEADER_SIZE + decodeLinkHeader(reply!.subarray(0, LINK_HEADER_SIZE)).size);
      expect(result!.byteLength).toBe(4);
      expect(rest.length).toBeGreaterThan(0);
      allWhole(rest);
    }
    const mainTypes = allWhole(main.sends.slice(2)).map((m) => m.type);
    expect(mainTypes[0]).toBe(MsgMain.INIT);
    expect(mainTypes).toContain(MsgMain.CHANNELS_LIST);
    expect(allWhole(inputs.sends.slice(2)).map((m) => m.type)).toContain(MsgInputs.INIT);
  });

  it('display channel: a full-screen bitmap (> 64 KiB), small draws and COPY_BITS go out whole', () => {
    const ch = new DisplayChannel();
    ch.createPrimary(200, 150);
    const noise = new Uint8Array(200 * 150 * 4);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
    ch.drawCopy(0, 0, 200, 150, noise);
    const s = new MemoryStream(2);
    s.recordSends = true;
    const dcc = new DisplayChannelClient(s, opts, ch);
    ch.clients.add(dcc);
    dcc.start();
    ch.drawCopy(3, 4, 9, 16, noise.subarray(0, 9 * 16 * 4));
    ch.drawCopy(0, 0, 200, 150, noise);
    ch.copyBits(0, 0, 200, 100, 0, 16);
    const msgs = allWhole(s.sends);
    expect(s.sends.length).toBe(msgs.length);
    expect(msgs.map((m) => m.type)).toEqual([
      3, MsgDisplay.SURFACE_CREATE, MsgDisplay.DRAW_COPY, MsgDisplay.MARK, MsgDisplay.DRAW_COPY, MsgDisplay.DRAW_COPY, MsgDisplay.COPY_BITS,
    ]);
    expect(Math.max(...msgs.map((m) => m.size))).toBeGreaterThan(64 * 1024);
  });

  it('cursor channel: INIT and SET with a 64x64 shape (> 4 KiB) go out whole', () => {
    const ch = new CursorChannel();
    const shape = { unique: 1, type: 0, width: 64, height: 64, hotX: 0, hotY: 0, data: new Uint8Array(64 * 64 * 4).fill(9) };
    ch.set(1, 2, true, shape);
    const s = new MemoryStream(3);
    s.recordSends = true;
    const ccc = new CursorChannelClient(s, { ...opts, channelType: ChannelType.CURSOR }, ch);
    ch.clients.add(ccc);
    ccc.start();
    ch.move(5, 6);
    ch.set(7, 8, true, { ...shape, unique: 2 });
    ch.hide();
    const msgs = allWhole(s.sends);
    expect(s.sends.length).toBe(msgs.length);
    expect(msgs.map((m) => m.type)).toEqual([3, MsgCursor.INIT, MsgCursor.SET, MsgCursor.MOVE, MsgCursor.SET, MsgCursor.HIDE]);
    expect(msgs[1]!.size).toBeGreaterThan(4096);
  });
});
