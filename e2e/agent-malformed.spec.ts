/**
 * Malformed agent data through the relay: a raw client of our own sends a
 * VDAgent stream no real client would (a wrong protocol number, then from a
 * second client a message far over the size limit). Only that client's agent
 * stream closes — it hears AGENT_DISCONNECTED, its main channel stays — and a
 * spice-gtk client's clipboard keeps working throughout.
 */
import { expect, test } from '@playwright/test';
import { MsgMain, MsgcMain } from '../src/protocol/constants.ts';
import { AgentMsg, encodeAgentMessage } from '../src/protocol/agent-messages.ts';
import { decodeAgentDisconnected, encodeAgentStart } from '../src/protocol/main-messages.ts';
import type { AgentEvent } from '../src/server/agent-sink.ts';
import { hostStats, useHostedSession } from './pages.ts';
import { connectRawSession, type RawSession } from './raw-spice-client.ts';
import { startSpiceGtkClient } from './spice-gtk.ts';

const session = useHostedSession();

function agentEvents(): Promise<AgentEvent[]> {
  return session.host().page.evaluate(() => window.spiceHost!.agentEvents.events);
}

/** Reads the raw client's main channel until AGENT_DISCONNECTED; returns its error code. */
async function untilAgentDisconnected(raw: RawSession): Promise<number> {
  for (;;) {
    const m = await raw.main.readMessage();
    if (m.type === MsgMain.AGENT_DISCONNECTED) return decodeAgentDisconnected(m.body).errorCode;
  }
}

const badProtocol = (() => {
  const m = encodeAgentMessage(AgentMsg.CLIPBOARD_GRAB, new Uint8Array([1, 0, 0, 0]));
  m[0] = 7; // protocol 7: there is only 1
  return m;
})();
const oversized = (() => {
  const m = encodeAgentMessage(AgentMsg.CLIPBOARD, new Uint8Array(0));
  new DataView(m.buffer, m.byteOffset).setUint32(16, 0x7fffffff, true); // 2 GiB announced
  return m;
})();

test("bad agent data closes only that client's agent stream; spice-gtk's clipboard goes on", async () => {
  const gtk = await startSpiceGtkClient({ port: session.stack().tcpPort });
  const raws: RawSession[] = [];
  try {
    await gtk.waitAgent();
    for (const [what, bytes] of [['a wrong protocol number', badProtocol], ['a 2 GiB message', oversized]] as const) {
      const raw = await connectRawSession(session.stack().tcpPort);
      raws.push(raw);
      expect(raw.init.agentConnected).toBe(1);
      raw.main.send(MsgcMain.AGENT_START, encodeAgentStart(0xffffffff));
      raw.main.send(MsgcMain.AGENT_DATA, bytes);
      expect(await untilAgentDisconnected(raw), what).toBeGreaterThan(0);
      await expect.poll(() => session.host().logs.some((l) => l.includes('agent stream closed')), { message: what }).toBe(true);
    }
    // Their main channels are still there, and so is spice-gtk's agent.
    expect((await hostStats(session.host())).clients).toBe(3);
    expect(await session.host().page.evaluate(() => window.spiceHost!.server.agent!.clientCount)).toBe(1);
    await gtk.clipboardGrab('still working');
    await expect.poll(async () => (await agentEvents()).filter((e) => e.kind === 'clipboardText').at(-1)).toMatchObject({ text: 'still working' });
    await session.host().page.evaluate(() => window.spiceHost!.offerClipboard('and back'));
    await expect.poll(async () => (await gtk.clipboardRequest()).text).toBe('and back');
  } finally {
    for (const r of raws) r.close();
    await gtk.close();
  }
});
