/**
 * The page as the guest agent, driven over the main channel as a client's
 * agent half would: tokens, chunking and reassembly, capabilities, clipboard
 * both ways with several clients, MONITORS_CONFIG, file transfer, and bad
 * input closing only the offending client's agent stream.
 */
import { describe, expect, it } from 'vitest';
import { MsgMain, MsgcMain } from '../src/protocol/constants.ts';
import {
  AGENT_HEADER_SIZE,
  AgentCap,
  AgentMsg,
  AgentReplyError,
  ClipboardType,
  FileXferStatus,
  agentCapsFromBits,
  decodeAgentHeader,
  decodeAgentReply,
  decodeAnnounceCapabilities,
  decodeClipboard,
  decodeClipboardGrab,
  decodeClipboardRequest,
  decodeFileXferStart,
  decodeFileXferStatus,
  encodeAgentMessage,
  encodeAgentMonitorsConfig,
  encodeAnnounceCapabilities,
  encodeClipboard,
  encodeClipboardGrab,
  encodeClipboardRequest,
  encodeFileXferData,
  encodeFileXferStart,
  encodeFileXferStatus,
  hasAgentCap,
} from '../src/protocol/agent-messages.ts';
import { decodeAgentToken, encodeAgentStart, encodeAgentToken } from '../src/protocol/main-messages.ts';
import { RecordingAgentSink, type AgentSink } from '../src/server/agent-sink.ts';
import { sanitizeFileName } from '../src/server/vd-agent.ts';
import { setLogLevel } from '../src/util/logger.ts';
import type { MemoryStream } from './helpers/memory-stream.ts';
import { linkMain, makeServer, msg } from './helpers/server-session.ts';

setLogLevel('silent');

/** spice-gtk's and spice-html5's caps, as far as the page cares. */
const CLIENT_CAPS = agentCapsFromBits([AgentCap.MONITORS_CONFIG, AgentCap.REPLY, AgentCap.CLIPBOARD_BY_DEMAND, AgentCap.FILE_XFER_DETAILED_ERRORS]);

/** The client side of an agent stream, as spice-gtk runs it. */
class AgentPeer {
  tokensFromServer = 0;
  disconnected: number | null = null;
  private buf = new Uint8Array(0);
  private readonly messages: Array<{ type: number; data: Uint8Array }> = [];

  constructor(readonly main: MemoryStream) {}

  start(tokens = 0xffffffff): void {
    this.main.clientSend(msg(MsgcMain.AGENT_START, encodeAgentStart(tokens)));
  }

  /** Sends raw agent-stream bytes as AGENT_DATA messages of `chunk` bytes. */
  sendRaw(bytes: Uint8Array, chunk = 2048): void {
    for (let at = 0; at < bytes.byteLength; at += chunk) {
      this.main.clientSend(msg(MsgcMain.AGENT_DATA, bytes.subarray(at, Math.min(bytes.byteLength, at + chunk))));
    }
  }

  send(type: number, data: Uint8Array, chunk = 2048): void {
    this.sendRaw(encodeAgentMessage(type, data), chunk);
  }

  /** Reads main-channel messages until one whole agent message of `type` arrived (others are kept). */
  async next(type: number): Promise<Uint8Array> {
    for (;;) {
      const i = this.messages.findIndex((m) => m.type === type);
      if (i >= 0) return this.messages.splice(i, 1)[0]!.data;
      await this.pump();
    }
  }

