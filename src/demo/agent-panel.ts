/**
 * The demo page's clipboard and files card: what clients copied (through the
 * page's agent), a box whose text every client can paste, and the files
 * clients sent, each a download link (with progress while it arrives).
 */
import type { SessionHost } from '../host/session-host.ts';
import type { AgentEvent } from '../server/agent-sink.ts';
import { $, flash } from './dom.ts';
import { formatBytes } from './live-stats.ts';

/** Download links kept at most (each holds its file's bytes as a blob). */
const MAX_LINKS = 20;

export function setUpAgentPanel(host: SessionHost): void {
  const clip = $('agent-clipboard');
  const files = $<HTMLUListElement>('agent-files');
  const form = $<HTMLFormElement>('agent-offer-form');
  const input = $<HTMLInputElement>('agent-offer');
  /** The list item of each transfer in progress, by client and transfer id. */
  const rows = new Map<string, HTMLLIElement>();

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    host.offerClipboard(input.value);
    flash(form.querySelector('button')!, 'Offered');
  });

  const row = (key: string): HTMLLIElement => {
    let li = rows.get(key);
    if (!li) {
      files.querySelector('.hint')?.remove();
      li = document.createElement('li');
      files.prepend(li);
      rows.set(key, li);
      while (files.children.length > MAX_LINKS) {
        const last = files.lastElementChild!;
        const link = last.querySelector('a');
        if (link) URL.revokeObjectURL(link.href);
        last.remove();
      }
    }
    return li;
  };

  host.agentEvents.onEvent((e: AgentEvent) => {
    if (e.kind === 'clipboardText') {
      clip.textContent = e.text;
    } else if (e.kind === 'fileProgress') {
      const key = `${e.sessionId}:${e.id}`;
      const li = row(key);
      if (e.state === 'receiving') li.textContent = `${e.name}: ${formatBytes(e.received)} of ${formatBytes(e.size)}…`;
      else if (e.state !== 'done') li.textContent = `${e.name}: ${e.state}`;
      if (e.state !== 'receiving') rows.delete(key);
      if (e.state === 'done') {
        const file = host.agentEvents.files.at(-1);
        if (!file || file.name !== e.name) return;
        const a = document.createElement('a');
        a.href = URL.createObjectURL(new Blob([file.data as Uint8Array<ArrayBuffer>]));
        a.download = file.name;
        a.textContent = file.name;
        li.replaceChildren(a, ` (${formatBytes(file.data.byteLength)})`);
      }
    }
  });
}
