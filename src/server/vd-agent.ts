/**
 * VdAgent: the page itself as the session's guest agent (what spice-vdagent is
 * in a VM). Every client's agent stream ({@link AgentStream}) ends here; the
 * agent answers capability announcements, keeps the one clipboard (the last
 * client to grab owns it, and its copy is offered to every other client),
 * turns MONITORS_CONFIG into resize requests and receives file transfers, and
 * hands each request to the source's {@link AgentSink}.
 */
import {
  AgentCap,
  AgentMsg,
  AgentReplyError,
  ClipboardType,
  FileXferStatus,
  agentCapsFromBits,
  agentMsgName,
  decodeAgentMonitorsConfig,
  decodeAnnounceCapabilities,
  decodeClipboard,
  decodeClipboardGrab,
  decodeClipboardRequest,
  decodeFileXferData,
  decodeFileXferStart,
  decodeFileXferStatus,
  encodeAgentReply,
  encodeAnnounceCapabilities,
  encodeClipboard,
  encodeClipboardGrab,
  encodeClipboardRequest,
  encodeFileXferStatus,
  hasAgentCap,
  type AgentMonitorsConfig,
} from '../protocol/agent-messages.ts';
import { ProtocolError } from '../protocol/wire.ts';
import { MAX_SURFACE_HEIGHT, MAX_SURFACE_WIDTH } from '../qxl/qxl-layout.ts';
import { createLogger, type Logger } from '../util/logger.ts';
import type { AgentSink, SpiceAgent } from './agent-sink.ts';
import { AgentStream } from './agent-stream.ts';

const log = createLogger('vd-agent');

export interface VdAgentLimits {
  /** Largest clipboard content accepted from a client, in bytes (default 16 MiB). */
  maxClipboard?: number;
  /** Largest file accepted (default 64 MiB). */
  maxFileSize?: number;
  /** Transfers one client may have running at once (default 8). */
  maxTransfers?: number;
  /** Largest display a resize request may ask for (default: the largest QXL surface). */
  maxWidth?: number;
  maxHeight?: number;
}

/** Overhead a VDAgentMessage may carry beyond its payload (clipboard type, file xfer id and size). */
const MESSAGE_OVERHEAD = 64;
/** spice-gtk sends file data in 64 KiB pieces; a message larger than that is not file data. */
const FILE_CHUNK_LIMIT = 64 * 1024;

interface Transfer {
  id: number;
  name: string;
  size: number;
  received: number;
  chunks: Uint8Array[];
}

/** What the page holds on the clipboard, and whose it is. */
interface Clipboard {
  type: number;
  data: Uint8Array;
  /** The client it came from, or 0 for the page (the source). */
  from: number;
}

class AgentClient {
  caps: number[] = [];
  /** The types this client offered in its last grab (it owns the clipboard while it is the owner). */
  grabbedTypes: number[] = [];
  /** Whether this client holds our grab (so it must hear the release). */
  hasOurGrab = false;
  readonly transfers = new Map<number, Transfer>();

  constructor(
    readonly sessionId: number,
    readonly stream: AgentStream,
    readonly log: Logger,
  ) {}

  has(cap: number): boolean {
    return hasAgentCap(this.caps, cap);
  }
}

/**
 * Sanitises a client's file name: the last path component, no control or
 * reserved characters, no leading dots, at most 200 characters, never empty.
 */