  /** Reads one main-channel message and files it. */
  async pump(): Promise<void> {
    const m = await this.main.readMessage();
    if (m.type === MsgMain.AGENT_TOKEN) this.tokensFromServer += decodeAgentToken(m.body).numTokens;
    else if (m.type === MsgMain.AGENT_DISCONNECTED) this.disconnected = new DataView(m.body.buffer, m.body.byteOffset).getUint32(0, true);
    else if (m.type === MsgMain.AGENT_DATA) {
      expect(m.body.byteLength).toBeLessThanOrEqual(2048);
      const joined = new Uint8Array(this.buf.byteLength + m.body.byteLength);
      joined.set(this.buf);
      joined.set(m.body, this.buf.byteLength);
      this.buf = joined;
      while (this.buf.byteLength >= AGENT_HEADER_SIZE) {
        const h = decodeAgentHeader(this.buf);
        if (this.buf.byteLength < AGENT_HEADER_SIZE + h.size) break;
        this.messages.push({ type: h.type, data: this.buf.slice(AGENT_HEADER_SIZE, AGENT_HEADER_SIZE + h.size) });
        this.buf = this.buf.slice(AGENT_HEADER_SIZE + h.size);
      }
    }
  }

  /** Reads until AGENT_DISCONNECTED arrives. */
  async untilDisconnected(): Promise<number> {
    while (this.disconnected === null) await this.pump();
    return this.disconnected;
  }

  /** AGENT_START plus the capability exchange both clients do. */
  async handshake(): Promise<number[]> {
    this.start();
    this.send(AgentMsg.ANNOUNCE_CAPABILITIES, encodeAnnounceCapabilities({ request: true, caps: CLIENT_CAPS }));
    const reply = decodeAnnounceCapabilities(await this.next(AgentMsg.ANNOUNCE_CAPABILITIES));
    expect(reply.request).toBe(false);
    return reply.caps;
  }
}

