/**
 * The SoundWorker starts playback when audio begins and stops it once every
 * input has been quiet for a while (clients hear START and STOP, as with
 * spice-server when QEMU's voice goes on and off); the tone keeps it running.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PcmFeedMessage } from '../src/sound/pcm-feed.ts';
import { SoundWorker } from '../src/sound/sound-worker.ts';
import { setLogLevel } from '../src/util/logger.ts';
import { waitFor } from './helpers/wait.ts';

setLogLevel('silent');

let worker: SoundWorker | undefined;
afterEach(async () => {
  await worker?.shutdown();
  worker = undefined;
});

describe('SoundWorker', () => {
  it('plays while a feed sends audio, stops when it goes quiet, starts again with the next block', async () => {
    worker = new SoundWorker();
    await worker.init({ channelClientDisconnected: () => {} }, Date.now());
    const { port1, port2 } = new MessageChannel();
    await worker.attachFeed(port2, 'card');
    expect(worker.playback.active).toBe(false); // attached, but nothing played yet
    const block: PcmFeedMessage = { kind: 's16', sampleRate: 22050, channelCount: 1, samples: new Int16Array(2205).fill(1000) };
    port1.postMessage(block);
    await waitFor('playback to start', () => worker!.playback.active);
    await waitFor('playback to stop after the feed went quiet', () => !worker!.playback.active, 3000);
    port1.postMessage(block);
    await waitFor('playback to start again', () => worker!.playback.active);
    port1.postMessage({ kind: 'end' } satisfies PcmFeedMessage);
    await expect.poll(async () => (await worker!.stats()).feeds.length).toBe(0);
    expect(worker.playback.active).toBe(false);
    port1.close();
  });

  it('the tone plays until it is turned off, whatever the feeds do', async () => {
    worker = new SoundWorker();
    await worker.init({ channelClientDisconnected: () => {} }, Date.now());
    await worker.setTone(440);
    expect(worker.playback.active).toBe(true);
    expect((await worker.stats()).inputs).toEqual(['tone 440 Hz']);
    await worker.setTone(null);
    expect(worker.playback.active).toBe(false);
  });
});