export function sanitizeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  let clean = base.replace(/[\u0000-\u001f\u007f<>:"|?*]/g, '_').replace(/^[.\s]+/, '').trim();
  if (clean.length > 200) clean = clean.slice(0, 200);
  return clean || 'file';
}

export class VdAgent implements SpiceAgent {
  private readonly clients = new Map<number, AgentClient>();
  private clipboard: Clipboard | null = null;
  /** The client whose grab is current (0: none or the page). */
  private owner = 0;
  private readonly maxClipboard: number;
  private readonly maxFileSize: number;
  private readonly maxTransfers: number;
  /** Resize requests run one after another: each makes a new surface, and the last asked must win. */
  private resizing: Promise<void> = Promise.resolve();
  private readonly maxWidth: number;
  private readonly maxHeight: number;

  constructor(
    private sink: AgentSink,
    limits: VdAgentLimits = {},
  ) {
    this.maxClipboard = limits.maxClipboard ?? 16 * 1024 * 1024;
    this.maxFileSize = limits.maxFileSize ?? 64 * 1024 * 1024;
    this.maxTransfers = limits.maxTransfers ?? 8;
    this.maxWidth = limits.maxWidth ?? MAX_SURFACE_WIDTH;
    this.maxHeight = limits.maxHeight ?? MAX_SURFACE_HEIGHT;
  }

  /** The capabilities this agent announces (file transfer only when something takes files). */
  get caps(): number[] {
    const bits: number[] = [AgentCap.MONITORS_CONFIG, AgentCap.REPLY, AgentCap.CLIPBOARD_BY_DEMAND, AgentCap.FILE_XFER_DETAILED_ERRORS];
    if (!this.sink.fileReceived) bits.push(AgentCap.FILE_XFER_DISABLED);
    return agentCapsFromBits(bits);
  }

  /** Replaces where requests go (e.g. when the source changes). */
  setSink(sink: AgentSink): void {
    this.sink = sink;
  }

  /** Clients with an agent stream, for stats and tests. */
  get clientCount(): number {
    return this.clients.size;
  }

  /** The session id of the client owning the clipboard (0: the page or nobody). */
  get clipboardOwner(): number {
    return this.owner;
  }

  /** A client's main channel is up: its agent stream, sending through `send`. */
  connect(sessionId: number, send: (type: number, body: Uint8Array) => void, clientLog: Logger): AgentStream {
    const stream: AgentStream = new AgentStream({
      send,
      maxMessageSize: Math.max(this.maxClipboard, FILE_CHUNK_LIMIT) + MESSAGE_OVERHEAD,
      log: clientLog,
      onMessage: (type, data) => this.handle(client, type, data),
      onClosed: () => this.forget(sessionId),
    });
    const client = new AgentClient(sessionId, stream, clientLog);
    this.clients.set(sessionId, client);
    return stream;
  }

  /** The client's main channel closed. */
  disconnect(sessionId: number): void {
    this.forget(sessionId);
  }

  offerText(text: string): void {
    this.offer(ClipboardType.UTF8_TEXT, new TextEncoder().encode(text), 0);
  }

  offerImage(png: Uint8Array): void {
    this.offer(ClipboardType.IMAGE_PNG, png, 0);
  }

  releaseClipboard(): void {
    if (this.clipboard?.from !== 0) return;
    this.clipboard = null;
    for (const c of this.clients.values()) this.withdrawGrab(c);
  }

  /** Puts `data` on the page's clipboard and offers it to every client but the one it came from. */
  private offer(type: number, data: Uint8Array, from: number): void {
    this.clipboard = { type, data, from };
    if (from === 0) this.owner = 0;
    for (const c of this.clients.values()) {
      if (c.sessionId === from) continue;
      this.sendGrab(c);
    }
  }

  private sendGrab(c: AgentClient): void {
    if (!this.clipboard || !c.stream.isOpen || !c.has(AgentCap.CLIPBOARD_BY_DEMAND)) return;
    c.stream.sendMessage(AgentMsg.CLIPBOARD_GRAB, encodeClipboardGrab([this.clipboard.type]));
    c.hasOurGrab = true;
    c.grabbedTypes = [];
  }

  private withdrawGrab(c: AgentClient): void {
    if (!c.hasOurGrab) return;
    c.hasOurGrab = false;
    c.stream.sendMessage(AgentMsg.CLIPBOARD_RELEASE, new Uint8Array(0));
  }

  private forget(sessionId: number): void {
    const c = this.clients.get(sessionId);
    if (!c) return;
    this.clients.delete(sessionId);
    if (this.owner === sessionId) this.owner = 0;
    for (const t of c.transfers.values()) this.progress(c, t, 'cancelled');
    c.transfers.clear();
  }

  private handle(c: AgentClient, type: number, data: Uint8Array): void {
    switch (type) {
      case AgentMsg.ANNOUNCE_CAPABILITIES: {
        const m = decodeAnnounceCapabilities(data);
        c.caps = m.caps;
        if (m.request) {
          c.stream.sendMessage(AgentMsg.ANNOUNCE_CAPABILITIES, encodeAnnounceCapabilities({ request: false, caps: this.caps }));
        }
        // A client that joins while the page holds a clipboard can paste it at once.
        if (this.clipboard && this.clipboard.from !== c.sessionId && !c.hasOurGrab) this.sendGrab(c);
        break;
      }
      case AgentMsg.CLIPBOARD_GRAB:
        this.onGrab(c, decodeClipboardGrab(data).types);
        break;
      case AgentMsg.CLIPBOARD_REQUEST:
        this.onRequest(c, decodeClipboardRequest(data).type);
        break;
      case AgentMsg.CLIPBOARD:
        this.onClipboard(c, decodeClipboard(data));
        break;
      case AgentMsg.CLIPBOARD_RELEASE:
        if (this.owner === c.sessionId) this.owner = 0;
        c.grabbedTypes = [];
        break;
      case AgentMsg.MONITORS_CONFIG: {
        const cfg = decodeAgentMonitorsConfig(data); // malformed: thrown here, closing this stream
        this.resizing = this.resizing.then(() => this.onMonitorsConfig(c, cfg));
        break;
      }
      case AgentMsg.FILE_XFER_START:
        this.onFileStart(c, data);
        break;
      case AgentMsg.FILE_XFER_DATA:
        this.onFileData(c, data);
        break;
      case AgentMsg.FILE_XFER_STATUS: {
        const s = decodeFileXferStatus(data);
        const t = c.transfers.get(s.id);
        if (t && s.result !== FileXferStatus.CAN_SEND_DATA) {
          c.transfers.delete(s.id);
          this.progress(c, t, s.result === FileXferStatus.CANCELLED ? 'cancelled' : 'failed');
        }
        break;
      }
      case AgentMsg.MOUSE_STATE:
      case AgentMsg.DISPLAY_CONFIG:
      case AgentMsg.MAX_CLIPBOARD:
      case AgentMsg.AUDIO_VOLUME_SYNC:
      case AgentMsg.CLIENT_DISCONNECTED:
      case AgentMsg.GRAPHICS_DEVICE_INFO:
      case AgentMsg.REPLY:
        c.log.debug(`agent ${agentMsgName(type)} (${data.byteLength} bytes): nothing to do for it`);
        break;
      default:
        // vdagent ignores types it does not know: newer clients may send them.
        c.log.debug(`agent message ${agentMsgName(type)} unknown: ignored`);
    }
  }

  private onGrab(c: AgentClient, types: number[]): void {
    this.owner = c.sessionId;
    c.grabbedTypes = types;
    c.hasOurGrab = false;
    // The page's offer (or another client's copy) is superseded everywhere.
    for (const other of this.clients.values()) if (other !== c) this.withdrawGrab(other);
    // Fetch at once: the page has no "paste" moment of its own to wait for.
    const want = types.includes(ClipboardType.UTF8_TEXT)
      ? ClipboardType.UTF8_TEXT
      : types.includes(ClipboardType.IMAGE_PNG)
        ? ClipboardType.IMAGE_PNG
        : null;
    if (want !== null) c.stream.sendMessage(AgentMsg.CLIPBOARD_REQUEST, encodeClipboardRequest(want));
    else c.log.debug(`clipboard grab offers types ${types.join(',')}: none the page takes`);
  }

  private onRequest(c: AgentClient, type: number): void {
    const clip = this.clipboard;
    if (clip && clip.type === type && c.hasOurGrab) {
      c.stream.sendMessage(AgentMsg.CLIPBOARD, encodeClipboard(type, clip.data));
    } else {
      // Type NONE: "nothing of that type here", the client's paste fails cleanly.
      c.log.debug(`clipboard request for type ${type}: the page offers ${clip ? `type ${clip.type}` : 'nothing'}`);
      c.stream.sendMessage(AgentMsg.CLIPBOARD, encodeClipboard(ClipboardType.NONE, new Uint8Array(0)));
    }
  }

  private onClipboard(c: AgentClient, m: { type: number; data: Uint8Array }): void {
    if (this.owner !== c.sessionId || !c.grabbedTypes.includes(m.type)) {
      c.log.debug(`clipboard data of type ${m.type} from a client that does not own the clipboard: dropped`);
      return;
    }
    if (m.type === ClipboardType.UTF8_TEXT) {
      const text = new TextDecoder('utf-8', { fatal: false }).decode(m.data).replace(/\0+$/, '');
      log.info(`session ${c.sessionId} copied ${text.length} characters`);
      this.sink.clipboardText?.(text, c.sessionId);
    } else if (m.type === ClipboardType.IMAGE_PNG) {
      log.info(`session ${c.sessionId} copied a ${m.data.byteLength}-byte PNG`);
      this.sink.clipboardImage?.(m.data, c.sessionId);
    } else {
      return;
    }
    // One clipboard for everyone: the other clients may paste this copy too.
    this.offer(m.type, m.data.slice(), c.sessionId);
  }

  private async onMonitorsConfig(c: AgentClient, cfg: AgentMonitorsConfig): Promise<void> {
    const mon = cfg.monitors.find((m) => m.width > 0 && m.height > 0);
    const reply = (ok: boolean): void =>
      c.stream.sendMessage(AgentMsg.REPLY, encodeAgentReply(AgentMsg.MONITORS_CONFIG, ok ? AgentReplyError.SUCCESS : AgentReplyError.ERROR));
    if (!mon) {
      c.log.debug('monitors config without an enabled monitor: nothing to resize');
      reply(false);
      return;
    }
    if (mon.width > this.maxWidth || mon.height > this.maxHeight) {
      c.log.warn(`resize to ${mon.width}x${mon.height} refused: expected at most ${this.maxWidth}x${this.maxHeight}`);
      reply(false);
      return;
    }
    let ok = false;
    try {
      ok = (await this.sink.resizeRequest?.({ width: mon.width, height: mon.height, sessionId: c.sessionId })) ?? false;
    } catch (e) {
      c.log.warn(`resize to ${mon.width}x${mon.height} failed: ${(e as Error).message}`);
    }
    if (!ok) c.log.info(`resize to ${mon.width}x${mon.height} not taken: the picture stays as it is`);
    reply(ok);
  }

  private fileStatus(c: AgentClient, id: number, result: number, detail?: string): void {
    const bytes = detail && c.has(AgentCap.FILE_XFER_DETAILED_ERRORS) ? new TextEncoder().encode(`${detail}\0`) : undefined;
    c.stream.sendMessage(AgentMsg.FILE_XFER_STATUS, encodeFileXferStatus(id, result, bytes));
  }

  private progress(c: AgentClient, t: Transfer, state: 'receiving' | 'done' | 'cancelled' | 'failed'): void {
    this.sink.fileProgress?.({ id: t.id, name: t.name, received: t.received, size: t.size, sessionId: c.sessionId, state });
  }

  private onFileStart(c: AgentClient, data: Uint8Array): void {
    const m = decodeFileXferStart(data);
    if (c.transfers.has(m.id)) throw new ProtocolError(`FILE_XFER_START: transfer ${m.id} is already running`);
    if (!this.sink.fileReceived) {
      this.fileStatus(c, m.id, FileXferStatus.DISABLED);
      return;
    }
    if (m.size > this.maxFileSize) {
      c.log.warn(`file "${m.name}" refused: ${m.size} bytes, expected at most ${this.maxFileSize}`);
      this.fileStatus(c, m.id, FileXferStatus.ERROR, `file too large: at most ${this.maxFileSize} bytes`);
      return;
    }
    if (c.transfers.size >= this.maxTransfers) {
      this.fileStatus(c, m.id, FileXferStatus.ERROR, `too many transfers at once: at most ${this.maxTransfers}`);
      return;
    }
    const t: Transfer = { id: m.id, name: sanitizeFileName(m.name), size: m.size, received: 0, chunks: [] };
    c.transfers.set(m.id, t);
    log.info(`session ${c.sessionId} sends "${t.name}" (${t.size} bytes)`);
    this.progress(c, t, 'receiving');
    this.fileStatus(c, m.id, FileXferStatus.CAN_SEND_DATA);
    if (t.size === 0) this.finishFile(c, t);
  }

  private onFileData(c: AgentClient, data: Uint8Array): void {
    const m = decodeFileXferData(data);
    const t = c.transfers.get(m.id);
    if (!t) {
      // Data racing our refusal or a cancel: not an error.
      c.log.debug(`file data for transfer ${m.id}, which is not running: dropped`);
      return;
    }
    if (t.received + m.data.byteLength > t.size) {
      c.transfers.delete(m.id);
      this.progress(c, t, 'failed');
      this.fileStatus(c, m.id, FileXferStatus.ERROR, `more data than the announced ${t.size} bytes`);
      return;
    }
    t.chunks.push(m.data.slice());
    t.received += m.data.byteLength;
    if (t.received === t.size) this.finishFile(c, t);
    else this.progress(c, t, 'receiving');
  }

  private finishFile(c: AgentClient, t: Transfer): void {
    c.transfers.delete(t.id);
    const data = new Uint8Array(t.size);
    let at = 0;
    for (const chunk of t.chunks) {
      data.set(chunk, at);
      at += chunk.byteLength;
    }
    t.chunks = [];
    try {
      this.sink.fileReceived?.({ name: t.name, data, sessionId: c.sessionId });
    } catch (e) {
      this.progress(c, t, 'failed');
      this.fileStatus(c, t.id, FileXferStatus.ERROR, `the page could not take the file: ${(e as Error).message}`);
      return;
    }
    this.progress(c, t, 'done');
    this.fileStatus(c, t.id, FileXferStatus.SUCCESS);
  }
}
