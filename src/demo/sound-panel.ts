/**
 * The demo's sound controls: a level meter of what clients hear, an on/off
 * switch (SPICE MUTE to every client) and who gets which codec; for the test
 * pattern without sound, a button that reloads it with a 440 Hz test tone.
 */
import type { SessionHost } from '../host/session-host.ts';
import { createLogger } from '../util/logger.ts';
import { $ } from './dom.ts';
import { formatRate } from './live-stats.ts';

const log = createLogger('demo');
/** The meter moves ten times a second; the codec line with the other numbers, once. */
const METER_MS = 100;

export function setUpSoundPanel(host: SessionHost, serveWithTone: () => void): void {
  const audio = host.audio;
  const sound = host.sound;
  if (!audio || !sound) {
    if (host.pattern) {
      $('sound-offer').hidden = false;
      $('sound-tone').addEventListener('click', serveWithTone);
    }
    return;
  }
  $('sound-controls').hidden = false;
  const on = $<HTMLInputElement>('sound-on');
  on.addEventListener('change', () => {
    audio.setMute(!on.checked).catch((e: unknown) => log.warn(`mute: ${(e as Error).message}`));
  });
  let last = { t: performance.now(), bytes: 0 };
  let busy = false;
  let ticks = 0;
  setInterval(() => {
    if (busy || document.hidden) return;
    busy = true;
    sound
      .stats()
      .then((s) => {
        $<HTMLMeterElement>('sound-level').value = s.playback.mute ? 0 : s.playback.level;
        if (ticks++ % (1000 / METER_MS) !== 0) return;
        const now = performance.now();
        const bytes = Object.values(s.playback.bytesByMode).reduce((a, b) => a + b, 0);
        const rate = ((bytes - last.bytes) * 1000) / Math.max(1, now - last.t);
        last = { t: now, bytes };
        const modes = Object.entries(s.playback.clientsByMode).map(([m, n]) => `${n} ${m === 'opus' ? 'Opus' : 'raw PCM'}`);
        $('sound-info').textContent = `${s.inputs.join(' + ') || 'silent'} · ${modes.length ? `${modes.join(', ')} · ${formatRate(rate)}` : 'no client listening'}`;
      })
      .catch((e: unknown) => log.warn(`sound status: ${(e as Error).message}`))
      .finally(() => {
        busy = false;
      });
  }, METER_MS);
}
