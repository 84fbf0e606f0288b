/** MainChannelClient (spice-server main-channel-client.cpp): session greeting, channel list, mouse mode. */
import { MouseMode, MsgMain, MsgcMain, NotifySeverity, NotifyVisibility, MsgCommon } from '../protocol/constants.ts';
import { encodeNotify } from '../protocol/common-messages.ts';
import {
  decodeAgentStart,
  decodeAgentToken,
  decodeMouseModeRequest,
  encodeChannelsList,
  encodeMainInit,
  encodeMouseMode,
  encodeMultiMediaTime,
  type ChannelId,
} from '../protocol/main-messages.ts';
import { ProtocolError } from '../protocol/wire.ts';
import type { Logger } from '../util/logger.ts';
import type { AgentStream } from './agent-stream.ts';
import { CLIENT_AGENT_TOKENS } from './agent-stream.ts';
import type { ByteStream } from './byte-stream.ts';
import { RedChannelClient, type RedChannelClientOptions } from './red-channel-client.ts';

/** What the main channel asks of the server (reds). */
export interface MainChannelHost {
  readonly supportedMouseModes: number;
  readonly mouseMode: number;
  /** The channels every client may link besides main. */
  readonly channels: readonly ChannelId[];
  /** The media clock in ms (kept below 2^31 for spice-html5). */
  multiMediaTime(): number;
  /** Switches to `mode` if valid and supported; else returns why not. */
  requestMouseMode(mode: number): string | null;
  /**
   * The page's agent: opens this client's agent stream (null: no agent, and
   * MAIN_INIT says agent_connected 0).
   */
  connectAgent(sessionId: number, send: (type: number, body: Uint8Array) => void, log: Logger): AgentStream | null;
}
/**
 * MAIN_INIT's media time lags the clock so video frames stamped "now" are not
 * late at spice-gtk (it drops late MJPEG frames). spice-server uses 400 ms; the
 * lag is spice-gtk's video delay, so ours is shorter.
 */
export const MM_TIME_LAG_MS = 100;

export class MainChannelClient extends RedChannelClient {
  private attached = false;
  /** This client's agent stream (null without an agent). */
  readonly agent: AgentStream | null;

  constructor(
    stream: ByteStream,
    opts: RedChannelClientOptions,
    private readonly host: MainChannelHost,
  ) {
    super(stream, { ...opts, ackWindow: 0, maxMessageSize: 64 * 1024 });
    // The page is the agent from the start: it is "connected" in MAIN_INIT, so no AGENT_CONNECTED follows.
    this.agent = host.connectAgent(this.sessionId, (type, body) => this.send(type, body), this.log);
  }

  /** True once the client asked for the channel list. */
  get channelsAttached(): boolean {
    return this.attached;
  }

  protected onStart(): void {
    // INIT must be the first channel message.
    this.send(
      MsgMain.INIT,
      encodeMainInit({
        sessionId: this.sessionId,
        displayChannelsHint: 1,
        supportedMouseModes: this.host.supportedMouseModes,
        currentMouseMode: this.host.mouseMode,
        agentConnected: this.agent ? 1 : 0,
        agentTokens: CLIENT_AGENT_TOKENS,
        multiMediaTime: Math.max(0, this.host.multiMediaTime() - MM_TIME_LAG_MS),
        ramHint: 0,
      }),
    );
    this.ping();
  }

  /** Announces a mouse mode change (only call on a real change: both clients loop otherwise). */
  sendMouseMode(supported: number, current: number): void {
    this.send(MsgMain.MOUSE_MODE, encodeMouseMode(supported, current));
  }

  /** Shows a message to the user (spice-html5 prints it; spice-gtk logs it). */
  notify(message: string, severity: number = NotifySeverity.INFO): void {
    this.send(
      MsgCommon.NOTIFY,
      encodeNotify({ timeStamp: 0n, severity, visibility: NotifyVisibility.MEDIUM, what: 0, message }),
    );
  }

  protected handleMessage(type: number, body: Uint8Array): void {
    switch (type) {
      case MsgcMain.ATTACH_CHANNELS:
        if (this.attached) return;
        this.attached = true;
        this.send(MsgMain.CHANNELS_LIST, encodeChannelsList(this.host.channels));
        // Lagged like MAIN_INIT's: spice-gtk sets its clock to it and drops stream frames stamped before that clock.
        this.send(MsgMain.MULTI_MEDIA_TIME, encodeMultiMediaTime(Math.max(0, this.host.multiMediaTime() - MM_TIME_LAG_MS)));
        break;
      case MsgcMain.MOUSE_MODE_REQUEST: {
        const { mode } = decodeMouseModeRequest(body);
        const refused = this.host.requestMouseMode(mode);
        const kind = mode === MouseMode.SERVER || mode === MouseMode.CLIENT ? 'unsupported' : 'invalid';
        if (refused) this.ignore(`MOUSE_MODE_REQUEST ${kind}`, `mouse mode request ${mode} ignored: ${refused}`);
        break;
      }
      case MsgcMain.AGENT_START: {
        const { numTokens } = decodeAgentStart(body);
        if (this.agent) this.agent.start(numTokens);
        else this.ignore('AGENT_START', 'AGENT_START ignored: this session has no agent');
        break;
      }
      case MsgcMain.AGENT_DATA:
        if (this.agent) this.agent.receive(body);
        else this.ignore('AGENT_DATA', `AGENT_DATA (${body.byteLength} bytes) ignored: this session has no agent`);
        break;
      case MsgcMain.AGENT_TOKEN: {
        const { numTokens } = decodeAgentToken(body);
        this.agent?.addTokens(numTokens);
        break;
      }
      case MsgcMain.CLIENT_INFO:
      case MsgcMain.MIGRATE_CONNECTED:
      case MsgcMain.MIGRATE_CONNECT_ERROR:
        break; // no migration: nothing to do
      default:
        throw new ProtocolError(`main channel: unknown message type ${type}`);
    }
  }
}
