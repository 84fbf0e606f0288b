/** The VM controls: Ctrl+Alt+Del, reset, and save/restore of the VM state (kept in IndexedDB per source). */
import type { SessionHost } from '../host/session-host.ts';
import { createLogger } from '../util/logger.ts';
import { $, flash } from './dom.ts';
import { formatBytes } from './live-stats.ts';
import { loadState, stateMeta, storeState } from './persistence.ts';
import type { ResolvedSource } from './source-params.ts';

const log = createLogger('demo');

export async function setUpVmControls(host: SessionHost, source: ResolvedSource): Promise<void> {
  const vm = host.vm;
  if (!vm) return;
  $('vm-controls').hidden = false;
  const info = $('state-info');
  const restore = $<HTMLButtonElement>('restore-state');
  const show = async (): Promise<void> => {
    const m = await stateMeta(source.key);
    info.textContent = m ? `saved ${new Date(m.savedAt).toLocaleString()} (${formatBytes(m.size)})` : 'no saved state';
    restore.disabled = !m;
  };
  /** Runs a control with its button disabled meanwhile; failures go to the log and the info line. */
  const action = (id: string, what: string, run: () => Promise<void>): void => {
    const button = $<HTMLButtonElement>(id);
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await run();
      } catch (e) {
        const message = `${what} failed: ${(e as Error).message}`;
        log.error(message);
        info.textContent = message;
      } finally {
        button.disabled = false;
        if (id === 'restore-state' || id === 'save-state') await show();
      }
    });
  };
  action('vm-ctrl-alt-del', 'Ctrl+Alt+Del', async () => {
    await vm.remote.ctrlAltDel();
    log.info('Ctrl+Alt+Del sent to the guest');
    flash($<HTMLButtonElement>('vm-ctrl-alt-del'), 'Sent');
  });
  action('vm-reset', 'Reset', async () => {
    await vm.remote.reset();
    log.info('VM reset');
  });
  action('save-state', 'Saving the state', async () => {
    info.textContent = 'saving…';
    await storeState(source.key, await vm.remote.saveState());
    log.info(`VM state saved for ${source.title}`);
  });
  action('restore-state', 'Restoring the state', async () => {
    const saved = await loadState(source.key);
    if (!saved) return;
    info.textContent = 'restoring…';
    await vm.remote.restoreState(saved.state);
    log.info(`VM state of ${saved.meta.savedAt} restored`);
  });
  await show();
}
