/** Drives a SpiceServer over in-memory streams: the test plays the client, with real link, ticket and framing. */
import { constants, createPublicKey, publicEncrypt } from 'node:crypto';
import { expect } from 'vitest';
import { ChannelType, LinkError, MsgInputs, MsgMain } from '../../src/protocol/constants.ts';
import { encodeMiniHeader } from '../../src/protocol/data-header.ts';
import { decodeLinkReply, encodeLinkHeader, encodeLinkMess } from '../../src/protocol/link.ts';
import { decodeMainInit, type MainInit } from '../../src/protocol/main-messages.ts';
import { WireReader } from '../../src/protocol/wire.ts';
import type { ChannelConnectRequest, SurfaceSize } from '../../src/server/dispatcher.ts';
import type { AgentSink } from '../../src/server/agent-sink.ts';
import type { VdAgentLimits } from '../../src/server/vd-agent.ts';
import { RecordingInputSink } from '../../src/server/input-sink.ts';
import { SpiceServer } from '../../src/server/spice-server.ts';
import { MemoryStream } from './memory-stream.ts';

function ticketFor(spki: Uint8Array, password: string): Uint8Array {
  const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  return new Uint8Array(publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(password + '\0')));
}

const u32 = (v: number): Uint8Array => new Uint8Array(new Uint32Array([v]).buffer);

/** Links one channel; resolves with the link error (0 when linked). */
export async function link(s: MemoryStream, type: number, connectionId: number, password = ''): Promise<number> {
  const mess = encodeLinkMess({ connectionId, channelType: type, channelId: 0, commonCaps: [0x9], channelCaps: [] });
  s.clientSend(encodeLinkHeader(mess.byteLength));
  s.clientSend(mess);
  const header = new WireReader(await s.read(16));
  header.u32();
  header.u32();
  header.u32();
  const reply = decodeLinkReply(await s.read(header.u32()));
  if (reply.error !== 0) return reply.error;
  expect(reply.commonCaps).toEqual([0xb]);
  s.clientSend(u32(1));
  s.clientSend(ticketFor(reply.pubKey, password));
  return new DataView((await s.read(4)).buffer).getUint32(0, true);
}

export interface TestServerOptions {
  password?: string | null;
  absoluteMouse?: boolean;
  /** The primary surface the worker reports (null: none yet); change `surface.current` to resize. */
  surface?: SurfaceSize | null;
  /** The page's agent sink (absent: no agent). */
  agentSink?: AgentSink;
  agentLimits?: VdAgentLimits;
}

/** A server whose worker only records what it is asked, with a RecordingInputSink as the source. */
export function makeServer(opts: TestServerOptions = {}) {
  const connects: ChannelConnectRequest[] = [];
  const disconnects: number[] = [];
  const surface = { current: opts.surface === undefined ? { width: 1024, height: 768 } : opts.surface };
  const sink = new RecordingInputSink();
  const server = SpiceServer.create({
    password: opts.password ?? null,
    inputSink: sink,
    absoluteMouse: opts.absoluteMouse ?? true,
    ...(opts.agentSink ? { agentSink: opts.agentSink } : {}),
    ...(opts.agentLimits ? { agentLimits: opts.agentLimits } : {}),
    worker: {
      connect: async (req) => void connects.push(req),
      disconnect: async (id) => void disconnects.push(id),
      primarySurface: () => surface.current,
    },
  });
  return { server, sink, connects, disconnects, surface };
}

let nextId = 1;
export const stream = (): MemoryStream => new MemoryStream(nextId++);

/** One message framed with the mini header. */
export const msg = (type: number, body: ArrayLike<number>): Uint8Array => new Uint8Array([...encodeMiniHeader(type, body.length), ...Array.from(body)]);

/** Links main (INIT read) and returns it with the session id. */
export async function linkMain(server: SpiceServer): Promise<{ main: MemoryStream; init: MainInit }> {
  const main = stream();
  server.accept(main);
  expect(await link(main, ChannelType.MAIN, 0)).toBe(LinkError.OK);
  const first = await main.readMessage();
  expect(first.type).toBe(MsgMain.INIT);
  return { main, init: decodeMainInit(first.body) };
}

/** Links main and inputs (INIT of inputs read). */
export async function linkInputs(server: SpiceServer): Promise<{ main: MemoryStream; inputs: MemoryStream; sessionId: number }> {
  const { main, init } = await linkMain(server);
  const inputs = stream();
  server.accept(inputs);
  expect(await link(inputs, ChannelType.INPUTS, init.sessionId)).toBe(LinkError.OK);
  expect((await inputs.readMessage()).type).toBe(MsgInputs.INIT);
  return { main, inputs, sessionId: init.sessionId };
}
