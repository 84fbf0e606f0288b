/**
 * Non-blocking waits on a word of shared memory, for threads that must not
 * block (page main thread, RedWorker event loop).
 *
 * Uses `Atomics.waitAsync` where available; otherwise polls with timers (e.g.
 * Firefox before waitAsync shipped), which is slower but still lost-wakeup free
 * because it compares against the expected value, exactly like a futex wait.
 */

/** Outcome of a wait, as `Atomics.wait` reports it. */
export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
type WaitAsyncFn = (typedArray: Int32Array, index: number, value: number, timeout?: number) => WaitAsyncResult;

const waitAsyncImpl: WaitAsyncFn | undefined = (Atomics as unknown as { waitAsync?: WaitAsyncFn }).waitAsync;

/** True when the platform has `Atomics.waitAsync` (no polling fallback needed). */
export const hasWaitAsync = typeof waitAsyncImpl === 'function';

/** Poll period of the fallback when `Atomics.waitAsync` is missing. */
const POLL_MS = 4;

/**
 * Resolves when `i32[index]` is notified or no longer equals `expected`, or
 * after `timeoutMs` (default: never).
 */
export function waitOnWord(i32: Int32Array, index: number, expected: number, timeoutMs = Infinity): Promise<WaitResult> {
  if (waitAsyncImpl) {
    const r = waitAsyncImpl.call(Atomics, i32, index, expected | 0, timeoutMs);
    return r.async ? r.value : Promise.resolve(r.value);
  }
  return new Promise<WaitResult>((resolve) => {
    const deadline = Date.now() + timeoutMs;
    const poll = (): void => {
      if (Atomics.load(i32, index) !== (expected | 0)) resolve('ok');
      else if (Date.now() >= deadline) resolve('timed-out');
      else setTimeout(poll, POLL_MS);
    };
    if (Atomics.load(i32, index) !== (expected | 0)) resolve('not-equal');
    else setTimeout(poll, POLL_MS);
  });
}

/**
 * Reuses one pending untimed wait per word: a caller that waits on several
 * words and resumes on the first would otherwise leave a parked waiter on the
 * others each round. A reused waiter is still correct: the caller re-armed the
 * ring's notify threshold, so the next change of the word notifies it.
 */
export class WordWaiter {
  private pending: Promise<WaitResult> | null = null;
  private pendingExpected = 0;

  constructor(
    private readonly i32: Int32Array,
    private readonly index: number,
  ) {}

  /** Resolves when the word is notified or differs from `expected`. */
  wait(expected: number): Promise<WaitResult> {
    if (this.pending && this.pendingExpected === (expected | 0)) return this.pending;
    const p = waitOnWord(this.i32, this.index, expected);
    this.pending = p;
    this.pendingExpected = expected | 0;
    void p.then(() => {
      if (this.pending === p) this.pending = null;
    });
    return p;
  }
}
