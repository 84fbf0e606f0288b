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

/** Client side of INIT (tests and tools that speak SPICE to the server). */
export function decodeMainInit(body: Uint8Array): MainInit {
  const r = new WireReader(body, 'MAIN_INIT');
  return {
    sessionId: r.u32('session_id'),
    displayChannelsHint: r.u32('display_channels_hint'),
    supportedMouseModes: r.u32('supported_mouse_modes'),
    currentMouseMode: r.u32('current_mouse_mode'),
    agentConnected: r.u32('agent_connected'),
    agentTokens: r.u32('agent_tokens'),
    multiMediaTime: r.u32('multi_media_time'),
    ramHint: r.u32('ram_hint'),
  };
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

/** Client side of MOUSE_MODE. */
export function decodeMouseMode(body: Uint8Array): { supported: number; current: number } {
  const r = new WireReader(body, 'MOUSE_MODE');
  return { supported: r.u16('supported_modes'), current: r.u16('current_mode') };
}

export function encodeMultiMediaTime(time: number): Uint8Array {
  return new WireWriter(4).u32(time).finish();
}

export function decodeMouseModeRequest(body: Uint8Array): { mode: number } {
  return { mode: new WireReader(body, 'MOUSE_MODE_REQUEST').u16('mode') };
}

/** Client side of MOUSE_MODE_REQUEST. */
export function encodeMouseModeRequest(mode: number): Uint8Array {
  return new WireWriter(2).u16(mode).finish();
}

export function decodeAgentStart(body: Uint8Array): { numTokens: number } {
  return { numTokens: new WireReader(body, 'AGENT_START').u32('num_tokens') };
}

/** Client side of AGENT_START. */
export function encodeAgentStart(numTokens: number): Uint8Array {
  return new WireWriter(4).u32(numTokens).finish();
}

/** AGENT_TOKEN, either direction: u32 num_tokens (tokens handed back to the other side). */
export function encodeAgentToken(numTokens: number): Uint8Array {
  return new WireWriter(4).u32(numTokens).finish();
}

export function decodeAgentToken(body: Uint8Array): { numTokens: number } {
  return { numTokens: new WireReader(body, 'AGENT_TOKEN').u32('num_tokens') };
}

/** AGENT_DISCONNECTED: u32 error_code (a SPICE link error). */
export function encodeAgentDisconnected(errorCode: number): Uint8Array {
  return new WireWriter(4).u32(errorCode).finish();
}

export function decodeAgentDisconnected(body: Uint8Array): { errorCode: number } {
  return { errorCode: new WireReader(body, 'AGENT_DISCONNECTED').u32('error_code') };
}
