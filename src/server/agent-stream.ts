/**
 * One client's agent stream on its main channel (spice-server reds.cpp's
 * agent part, with the page standing in for the guest's vdagent):
 *
 * - tokens both ways, counted as spice-server counts them: the client starts
 *   with {@link CLIENT_AGENT_TOKENS} (MAIN_INIT), spends one per AGENT_DATA
 *   and gets them back in AGENT_TOKEN batches of {@link TOKENS_TO_SEND} once
 *   handled; we may send as many AGENT_DATA as the client granted in
 *   AGENT_START plus its AGENT_TOKENs (both clients grant ~0, unlimited);
 * - reassembly of VDAgentMessages from AGENT_DATA chunks, with a size limit;
 * - splitting outgoing messages into chunks of at most 2048 bytes.
 *
 * Bad input (a broken header, an oversized message, spending tokens the
 * client does not have, a message its decoder refuses) closes this stream
 * only: the client hears AGENT_DISCONNECTED, its main channel and every
 * other client's agent stream go on.
 */
import { LinkError, MsgMain } from '../protocol/constants.ts';
import {
  AGENT_HEADER_SIZE,
  AGENT_MAX_DATA_SIZE,
  VD_AGENT_PROTOCOL,
  agentMsgName,
  decodeAgentHeader,
  encodeAgentMessage,
  type AgentHeader,
} from '../protocol/agent-messages.ts';
import { encodeAgentDisconnected, encodeAgentToken } from '../protocol/main-messages.ts';
import { ProtocolError } from '../protocol/wire.ts';
import type { Logger } from '../util/logger.ts';

/** REDS_AGENT_WINDOW_SIZE: the AGENT_DATA messages a client may have unanswered. */
export const CLIENT_AGENT_TOKENS = 10;
/** REDS_TOKENS_TO_SEND: spice-server hands tokens back in batches this big. */
export const TOKENS_TO_SEND = 5;
/** Tokens are u32 on the wire; ~0 from AGENT_START means "no limit". */
const MAX_TOKENS = 0xffffffff;

export interface AgentStreamOptions {
  /** Sends one main-channel message to this client. */
  send(type: number, body: Uint8Array): void;
  /** A whole VDAgentMessage from the client. Throw ProtocolError when it is malformed. */
  onMessage(type: number, data: Uint8Array): void;
  /** The stream was closed because of bad input (after AGENT_DISCONNECTED went out). */
  onClosed(reason: string): void;
  /** The largest VDAgentMessage body accepted from this client. */
  maxMessageSize: number;
  log: Logger;
}

export class AgentStream {
  private clientTokens = CLIENT_AGENT_TOKENS;
  private tokensToReturn = 0;
  private serverTokens = 0;
  private started = false;
  private closedReason: string | null = null;
  /** AGENT_DATA bodies waiting for the client to start its agent or grant tokens. */
  private readonly outQueue: Uint8Array[] = [];
  // Reassembly state: the header being filled, then the body.
  private readonly headerBytes = new Uint8Array(AGENT_HEADER_SIZE);
  private headerFill = 0;
  private header: AgentHeader | null = null;
  private body: Uint8Array | null = null;
  private bodyFill = 0;

  constructor(private readonly opts: AgentStreamOptions) {}

  /** Whether the client sent AGENT_START and the stream is not closed. */
  get isOpen(): boolean {
    return this.started && this.closedReason === null;
  }

  get closed(): boolean {
    return this.closedReason !== null;
  }

  /** AGENT_DATA chunks waiting for tokens. */
  get queuedChunks(): number {
    return this.outQueue.length;
  }

  /** AGENT_START: the client's agent half is up and grants `numTokens` AGENT_DATA messages. */
  start(numTokens: number): void {
    if (this.closed) return;
    this.started = true;
    this.serverTokens = numTokens;
    this.flush();
  }

  /** AGENT_TOKEN from the client: more AGENT_DATA we may send. */
  addTokens(numTokens: number): void {
    if (this.closed) return;
    this.serverTokens = Math.min(MAX_TOKENS, this.serverTokens + numTokens);
    this.flush();
  }

