/**
 * What spice-html5 receives, WebSocket message by WebSocket message: each
 * starts at a SPICE message boundary and holds whole messages only (a client
 * that reassembles per WebSocket message would drop a message cut across
 * two); and raw bitmaps taller than one row (which some clients draw upside
 * down) are gone from normal traffic, counted both by the RedWorker and by
 * parsing the DRAW_COPYs the client got.
 */
import { expect, test, type Browser, type Page } from '@playwright/test';
import { spicyScreenshot, type Stack } from './harness.ts';
import { readHtml5Canvas, useHostedSession, vgaText, type HostPage } from './pages.ts';
import { compareTextScreen, textOf } from './vga-text.ts';

/** Per WebSocket: the channel it links and every message it received, as the page saw them. */
interface SocketSummary {
  channelType: number;
  wsMessages: number;
  spiceMessages: number;
  largest: number;
  /** Problems found: a message not starting at a boundary, or cut at its end. */
  bad: string[];
  /** DRAW_COPYs with a raw BITMAP taller than one row. */
  rawMultiRow: number;
  drawCopies: number;
}

/**
 * Installed before spice-html5 loads: wraps WebSocket so every socket keeps
 * what it sent (to learn its channel) and every message it received.
 */
function recordSockets(): void {
  const Native = window.WebSocket;
  const sockets: Array<{ sent: Uint8Array[]; received: ArrayBuffer[] }> = [];
  (window as unknown as { recordedSockets: typeof sockets }).recordedSockets = sockets;
  class Recording extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      const rec = { sent: [] as Uint8Array[], received: [] as ArrayBuffer[] };
      // Only the SPICE channels (not, say, the dev server's own socket).
      if (String(url).includes('/spice/')) sockets.push(rec);
      this.addEventListener('message', (e: MessageEvent) => {
        if (e.data instanceof ArrayBuffer) rec.received.push(e.data.slice(0));
      });
      const send = this.send.bind(this);
      this.send = (data: string | ArrayBufferLike | Blob | ArrayBufferView): void => {
        if (data instanceof ArrayBuffer) rec.sent.push(new Uint8Array(data.slice(0)));
        else if (ArrayBuffer.isView(data)) rec.sent.push(new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)));
        send(data);
      };
    }
  }
  window.WebSocket = Recording;
}

/** Runs in the client page: checks the framing of everything each socket received. */
function summarize(): SocketSummary[] {
  const sockets = (window as unknown as { recordedSockets: Array<{ sent: Uint8Array[]; received: ArrayBuffer[] }> }).recordedSockets;
  const LINK_HEADER = 16;
  const MINI_HEADER = 6;
  const DRAW_COPY = 304;
  const IMAGE_BITMAP = 0;
  return sockets.map((s) => {
    const sent = new Uint8Array(s.sent.reduce((n, b) => n + b.byteLength, 0));
    let at = 0;
    for (const b of s.sent) {
      sent.set(b, at);
      at += b.byteLength;
    }
    // SpiceLinkHeader (16 bytes), then SpiceLinkMess: connection_id u32, channel_type u8.
    const channelType = sent.byteLength > LINK_HEADER + 4 ? sent[LINK_HEADER + 4]! : -1;
    const out: SocketSummary = { channelType, wsMessages: s.received.length, spiceMessages: 0, largest: 0, bad: [], rawMultiRow: 0, drawCopies: 0 };
    // Link stage: the reply (its header says how long), then the 4-byte result; then mini-header messages.
    let stage: 'reply' | 'result' | 'messages' = 'reply';
    s.received.forEach((buf, i) => {
      const v = new DataView(buf);
      let pos = 0;
      while (pos < buf.byteLength) {
        const left = buf.byteLength - pos;
        if (stage === 'reply') {
          if (left < LINK_HEADER || v.getUint32(pos, true) !== 0x51444552) {
            out.bad.push(`ws message ${i}: expected a whole link header (REDQ) at ${pos}, ${left} B left`);
            return;
          }
          const size = LINK_HEADER + v.getUint32(pos + 12, true);
          if (left < size) {
            out.bad.push(`ws message ${i}: link reply of ${size} B cut after ${left} B`);
            return;
          }
          pos += size;
          stage = 'result';
        } else if (stage === 'result') {
          if (left < 4) {
            out.bad.push(`ws message ${i}: link result cut after ${left} B`);
            return;
          }
          pos += 4;
          stage = 'messages';
        } else {
          if (left < MINI_HEADER) {
            out.bad.push(`ws message ${i} (${buf.byteLength} B) ends on ${left} B of a header`);
            return;
          }
          const type = v.getUint16(pos, true);
          const size = v.getUint32(pos + 2, true);
          if (left - MINI_HEADER < size) {
            out.bad.push(`ws message ${i}: message type ${type} of ${size} B cut after ${left - MINI_HEADER} B`);
            return;
          }
          const body = pos + MINI_HEADER;
          if (channelType === 2 && type === DRAW_COPY) {
            out.drawCopies++;
            // SpiceMsgDisplayBase with clip NONE (21 bytes), then the src_bitmap offset; the image descriptor
            // there: id u64, type u8, flags u8, width u32, height u32.
            const img = body + v.getUint32(body + 21, true);
            if (v.getUint8(img + 8) === IMAGE_BITMAP && v.getUint32(img + 14, true) > 1) out.rawMultiRow++;
          }
          out.spiceMessages++;
          out.largest = Math.max(out.largest, size);
          pos = body + size;
        }
      }
    });
    return out;
  });
}

