/**
 * SessionAudio: the {@link SpiceAudio} a session hands its source, on the
 * page's main thread. Each input is a feed: a MessageChannel whose far end
 * the SoundWorker holds, so blocks go straight to it (from an AudioWorklet,
 * without passing through this thread at all).
 */
import type { SpiceAudio } from '../api/spice-source.ts';
import { createLogger } from '../util/logger.ts';
import type { PcmFeedMessage } from './pcm-feed.ts';
import { PLAYBACK_FREQUENCY } from './pcm.ts';
import type { SoundDispatcher } from './sound-dispatcher.ts';

const log = createLogger('session-audio');

/**
 * The tap: an AudioWorkletProcessor that posts every render quantum of its
 * input (float blocks at the context's rate) to the feed port it is given,
 * and outputs silence. Plain JavaScript in a Blob, because a worklet runs in
 * its own global scope where none of this bundle's modules are loaded.
 */
const TAP_PROCESSOR = 'spice-pcm-tap';
const TAP_SOURCE = `
class SpicePcmTap extends AudioWorkletProcessor {
  constructor() {
    super();
    this.feed = null;
    this.port.onmessage = (e) => { this.feed = e.data; };
  }
  process(inputs) {
    const input = inputs[0];
    if (this.feed && input && input.length > 0) {
      const channels = input.slice(0, 2).map((c) => c.slice());
      this.feed.postMessage({ kind: 'f32', sampleRate, channels }, channels.map((c) => c.buffer));
    }
    return true;
  }
}
registerProcessor('${TAP_PROCESSOR}', SpicePcmTap);
`;

/** Contexts the tap module is loaded into (once each). */
const tapLoaded = new WeakMap<BaseAudioContext, Promise<void>>();

function loadTap(ctx: BaseAudioContext): Promise<void> {
  let p = tapLoaded.get(ctx);
  if (!p) {
    const url = URL.createObjectURL(new Blob([TAP_SOURCE], { type: 'text/javascript' }));
    p = ctx.audioWorklet.addModule(url).finally(() => URL.revokeObjectURL(url));
    tapLoaded.set(ctx, p);
  }
  return p;
}

export class SessionAudio implements SpiceAudio {
  private pushed: MessagePort | null = null;
  private feeds = 0;

  constructor(private readonly sound: SoundDispatcher) {}

  /** A new feed: the SoundWorker mixes it in until `end` is posted. Blocks posted before it is attached wait in the port. */
  openFeed(name: string): MessagePort {
    const ch = new MessageChannel();
    this.sound.attachFeed(ch.port2, `${name} #${++this.feeds}`).catch((e: unknown) => log.error(`audio feed ${name}: ${(e as Error).message}`));
    return ch.port1;
  }

  pushPcm(samples: Int16Array, sampleRate = PLAYBACK_FREQUENCY, channels = 2): void {
    if (channels !== 1 && channels !== 2) throw new Error(`pushPcm: expected 1 or 2 channels, got ${channels}`);
    this.pushed ??= this.openFeed('pushed PCM');
    const copy = samples.slice();
    const m: PcmFeedMessage = { kind: 's16', sampleRate, channelCount: channels, samples: copy };
    this.pushed.postMessage(m, [copy.buffer]);
  }

  async connectNode(node: AudioNode): Promise<() => void> {
    const ctx = node.context;
    await loadTap(ctx);
    const tap = new AudioWorkletNode(ctx, TAP_PROCESSOR, { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
    const port = this.openFeed('Web Audio');
    tap.port.postMessage(port, [port]);
    node.connect(tap);
    // Only a node that reaches the destination is rendered; the tap outputs silence.
    tap.connect(ctx.destination);
    if (ctx instanceof AudioContext && ctx.state === 'suspended') {
      void ctx.resume().catch(() => log.warn('the AudioContext stays suspended until the page gets a user gesture'));
    }
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      node.disconnect(tap);
      tap.disconnect();
      tap.port.postMessage(null);
      port.postMessage({ kind: 'end' } satisfies PcmFeedMessage);
    };
  }

  async connectStream(stream: MediaStream): Promise<() => void> {
    if (stream.getAudioTracks().length === 0) throw new Error('connectStream: expected a MediaStream with an audio track, got none');
    // At 48 kHz the tap needs no resampling.
    const ctx = new AudioContext({ sampleRate: PLAYBACK_FREQUENCY });
    const stop = await this.connectNode(ctx.createMediaStreamSource(stream));
    return () => {
      stop();
      void ctx.close();
    };
  }

  setVolume(level: number): Promise<void> {
    if (!(level >= 0 && level <= 1)) throw new Error(`setVolume: expected a level from 0 to 1, got ${level}`);
    const v = Math.round(level * 65535);
    return this.sound.setVolume([v, v]);
  }

  setMute(mute: boolean): Promise<void> {
    return this.sound.setMute(mute);
  }

  /** Ends the pushed-PCM feed (the others end with their stop functions or the session). */
  close(): void {
    this.pushed?.postMessage({ kind: 'end' } satisfies PcmFeedMessage);
    this.pushed = null;
  }
}