async function agentClient(server: Awaited<ReturnType<typeof makeServer>['server']>): Promise<{ peer: AgentPeer; sessionId: number; init: { agentConnected: number; agentTokens: number } }> {
  const { main, init } = await linkMain(server);
  return { peer: new AgentPeer(main), sessionId: init.sessionId, init };
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('VdAgent: the page as the guest agent', () => {
  it('MAIN_INIT says the agent is connected with 10 tokens; without a sink it says no agent', async () => {
    const withAgent = await makeServer({ agentSink: new RecordingAgentSink() }).server;
    const { init } = await agentClient(withAgent);
    expect(init).toMatchObject({ agentConnected: 1, agentTokens: 10 });
    const without = await makeServer().server;
    const { init: none } = await agentClient(without);
    expect(none).toMatchObject({ agentConnected: 0, agentTokens: 10 });
  });

  it('answers a capability request with its own: monitors config, reply, clipboard by demand, file transfer', async () => {
    const server = await makeServer({ agentSink: new RecordingAgentSink() }).server;
    const { peer } = await agentClient(server);
    const caps = await peer.handshake();
    for (const bit of [AgentCap.MONITORS_CONFIG, AgentCap.REPLY, AgentCap.CLIPBOARD_BY_DEMAND]) expect(hasAgentCap(caps, bit)).toBe(true);
    // The recording sink takes files; selections and serials are never announced (no header to parse).
    expect(hasAgentCap(caps, AgentCap.FILE_XFER_DISABLED)).toBe(false);
    expect(hasAgentCap(caps, AgentCap.CLIPBOARD_SELECTION)).toBe(false);
    expect(hasAgentCap(caps, AgentCap.CLIPBOARD_GRAB_SERIAL)).toBe(false);

    const noFiles = await makeServer({ agentSink: {} }).server;
    const { peer: p2 } = await agentClient(noFiles);
    expect(hasAgentCap(await p2.handshake(), AgentCap.FILE_XFER_DISABLED)).toBe(true);
  });

  it('hands tokens back in batches of 5 and sends only as many AGENT_DATA as the client granted', async () => {
    const server = await makeServer({ agentSink: new RecordingAgentSink() }).server;
    const { peer } = await agentClient(server);
    peer.start(2);
    for (let i = 0; i < 10; i++) peer.send(AgentMsg.MOUSE_STATE, new Uint8Array(16));
    while (peer.tokensFromServer < 10) await peer.pump();
    expect(peer.tokensFromServer).toBe(10);

    // The grab takes one of the 2 tokens; the 5004-byte clipboard answer is 3 chunks: 1 goes, 2 wait for AGENT_TOKEN.
    server.agent!.offerText('x'.repeat(4980));
    peer.send(AgentMsg.ANNOUNCE_CAPABILITIES, encodeAnnounceCapabilities({ request: false, caps: CLIENT_CAPS }));
    expect(decodeClipboardGrab(await peer.next(AgentMsg.CLIPBOARD_GRAB)).types).toEqual([ClipboardType.UTF8_TEXT]);
    peer.send(AgentMsg.CLIPBOARD_REQUEST, encodeClipboardRequest(ClipboardType.UTF8_TEXT));
    await peer.pump();
    await expect(peer.main.read(1)).rejects.toThrow(/expected 1 bytes/);
    peer.main.clientSend(msg(MsgcMain.AGENT_TOKEN, encodeAgentToken(2)));
    expect(decodeClipboard(await peer.next(AgentMsg.CLIPBOARD)).data.byteLength).toBe(4980);
  });

  it('reassembles messages cut anywhere: a header split over chunks, two messages in one chunk', async () => {
    const sink = new RecordingAgentSink();
    const server = await makeServer({ agentSink: sink }).server;
    const { peer, sessionId } = await agentClient(server);
    await peer.handshake();
    const grab = encodeAgentMessage(AgentMsg.CLIPBOARD_GRAB, encodeClipboardGrab([ClipboardType.UTF8_TEXT]));
    peer.sendRaw(grab, 7);
    expect(decodeClipboardRequest(await peer.next(AgentMsg.CLIPBOARD_REQUEST)).type).toBe(ClipboardType.UTF8_TEXT);
    const big = 'é'.repeat(3000); // 6000 bytes: several chunks
    const data = encodeAgentMessage(AgentMsg.CLIPBOARD, encodeClipboard(ClipboardType.UTF8_TEXT, text(big)));
    const release = encodeAgentMessage(AgentMsg.CLIPBOARD_RELEASE, new Uint8Array(0));
    const both = new Uint8Array(data.byteLength + release.byteLength);
    both.set(data);
    both.set(release, data.byteLength);
    peer.sendRaw(both, 1000);
    await expect.poll(() => sink.events).toContainEqual({ kind: 'clipboardText', text: big, sessionId });
    expect(server.agent!.clipboardOwner).toBe(0); // the release came in the same chunk
  });

  it('clipboard: the last client to grab owns it, the page gets its text, every other client can paste it', async () => {
    const sink = new RecordingAgentSink();
    const server = await makeServer({ agentSink: sink }).server;
    const a = await agentClient(server);
    const b = await agentClient(server);
    await a.peer.handshake();
    await b.peer.handshake();

    // Page → clients.
    server.agent!.offerText('from the page');
    for (const c of [a, b]) {
      expect(decodeClipboardGrab(await c.peer.next(AgentMsg.CLIPBOARD_GRAB)).types).toEqual([ClipboardType.UTF8_TEXT]);
      c.peer.send(AgentMsg.CLIPBOARD_REQUEST, encodeClipboardRequest(ClipboardType.UTF8_TEXT));
      const clip = decodeClipboard(await c.peer.next(AgentMsg.CLIPBOARD));
      expect(clip.type).toBe(ClipboardType.UTF8_TEXT);
      expect(new TextDecoder().decode(clip.data)).toBe('from the page');
    }

    // A copies: the page asks for the text, B loses the page's offer and gets A's copy instead.
    a.peer.send(AgentMsg.CLIPBOARD_GRAB, encodeClipboardGrab([ClipboardType.UTF8_TEXT]));
    await a.peer.next(AgentMsg.CLIPBOARD_REQUEST);
    await b.peer.next(AgentMsg.CLIPBOARD_RELEASE);
    a.peer.send(AgentMsg.CLIPBOARD, encodeClipboard(ClipboardType.UTF8_TEXT, text('from A')));
    await b.peer.next(AgentMsg.CLIPBOARD_GRAB);
    expect(sink.events.filter((e) => e.kind === 'clipboardText')).toEqual([{ kind: 'clipboardText', text: 'from A', sessionId: a.sessionId }]);
    b.peer.send(AgentMsg.CLIPBOARD_REQUEST, encodeClipboardRequest(ClipboardType.UTF8_TEXT));
    expect(new TextDecoder().decode(decodeClipboard(await b.peer.next(AgentMsg.CLIPBOARD)).data)).toBe('from A');

    // B copies after A: B owns it; data A sends late is not taken.
    b.peer.send(AgentMsg.CLIPBOARD_GRAB, encodeClipboardGrab([ClipboardType.UTF8_TEXT]));
    await b.peer.next(AgentMsg.CLIPBOARD_REQUEST);
    a.peer.send(AgentMsg.CLIPBOARD, encodeClipboard(ClipboardType.UTF8_TEXT, text('stale A')));
    b.peer.send(AgentMsg.CLIPBOARD, encodeClipboard(ClipboardType.UTF8_TEXT, text('from B')));
    await a.peer.next(AgentMsg.CLIPBOARD_GRAB);
    expect(server.agent!.clipboardOwner).toBe(b.sessionId);
    expect(sink.events.filter((e) => e.kind === 'clipboardText').map((e) => (e as { text: string }).text)).toEqual(['from A', 'from B']);

    // A request for a type the page does not hold is answered with type NONE.
    a.peer.send(AgentMsg.CLIPBOARD_REQUEST, encodeClipboardRequest(ClipboardType.IMAGE_PNG));
    expect(decodeClipboard(await a.peer.next(AgentMsg.CLIPBOARD)).type).toBe(ClipboardType.NONE);
  });

  it('a client that joins later gets the page clipboard offered once its capabilities are known', async () => {
    const server = await makeServer({ agentSink: new RecordingAgentSink() }).server;
    server.agent!.offerText('waiting');
    const late = await agentClient(server);
    await late.peer.handshake();
    expect(decodeClipboardGrab(await late.peer.next(AgentMsg.CLIPBOARD_GRAB)).types).toEqual([ClipboardType.UTF8_TEXT]);
  });

  it('MONITORS_CONFIG becomes a resize request; the reply says whether the display followed', async () => {
    const asked: Array<[number, number]> = [];
    const sink: AgentSink = {
      resizeRequest: ({ width, height }) => {
        asked.push([width, height]);
        return width <= 1920;
      },
    };
    const server = await makeServer({ agentSink: sink }).server;
    const { peer } = await agentClient(server);
    await peer.handshake();
    const config = (width: number, height: number): Uint8Array =>
      encodeAgentMonitorsConfig({ flags: 0, monitors: [{ width, height, depth: 32, x: 0, y: 0 }] });
    peer.send(AgentMsg.MONITORS_CONFIG, config(800, 600));
    expect(decodeAgentReply(await peer.next(AgentMsg.REPLY))).toEqual({ type: AgentMsg.MONITORS_CONFIG, error: AgentReplyError.SUCCESS });
    peer.send(AgentMsg.MONITORS_CONFIG, config(2560, 1440));
    expect(decodeAgentReply(await peer.next(AgentMsg.REPLY)).error).toBe(AgentReplyError.ERROR);
    peer.send(AgentMsg.MONITORS_CONFIG, config(3000, 600)); // past the limit: the source is not even asked
    expect(decodeAgentReply(await peer.next(AgentMsg.REPLY)).error).toBe(AgentReplyError.ERROR);
    expect(asked).toEqual([[800, 600], [2560, 1440]]);
  });

  it('file transfer: a sanitised name, the data whole, progress, SUCCESS; too large is refused; cancel is reported', async () => {
    const sink = new RecordingAgentSink();
    const server = await makeServer({ agentSink: sink, agentLimits: { maxFileSize: 100_000 } }).server;
    const { peer, sessionId } = await agentClient(server);
    await peer.handshake();
    const body = new Uint8Array(70_000).map((_, i) => i % 251);
    peer.send(AgentMsg.FILE_XFER_START, encodeFileXferStart({ id: 1, name: '../../etc/pass\twd', size: body.byteLength }));
    expect(decodeFileXferStatus(await peer.next(AgentMsg.FILE_XFER_STATUS))).toMatchObject({ id: 1, result: FileXferStatus.CAN_SEND_DATA });
    peer.send(AgentMsg.FILE_XFER_DATA, encodeFileXferData(1, body.subarray(0, 65536)));
    peer.send(AgentMsg.FILE_XFER_DATA, encodeFileXferData(1, body.subarray(65536)));
    expect(decodeFileXferStatus(await peer.next(AgentMsg.FILE_XFER_STATUS))).toMatchObject({ id: 1, result: FileXferStatus.SUCCESS });
    expect(sink.files).toHaveLength(1);
    expect(sink.files[0]!.name).toBe('pass_wd');
    expect(sink.files[0]!.data).toEqual(body);
    expect(sink.files[0]!.sessionId).toBe(sessionId);
    const states = sink.events.filter((e) => e.kind === 'fileProgress').map((e) => [(e as { state: string }).state, (e as { received: number }).received]);
    expect(states).toEqual([['receiving', 0], ['receiving', 65536], ['done', 70_000]]);

    peer.send(AgentMsg.FILE_XFER_START, encodeFileXferStart({ id: 2, name: 'big.iso', size: 200_000 }));
    const refused = decodeFileXferStatus(await peer.next(AgentMsg.FILE_XFER_STATUS));
    expect(refused).toMatchObject({ id: 2, result: FileXferStatus.ERROR });
    expect(new TextDecoder().decode(refused.detail)).toMatch(/at most 100000 bytes/);

    peer.send(AgentMsg.FILE_XFER_START, encodeFileXferStart({ id: 3, name: 'half.txt', size: 10 }));
    await peer.next(AgentMsg.FILE_XFER_STATUS);
    peer.send(AgentMsg.FILE_XFER_DATA, encodeFileXferData(3, text('hello')));
    peer.send(AgentMsg.FILE_XFER_STATUS, encodeFileXferStatus(3, FileXferStatus.CANCELLED));
    await expect.poll(() => sink.events.at(-1)).toMatchObject({ kind: 'fileProgress', id: 3, state: 'cancelled', received: 5 });
    expect(sink.files).toHaveLength(1);
  });

  it('reads spice-gtk\'s GKeyFile escapes in file names', () => {
    const text = '[vdagent-file-xfer]\nname=\\sa\\tb\\\\c.txt\nsize=3\n';
    const data = new Uint8Array([7, 0, 0, 0, ...new TextEncoder().encode(text)]);
    expect(decodeFileXferStart(data)).toEqual({ id: 7, name: ' a\tb\\c.txt', size: 3 });
  });

  it('PNG images both ways: a PNG-only grab is fetched as PNG, the page offers PNG', async () => {
    const sink = new RecordingAgentSink();
    const server = await makeServer({ agentSink: sink }).server;
    const { peer, sessionId } = await agentClient(server);
    await peer.handshake();
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    peer.send(AgentMsg.CLIPBOARD_GRAB, encodeClipboardGrab([ClipboardType.IMAGE_BMP, ClipboardType.IMAGE_PNG]));
    expect(decodeClipboardRequest(await peer.next(AgentMsg.CLIPBOARD_REQUEST)).type).toBe(ClipboardType.IMAGE_PNG);
    peer.send(AgentMsg.CLIPBOARD, encodeClipboard(ClipboardType.IMAGE_PNG, png));
    await expect.poll(() => sink.events).toContainEqual({ kind: 'clipboardImage', bytes: png.byteLength, sessionId });

    server.agent!.offerImage(png.subarray(0, 4));
    expect(decodeClipboardGrab(await peer.next(AgentMsg.CLIPBOARD_GRAB)).types).toEqual([ClipboardType.IMAGE_PNG]);
    peer.send(AgentMsg.CLIPBOARD_REQUEST, encodeClipboardRequest(ClipboardType.IMAGE_PNG));
    expect(decodeClipboard(await peer.next(AgentMsg.CLIPBOARD)).data).toEqual(png.subarray(0, 4));
  });

  it('resize requests run one at a time, in the order they came', async () => {
    const log: string[] = [];
    const sink: AgentSink = {
      resizeRequest: async ({ width }) => {
        log.push(`start ${width}`);
        await new Promise((r) => setTimeout(r, width === 800 ? 50 : 0));
        log.push(`end ${width}`);
        return true;
      },
    };
    const server = await makeServer({ agentSink: sink }).server;
    const { peer } = await agentClient(server);
    await peer.handshake();
    for (const width of [800, 640]) {
      peer.send(AgentMsg.MONITORS_CONFIG, encodeAgentMonitorsConfig({ flags: 0, monitors: [{ width, height: 480, depth: 32, x: 0, y: 0 }] }));
    }
    await peer.next(AgentMsg.REPLY);
    await peer.next(AgentMsg.REPLY);
    expect(log).toEqual(['start 800', 'end 800', 'start 640', 'end 640']);
  });

  it('sanitises file names: last component, no control or reserved characters, never hidden or empty', () => {
    expect(sanitizeFileName('C:\\Users\\me\\a<b>.txt')).toBe('a_b_.txt');
    expect(sanitizeFileName('..')).toBe('file');
    expect(sanitizeFileName('.bashrc')).toBe('bashrc');
    expect(sanitizeFileName('dir/')).toBe('file');
  });

  for (const [what, bytes] of [
    ['a wrong protocol number', new Uint8Array([2, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0])],
    ['a message larger than the limit', encodeAgentMessage(AgentMsg.CLIPBOARD, new Uint8Array(0)).map((b, i) => (i === 16 ? 0 : i === 18 ? 0x40 : b))],
    ['a grab whose types are not whole u32s', encodeAgentMessage(AgentMsg.CLIPBOARD_GRAB, new Uint8Array(3))],
    ['a file start without a size', encodeAgentMessage(AgentMsg.FILE_XFER_START, new Uint8Array([1, 0, 0, 0, ...text('[vdagent-file-xfer]\nname=x\n')]))],
  ] as const) {
    it(`${what} closes that client's agent stream only`, async () => {
      const sink = new RecordingAgentSink();
      const server = await makeServer({ agentSink: sink, agentLimits: { maxClipboard: 1024 * 1024 } }).server;
      const bad = await agentClient(server);
      const good = await agentClient(server);
      await bad.peer.handshake();
      await good.peer.handshake();
      bad.peer.sendRaw(bytes);
      expect(await bad.peer.untilDisconnected()).toBeGreaterThan(0);
      // Its main channel lives on; its agent data is dropped from now on.
      bad.peer.send(AgentMsg.CLIPBOARD_GRAB, encodeClipboardGrab([ClipboardType.UTF8_TEXT]));
      bad.peer.main.clientSend(msg(MsgcMain.ATTACH_CHANNELS, []));
      let m = await bad.peer.main.readMessage();
      while (m.type !== MsgMain.CHANNELS_LIST) {
        expect(m.type).not.toBe(MsgMain.AGENT_DATA);
        m = await bad.peer.main.readMessage();
      }
      expect(server.stats().clients).toBe(2);
      expect(server.agent!.clientCount).toBe(1);
      // The other client's agent still works.
      good.peer.send(AgentMsg.CLIPBOARD_GRAB, encodeClipboardGrab([ClipboardType.UTF8_TEXT]));
      await good.peer.next(AgentMsg.CLIPBOARD_REQUEST);
      good.peer.send(AgentMsg.CLIPBOARD, encodeClipboard(ClipboardType.UTF8_TEXT, text('still here')));
      await expect.poll(() => sink.events).toContainEqual({ kind: 'clipboardText', text: 'still here', sessionId: good.sessionId });
    });
  }
});