async function openRecordingHtml5(browser: Browser, stack: Stack): Promise<Page> {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.addInitScript(recordSockets);
  const url = new URL('/client.html', stack.baseUrl);
  url.searchParams.set('url', `${stack.relayUrl}/spice/default`);
  await page.goto(url.toString());
  return page;
}

async function workerRawMultiRow(host: HostPage): Promise<number> {
  return host.page.evaluate(async () => (await window.spiceHost!.worker.stats()).images.rawMultiRow);
}

function expectWhole(summaries: SocketSummary[]): void {
  const channels = summaries.map((s) => s.channelType).sort();
  expect(channels).toEqual([1, 2, 3, 4]);
  for (const s of summaries) {
    expect(s.bad, `channel ${s.channelType}`).toEqual([]);
    expect(s.spiceMessages, `channel ${s.channelType}`).toBeGreaterThan(0);
  }
}

test.describe('the test pattern', () => {
  const session = useHostedSession();

  test('every WebSocket message spice-html5 gets holds whole SPICE messages, large ones included', async ({ browser }) => {
    const page = await openRecordingHtml5(browser, session.stack());
    await expect.poll(async () => (await readHtml5Canvas({ page, logs: [] })) !== null, { timeout: 20_000 }).toBe(true);
    // Let the animation run: full-screen and partial draws, some over 64 KiB.
    let summaries: SocketSummary[] = [];
    await expect
      .poll(async () => {
        summaries = await page.evaluate(summarize);
        return summaries.find((s) => s.channelType === 2)?.drawCopies ?? 0;
      }, { timeout: 20_000 })
      .toBeGreaterThan(20);
    summaries = await page.evaluate(summarize);
    expectWhole(summaries);
    expect(Math.max(...summaries.map((s) => s.largest))).toBeGreaterThan(64 * 1024);
    expect(summaries.find((s) => s.channelType === 2)!.rawMultiRow).toBe(0);
    expect(await workerRawMultiRow(session.host())).toBe(0);
    await page.context().close();
  });
});

test.describe('a text-mode guest (SeaBIOS)', () => {
  const session = useHostedSession('&vm=bios');

  test('no raw multi-row bitmaps while the text screen is written, and every WebSocket message is whole', async ({ browser }) => {
    // Connected while SeaBIOS writes its screen: text cells and the blinking cursor go out as they change.
    const page = await openRecordingHtml5(browser, session.stack());
    await expect
      .poll(async () => {
        const d = await vgaText(session.host());
        return d ? textOf(d).join('\n') : '';
      }, { timeout: 60_000 })
      .toContain('No bootable device');
    const dump = (await vgaText(session.host()))!;
    await expect
      .poll(async () => {
        const c = await readHtml5Canvas({ page, logs: [] });
        return c ? compareTextScreen(c, dump, (r, col) => r === dump.cursor.row && col === dump.cursor.col).length : -1;
      }, { timeout: 20_000 })
      .toBe(0);
    // A few cursor blinks.
    await page.waitForTimeout(1500);
    const summaries = await page.evaluate(summarize);
    expectWhole(summaries);
    const display = summaries.find((s) => s.channelType === 2)!;
    expect(display.drawCopies).toBeGreaterThan(1);
    expect(display.rawMultiRow).toBe(0);
    // spice-gtk too: cell for cell, and its traffic counted by the worker with the rest.
    const shot = await spicyScreenshot(session.stack().tcpPort);
    expect(shot.image, shot.result.stderr).not.toBeNull();
    const bad = compareTextScreen(shot.image!, dump, (r, col) => r === dump.cursor.row && col === dump.cursor.col);
    expect(bad, JSON.stringify(bad.slice(0, 5))).toEqual([]);
    expect(await workerRawMultiRow(session.host())).toBe(0);
    await page.context().close();
  });
});
