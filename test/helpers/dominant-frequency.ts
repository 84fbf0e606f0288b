/**
 * The dominant frequency of a mono signal: a radix-2 FFT over the largest
 * power-of-two window that fits, a Hann window against leakage, and parabolic
 * interpolation between the strongest bin and its neighbours (a pure tone
 * comes out well inside ±1 Hz with a 0.7 s window at 48 kHz). Shared by the
 * unit tests and the end-to-end tests, which feed it what real clients got.
 */
export function dominantFrequency(samples: ArrayLike<number>, sampleRate: number): number {
  let n = 1;
  while (n * 2 <= samples.length) n *= 2;
  if (n < 1024) throw new Error(`dominantFrequency: expected at least 1024 samples, got ${samples.length}`);
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let i = 0; i < n; i++) re[i] = samples[i]! * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1)));
  fft(re, im);
  let best = 1;
  let bestMag = -1;
  const mag = (k: number): number => Math.hypot(re[k]!, im[k]!);
  for (let k = 1; k < n / 2; k++) {
    const m = mag(k);
    if (m > bestMag) {
      bestMag = m;
      best = k;
    }
  }
  const a = Math.log(mag(best - 1) + 1e-12);
  const b = Math.log(bestMag + 1e-12);
  const c = Math.log(mag(best + 1) + 1e-12);
  const offset = (a - c) / (2 * (a - 2 * b + c));
  return ((best + (Number.isFinite(offset) ? offset : 0)) * sampleRate) / n;
}

/**
 * The median of the dominant frequencies of consecutive 8192-sample windows
 * (170 ms at 48 kHz): what a listener hears as the pitch, robust to the odd
 * glitch (a dropped or padded block when a source's clock and the playback
 * clock disagree), which would smear one long window's peak.
 */
export function medianDominantFrequency(samples: ArrayLike<number>, sampleRate: number, window = 8192): number {
  const found: number[] = [];
  for (let at = 0; at + window <= samples.length; at += window) {
    found.push(dominantFrequency(Array.prototype.slice.call(samples, at, at + window) as number[], sampleRate));
  }
  if (found.length < 3) throw new Error(`medianDominantFrequency: expected at least 3 windows of ${window} samples, got ${samples.length} samples`);
  found.sort((a, b) => a - b);
  return found[Math.floor(found.length / 2)]!;
}

/** RMS of a signal, 0..1 of 16-bit full scale. */
export function rmsLevel(samples: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / Math.max(1, samples.length)) / 32768;
}

/** The left channel of interleaved stereo S16LE bytes. */
export function leftChannel(s16le: Uint8Array): Int16Array {
  const all = new Int16Array(s16le.buffer.slice(s16le.byteOffset, s16le.byteOffset + (s16le.byteLength & ~3)));
  const out = new Int16Array(all.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = all[2 * i]!;
  return out;
}

/** In-place iterative radix-2 FFT. */
function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k;
        const b = a + len / 2;
        const tr = re[b]! * cr - im[b]! * ci;
        const ti = re[b]! * ci + im[b]! * cr;
        re[b] = re[a]! - tr;
        im[b] = im[a]! - ti;
        re[a] = re[a]! + tr;
        im[a] = im[a]! + ti;
        const nr = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = nr;
      }
    }
  }
}
