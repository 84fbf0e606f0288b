/**
 * CursorChannel and CursorChannelClient (spice-server cursor-channel.cpp), run
 * inside a RedWorker. The channel remembers the current shape, position and
 * visibility so late clients start in step.
 *
 * Safe for both clients (spice-wire.md §10): INIT with the shape, then SET
 * (spice-html5 shows a cursor only on SET); HIDE to hide, never SET with NONE.
 */
import { MsgCursor } from '../protocol/constants.ts';
import { encodeCursorInit, encodeCursorMove, encodeCursorSet, type CursorShape } from '../protocol/cursor-messages.ts';
import { ProtocolError } from '../protocol/wire.ts';
import type { ByteStream } from '../server/byte-stream.ts';
import { RedChannelClient, type RedChannelClientOptions } from '../server/red-channel-client.ts';

const CURSOR_ACK_WINDOW = 20;

export class CursorChannel {
  readonly clients = new Set<CursorChannelClient>();
  shape: CursorShape | null = null;
  x = 0;
  y = 0;
  visible = false;
  commandsProcessed = 0;

  set(x: number, y: number, visible: boolean, shape: CursorShape): void {
    this.commandsProcessed++;
    Object.assign(this, { x, y, visible, shape });
    for (const c of this.clients) c.sendSet();
  }

  move(x: number, y: number): void {
    this.commandsProcessed++;
    this.x = x;
    this.y = y;
    for (const c of this.clients) c.sendMove();
  }

  hide(): void {
    this.commandsProcessed++;
    this.visible = false;
    for (const c of this.clients) c.sendHide();
  }
}

export class CursorChannelClient extends RedChannelClient {
  constructor(
    stream: ByteStream,
    opts: RedChannelClientOptions,
    private readonly channel: CursorChannel,
  ) {
    super(stream, { ...opts, ackWindow: CURSOR_ACK_WINDOW, maxMessageSize: 4096 });
  }

  protected onStart(): void {
    const ch = this.channel;
    this.send(
      MsgCursor.INIT,
      encodeCursorInit({ x: ch.x, y: ch.y, trailLength: 0, trailFrequency: 0, visible: ch.visible && !!ch.shape, shape: ch.shape }),
    );
    if (ch.shape && ch.visible) this.sendSet();
  }

  sendSet(): void {
    const ch = this.channel;
    if (!ch.shape) return;
    if (ch.visible) this.send(MsgCursor.SET, encodeCursorSet(ch.x, ch.y, true, ch.shape));
    else this.sendHide();
  }

  sendMove(): void {
    this.send(MsgCursor.MOVE, encodeCursorMove(this.channel.x, this.channel.y));
  }

  sendHide(): void {
    this.send(MsgCursor.HIDE, new Uint8Array(0));
  }

  protected handleMessage(type: number, _body: Uint8Array): void {
    // The cursor channel has no client messages besides the common ones.
    throw new ProtocolError(`cursor channel: unknown message type ${type}`);
  }
}
