/** Main channel message codecs (spice-wire.md §5). */
import { WireReader, WireWriter } from './wire.ts';

export interface MainInit {
  sessionId: number;
  displayChannelsHint: number;
  supportedMouseModes: number;
  currentMouseMode: number;
  agentConnected: number;
  agentTokens: number;
  multiMediaTime: number;
  ramHint: number;
}

export function encodeMainInit(m: MainInit): Uint8Array {
  return new WireWriter(32)
    .u32(m.sessionId)
    .u32(m.displayChannelsHint)
    .u32(m.supportedMouseModes)
    .u32(m.currentMouseMode)
    .u32(m.agentConnected)
    .u32(m.agentTokens)
    .u32(m.multiMediaTime)
    .u32(m.ramHint)
    .finish();
}

export interface ChannelId {
  type: number;
  id: number;
}

export function encodeChannelsList(channels: readonly ChannelId[]): Uint8Array {
  const w = new WireWriter(4 + 2 * channels.length).u32(channels.length);
  for (const c of channels) w.u8(c.type).u8(c.id);
  return w.finish();
}

/** MOUSE_MODE uses u16 fields here (u32 in INIT). */
export function encodeMouseMode(supported: number, current: number): Uint8Array {
  return new WireWriter(4).u16(supported).u16(current).finish();
}

export function encodeMultiMediaTime(time: number): Uint8Array {
  return new WireWriter(4).u32(time).finish();
}

export function decodeMouseModeRequest(body: Uint8Array): { mode: number } {
  return { mode: new WireReader(body, 'MOUSE_MODE_REQUEST').u16('mode') };
}

export function decodeAgentStart(body: Uint8Array): { numTokens: number } {
  return { numTokens: new WireReader(body, 'AGENT_START').u32('num_tokens') };
}