  /** One AGENT_DATA from the client. */
  receive(chunk: Uint8Array): void {
    if (this.closed) {
      this.opts.log.debug(`agent data (${chunk.byteLength} bytes) after the agent stream closed: dropped`);
      return;
    }
    try {
      if (this.clientTokens === 0) {
        throw new ProtocolError(`AGENT_DATA without a token: the client had spent all ${CLIENT_AGENT_TOKENS}`);
      }
      this.clientTokens--;
      this.parse(chunk);
      this.returnToken();
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.close(e.message);
    }
  }

  /** Sends one VDAgentMessage, cut into AGENT_DATA chunks of at most 2048 bytes. */
  sendMessage(type: number, data: Uint8Array): void {
    if (this.closed) return;
    const msg = encodeAgentMessage(type, data);
    for (let at = 0; at < msg.byteLength; at += AGENT_MAX_DATA_SIZE) {
      // Copies: the writer's buffer is not ours to keep while chunks wait for tokens.
      this.outQueue.push(msg.slice(at, Math.min(msg.byteLength, at + AGENT_MAX_DATA_SIZE)));
    }
    this.flush();
  }

  /** Closes this client's agent stream: AGENT_DISCONNECTED, then nothing more in or out. */
  close(reason: string): void {
    if (this.closed) return;
    this.closedReason = reason;
    this.outQueue.length = 0;
    this.body = null;
    this.opts.log.warn(`agent stream closed: ${reason}`);
    this.opts.send(MsgMain.AGENT_DISCONNECTED, encodeAgentDisconnected(LinkError.INVALID_DATA));
    this.opts.onClosed(reason);
  }

  private flush(): void {
    while (this.started && this.serverTokens > 0 && this.outQueue.length > 0 && !this.closed) {
      this.serverTokens--;
      this.opts.send(MsgMain.AGENT_DATA, this.outQueue.shift()!);
    }
  }

  /** Gives the chunk's token back, in batches as spice-server does. */
  private returnToken(): void {
    this.tokensToReturn++;
    if (this.tokensToReturn < TOKENS_TO_SEND || this.closed) return;
    this.clientTokens += this.tokensToReturn;
    this.opts.send(MsgMain.AGENT_TOKEN, encodeAgentToken(this.tokensToReturn));
    this.tokensToReturn = 0;
  }

  /** Feeds chunk bytes into the reassembly; a chunk may end or start anywhere in a message. */
  private parse(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.byteLength && !this.closed) {
      if (!this.header) {
        const n = Math.min(AGENT_HEADER_SIZE - this.headerFill, chunk.byteLength - at);
        this.headerBytes.set(chunk.subarray(at, at + n), this.headerFill);
        this.headerFill += n;
        at += n;
        if (this.headerFill < AGENT_HEADER_SIZE) return;
        const h = decodeAgentHeader(this.headerBytes);
        this.headerFill = 0;
        if (h.protocol !== VD_AGENT_PROTOCOL) {
          throw new ProtocolError(`VDAgentMessage: expected protocol ${VD_AGENT_PROTOCOL}, got ${h.protocol}`);
        }
        if (h.size > this.opts.maxMessageSize) {
          throw new ProtocolError(
            `VDAgentMessage ${agentMsgName(h.type)}: ${h.size} bytes, expected at most ${this.opts.maxMessageSize}`,
          );
        }
        this.header = h;
        this.body = new Uint8Array(h.size);
        this.bodyFill = 0;
      }
      const body = this.body!;
      const n = Math.min(body.byteLength - this.bodyFill, chunk.byteLength - at);
      body.set(chunk.subarray(at, at + n), this.bodyFill);
      this.bodyFill += n;
      at += n;
      if (this.bodyFill < body.byteLength) return;
      const { type } = this.header;
      this.header = null;
      this.body = null;
      this.opts.onMessage(type, body);
    }
  }
}
