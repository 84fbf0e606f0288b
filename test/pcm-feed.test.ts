/**
 * Audio pushed by sources: resampled to 48 kHz stereo with its frequency
 * intact, mono spread to both channels, bounded so a producer that stays
 * ahead loses what it never lets drain beyond MAX_FEED_MS (oldest first) and
 * a burst is cut to FEED_BURST_MS, while a producer that hands over big
 * blocks loses nothing; padded with silence when it runs dry;
 * the mixer sums inputs and clips.
 */
import { describe, expect, it } from 'vitest';
import { FEED_BURST_MS, FLOOR_PERIOD_READS, MAX_FEED_MS, PcmFeed } from '../src/sound/pcm-feed.ts';
import { PcmMixer } from '../src/sound/pcm-mixer.ts';
import { PACKET_FRAMES, PLAYBACK_FREQUENCY } from '../src/sound/pcm.ts';
import { TestTone } from '../src/sound/test-tone.ts';
import { dominantFrequency, rmsLevel } from './helpers/dominant-frequency.ts';

function sine(hz: number, rate: number, frames: number, from = 0): Float32Array {
  return Float32Array.from({ length: frames }, (_, i) => 0.5 * Math.sin((2 * Math.PI * hz * (from + i)) / rate));
}

/** Reads `packets` packets; returns the left and right channels. */
function drain(feed: PcmFeed | PcmMixer, packets: number): { left: Int16Array; right: Int16Array } {
  const left = new Int16Array(packets * PACKET_FRAMES);
  const right = new Int16Array(packets * PACKET_FRAMES);
  const out = new Int16Array(PACKET_FRAMES * 2);
  for (let p = 0; p < packets; p++) {
    feed.read(out);
    for (let f = 0; f < PACKET_FRAMES; f++) {
      left[p * PACKET_FRAMES + f] = out[2 * f]!;
      right[p * PACKET_FRAMES + f] = out[2 * f + 1]!;
    }
  }
  return { left, right };
}

