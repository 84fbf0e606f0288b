/**
 * The sound dispatcher: the main thread's handle on the SoundWorker (as
 * WorkerDispatcher is on a RedWorker). ClientCbs semantics as everywhere:
 * connect is asynchronous, disconnect is awaited.
 */
import * as Comlink from 'comlink';
import { ChannelWorkerDispatcher, type MainDispatcherApi } from '../server/dispatcher.ts';
import type { SoundWorkerApi, SoundWorkerStats } from './sound-worker.ts';

export class SoundDispatcher extends ChannelWorkerDispatcher<SoundWorkerApi> {
  /** Set before the server starts: clients are offered the record channel (the source takes microphones). */
  record = false;

  /** Starts a SoundWorker in its own Web Worker. */
  static create(): SoundDispatcher {
    return new SoundDispatcher(new Worker(new URL('./sound-worker.ts', import.meta.url), { type: 'module', name: 'sound-worker' }));
  }

  async init(main: MainDispatcherApi, mediaClockEpoch: number): Promise<void> {
    await this.remote.init(Comlink.proxy(main), mediaClockEpoch);
  }

  setTone(hz: number | null): Promise<void> {
    return this.remote.setTone(hz);
  }

  /** Hands the SoundWorker the receiving end of an audio feed (see PcmFeedMessage). */
  attachFeed(port: MessagePort, name: string): Promise<void> {
    return this.remote.attachFeed(Comlink.transfer(port, [port]), name);
  }

  /** Clients' microphones to `port` (null: off). */
  listenMicrophone(port: MessagePort | null): Promise<void> {
    return this.remote.listenMicrophone(port ? Comlink.transfer(port, [port]) : null);
  }

  setVolume(volume: number[]): Promise<void> {
    return this.remote.setVolume(volume);
  }

  setMute(mute: boolean): Promise<void> {
    return this.remote.setMute(mute);
  }

  stats(): Promise<SoundWorkerStats> {
    return this.remote.stats();
  }
}