describe('PcmFeed', () => {
  it('resamples 44.1 kHz float blocks (Web Audio render quanta) to 48 kHz with the frequency intact', () => {
    const feed = new PcmFeed('test');
    const collected: Int16Array[] = [];
    const rights: Int16Array[] = [];
    let at = 0;
    // One second, fed in 128-frame quanta and read as it goes (as the playback clock would).
    for (let t = 0; t < 100; t++) {
      while (at < ((t + 1) * 44100) / 100) {
        const block = sine(1000, 44100, 128, at);
        feed.push({ kind: 'f32', sampleRate: 44100, channels: [block, block.map((v) => -v)] });
        at += 128;
      }
      const d = drain(feed, 1);
      collected.push(d.left);
      rights.push(d.right);
    }
    const l = Int16Array.from(collected.flatMap((a) => [...a]));
    const r = Int16Array.from(rights.flatMap((a) => [...a]));
    expect(Math.abs(dominantFrequency(l.subarray(4800), PLAYBACK_FREQUENCY) - 1000)).toBeLessThan(1);
    expect(rmsLevel(l.subarray(4800))).toBeCloseTo(0.5 / Math.SQRT2, 1);
    expect(r[10000]).toBeCloseTo(-l[10000]!, -1); // the right channel stayed the right channel
  });

  it('plays mono S16 on both channels, pads with silence when dry, cuts a burst, and brings a producer that stays ahead back to MAX_FEED_MS', () => {
    const feed = new PcmFeed('test');
    const mono = Int16Array.from({ length: 480 }, (_, i) => i);
    feed.push({ kind: 's16', sampleRate: 48000, channelCount: 1, samples: mono });
    const { left, right } = drain(feed, 2);
    expect([...left.subarray(0, 480)]).toEqual([...mono]);
    expect([...right.subarray(0, 480)]).toEqual([...mono]);
    expect(left.subarray(480).every((v) => v === 0)).toBe(true);
    expect(feed.underruns).toBe(1);

    // A burst of 1 s: only the newest FEED_BURST_MS stay, the rest is counted as dropped.
    feed.push({ kind: 's16', sampleRate: 48000, channelCount: 2, samples: Int16Array.from({ length: 96000 }, (_, i) => (i >> 1) % 32000) });
    expect(feed.bufferedFrames).toBe((PLAYBACK_FREQUENCY * FEED_BURST_MS) / 1000);
    expect(feed.framesDropped).toBe(48000 - feed.bufferedFrames);
    const kept = feed.bufferedFrames;
    expect(drain(feed, 1).left[0]).toBe((48000 - kept) % 32000); // the oldest kept frame

    // The producer then keeps pace, staying that far ahead: within a floor period or two it is back to MAX_FEED_MS ahead.
    for (let p = 0; p < 2 * FLOOR_PERIOD_READS; p++) {
      feed.push({ kind: 's16', sampleRate: 48000, channelCount: 1, samples: new Int16Array(PACKET_FRAMES).fill(7) });
      drain(feed, 1);
    }
    expect(feed.bufferedFrames).toBeLessThanOrEqual((PLAYBACK_FREQUENCY * MAX_FEED_MS) / 1000);
    expect(feed.bufferedFrames).toBeGreaterThan(0);
  });

  it('loses nothing from a producer that hands over 128 ms at a time, as an emulated card\'s DMA does at 8 kHz', () => {
    // The Linux guest's /dev/dsp: u8 mono 8 kHz, 1024-sample DMA blocks, each asked for when under 40 ms is left.
    const feed = new PcmFeed('test');
    const rate = 8000;
    const block = 1024;
    let made = 0;
    const left: number[] = [];
    const out = new Int16Array(PACKET_FRAMES * 2);
    for (let p = 0; p < 300; p++) {
      const playedMs = p * 10;
      if ((made * 1000) / rate - playedMs < 40) {
        const s = Int16Array.from({ length: block }, (_, i) => Math.round(12000 * Math.sin((2 * Math.PI * 1000 * (made + i)) / rate)));
        feed.push({ kind: 's16', sampleRate: rate, channelCount: 1, samples: s });
        made += block;
      }
      feed.read(out);
      for (let f = 0; f < PACKET_FRAMES; f++) left.push(out[2 * f]!);
    }
    expect(feed.framesDropped).toBe(0);
    expect(feed.underruns).toBe(0);
    expect(Math.abs(dominantFrequency(left.slice(4800), PLAYBACK_FREQUENCY) - 1000)).toBeLessThan(0.5);
  });

  it('refuses blocks it cannot play, saying what it expected', () => {
    const feed = new PcmFeed('test');
    expect(() => feed.push({ kind: 's16', sampleRate: 48000, channelCount: 6, samples: new Int16Array(6) })).toThrow(/expected 1 or 2 channels, got 6/);
    expect(() => feed.push({ kind: 'f32', sampleRate: 0, channels: [new Float32Array(1)] })).toThrow(/expected a sample rate of 8000\.\.192000 Hz, got 0/);
  });
});

describe('PcmMixer', () => {
  it('sums its inputs, clipped to 16 bits', () => {
    const mixer = new PcmMixer();
    const a = new PcmFeed('a');
    const b = new PcmFeed('b');
    a.push({ kind: 's16', sampleRate: 48000, channelCount: 1, samples: new Int16Array(480).fill(30000) });
    b.push({ kind: 's16', sampleRate: 48000, channelCount: 1, samples: new Int16Array(480).fill(-1000) });
    mixer.add(a);
    mixer.add(b);
    const twice = new PcmFeed('c');
    twice.push({ kind: 's16', sampleRate: 48000, channelCount: 1, samples: new Int16Array(480).fill(30000) });
    expect(drain(mixer, 1).left[0]).toBe(29000);
    mixer.delete(b);
    mixer.add(twice);
    a.push({ kind: 's16', sampleRate: 48000, channelCount: 1, samples: new Int16Array(480).fill(30000) });
    expect(drain(mixer, 1).left[0]).toBe(32767);
    mixer.add(new TestTone(440));
    expect(mixer.size).toBe(3);
  });
});
