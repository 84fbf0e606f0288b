/**
 * SPICE/QXL rings over the shared device memory (layout of spice-protocol's
 * `ipc_ring.h`, packed):
 *
 * ```
 *   +0  u32 num_items        power of two
 *   +4  u32 prod             free-running producer counter
 *   +8  u32 notify_on_prod   consumer asks to be woken when prod reaches this
 *   +12 u32 cons             free-running consumer counter
 *   +16 u32 notify_on_cons   producer asks to be woken when cons reaches this
 *   +20 items[num_items]     slot = counter & (num_items - 1)
 * ```
 *
 * Empty when prod == cons, full when prod - cons == num_items (u32 wrap-around
 * arithmetic, so the counters may run past 2^32).
 *
 * Every function takes absolute byte addresses. Nothing here allocates or uses
 * static data: the memory is shared, and data segments would be re-applied by
 * every thread that instantiates the module.
 *
 * Lost-wakeup freedom follows QXL: a waiter publishes "wake me at counter X"
 * (seq-cst store), then re-reads the counter (seq-cst load); the other side
 * bumps the counter (seq-cst store), then reads the threshold. Sequential
 * consistency guarantees at least one side sees the other's write. The final
 * sleep uses wait32 with the value the waiter last saw, so a change that slips
 * in between re-check and sleep makes the wait return at once.
 */

// @ts-ignore: decorator
@inline const NUM_ITEMS: usize = 0;
// @ts-ignore: decorator
@inline const PROD: usize = 4;
// @ts-ignore: decorator
@inline const NOTIFY_ON_PROD: usize = 8;
// @ts-ignore: decorator
@inline const CONS: usize = 12;
// @ts-ignore: decorator
@inline const NOTIFY_ON_CONS: usize = 16;
// @ts-ignore: decorator
@inline const ITEMS: usize = 20;

/** Size of a QXLCommand ring item: u64 data, u32 type, u32 padding. */
// @ts-ignore: decorator
@inline const CMD_ITEM_SIZE: u32 = 16;
/** Size of a release ring item: u64 release id. */
// @ts-ignore: decorator
@inline const RELEASE_ITEM_SIZE: u32 = 8;

/** Push/pop result bits. */
// @ts-ignore: decorator
@inline const DONE: u32 = 1;
// @ts-ignore: decorator
@inline const NOTIFIED: u32 = 2;

// @ts-ignore: decorator
@inline function numItems(ring: usize): u32 {
  // num_items is written once at init (before the memory is shared), so a plain
  // load would do; atomic keeps every header access uniform.
  return atomic.load<u32>(ring, NUM_ITEMS);
}

// @ts-ignore: decorator
@inline function slotAddr(ring: usize, counter: u32, itemSize: u32): usize {
  return ring + ITEMS + <usize>((counter & (numItems(ring) - 1)) * itemSize);
}

/** Converts a millisecond timeout (negative = forever) to wait32's nanoseconds. */
// @ts-ignore: decorator
@inline function toNanos(timeoutMs: i32): i64 {
  return timeoutMs < 0 ? <i64>-1 : <i64>timeoutMs * 1_000_000;
}

/**
 * Initialises a ring header for `items` slots of `itemSize` bytes and zeroes
 * the slots. Returns 0 when `items` is not a power of two (nothing written).
 */
export function ringInit(ring: usize, items: u32, itemSize: u32): u32 {
  if (items == 0 || (items & (items - 1)) != 0) return 0;
  memory.fill(ring + ITEMS, 0, <usize>(items * itemSize));
  atomic.store<u32>(ring, items, NUM_ITEMS);
  atomic.store<u32>(ring, 0, PROD);
  atomic.store<u32>(ring, 0, CONS);
  // QXL's initial thresholds: the first push wakes the consumer.
  atomic.store<u32>(ring, 1, NOTIFY_ON_PROD);
  atomic.store<u32>(ring, 0, NOTIFY_ON_CONS);
  return 1;
}

/** Number of items waiting to be consumed. */
export function ringCount(ring: usize): u32 {
  return atomic.load<u32>(ring, PROD) - atomic.load<u32>(ring, CONS);
}

/** 1 when the ring holds no items. */
export function ringIsEmpty(ring: usize): u32 {
  return atomic.load<u32>(ring, PROD) == atomic.load<u32>(ring, CONS) ? 1 : 0;
}

/** 1 when every slot is taken. */
export function ringIsFull(ring: usize): u32 {
  return atomic.load<u32>(ring, PROD) - atomic.load<u32>(ring, CONS) == numItems(ring) ? 1 : 0;
}

/** Publishes the slot at `prod`; wakes the consumer when it asked for it. */
function publish(ring: usize): u32 {
  const prod = atomic.load<u32>(ring, PROD) + 1;
  atomic.store<u32>(ring, prod, PROD);
  if (prod == atomic.load<u32>(ring, NOTIFY_ON_PROD)) {
    atomic.notify(ring + PROD, i32.MAX_VALUE);
    return DONE | NOTIFIED;
  }
  return DONE;
}

/** Retires the slot at `cons`; wakes a producer waiting for space when it asked. */
function retire(ring: usize): u32 {
  const cons = atomic.load<u32>(ring, CONS) + 1;
  atomic.store<u32>(ring, cons, CONS);
  if (cons == atomic.load<u32>(ring, NOTIFY_ON_CONS)) {
    atomic.notify(ring + CONS, i32.MAX_VALUE);
    return DONE | NOTIFIED;
  }
  return DONE;
}

/**
 * Pushes a QXLCommand {data = dataHi:dataLo, type}. Single producer per ring.
 * Returns 0 when the ring is full (nothing written), else 1, plus 2 when the
 * consumer was woken.
 */
export function cmdRingPush(ring: usize, dataLo: u32, dataHi: u32, type: u32): u32 {
  const prod = atomic.load<u32>(ring, PROD);
  if (prod - atomic.load<u32>(ring, CONS) >= numItems(ring)) return 0;
  const slot = slotAddr(ring, prod, CMD_ITEM_SIZE);
  store<u32>(slot, dataLo, 0);
  store<u32>(slot, dataHi, 4);
  store<u32>(slot, type, 8);
  store<u32>(slot, 0, 12);
  return publish(ring);
}

/**
 * Pops a QXLCommand into the 16 bytes at `out` (same layout as the item).
 * Single consumer per ring. Returns 0 when empty, else 1, plus 2 when a
 * producer waiting for space was woken.
 */
export function cmdRingPop(ring: usize, out: usize): u32 {
  const cons = atomic.load<u32>(ring, CONS);
  if (atomic.load<u32>(ring, PROD) == cons) return 0;
  memory.copy(out, slotAddr(ring, cons, CMD_ITEM_SIZE), CMD_ITEM_SIZE);
  return retire(ring);
}

/** Pushes a u64 release id (idHi:idLo). Same result codes as {@link cmdRingPush}. */
export function releaseRingPush(ring: usize, idLo: u32, idHi: u32): u32 {
  const prod = atomic.load<u32>(ring, PROD);
  if (prod - atomic.load<u32>(ring, CONS) >= numItems(ring)) return 0;
  const slot = slotAddr(ring, prod, RELEASE_ITEM_SIZE);
  store<u32>(slot, idLo, 0);
  store<u32>(slot, idHi, 4);
  return publish(ring);
}

/** Pops a u64 release id into the 8 bytes at `out`. Same result codes as {@link cmdRingPop}. */
export function releaseRingPop(ring: usize, out: usize): u32 {
  const cons = atomic.load<u32>(ring, CONS);
  if (atomic.load<u32>(ring, PROD) == cons) return 0;
  memory.copy(out, slotAddr(ring, cons, RELEASE_ITEM_SIZE), RELEASE_ITEM_SIZE);
  return retire(ring);
}

/**
 * Consumer side, before sleeping: if the ring is empty, asks the producer to
 * wake it on the next push (notify_on_prod = cons + 1) and re-checks.
 * Returns 1 when the ring is still empty: the caller may then wait on the
 * `prod` word with expected value `cons` (which only the consumer changes), e.g.
 * with `Atomics.waitAsync`. Returns 0 when items are available.
 */
export function ringPrepareWaitItems(ring: usize): u32 {
  const cons = atomic.load<u32>(ring, CONS);
  if (atomic.load<u32>(ring, PROD) != cons) return 0;
  atomic.store<u32>(ring, cons + 1, NOTIFY_ON_PROD);
  return atomic.load<u32>(ring, PROD) == cons ? 1 : 0;
}

/**
 * Producer side, before sleeping: if the ring is full, asks the consumer to
 * wake it on the next pop (notify_on_cons = cons + 1) and re-checks.
 * Returns 1 when still full: the caller may wait on the `cons` word with
 * expected value `prod - num_items`. Returns 0 when there is space.
 */
export function ringPrepareWaitSpace(ring: usize): u32 {
  const prod = atomic.load<u32>(ring, PROD);
  const n = numItems(ring);
  const cons = atomic.load<u32>(ring, CONS);
  if (prod - cons < n) return 0;
  atomic.store<u32>(ring, cons + 1, NOTIFY_ON_CONS);
  return prod - atomic.load<u32>(ring, CONS) >= n ? 1 : 0;
}

/**
 * Blocks the calling thread until the ring has items or `timeoutMs` passes
 * (negative = forever). Only for threads allowed to block (workers, Node).
 * Returns 1 when items are available, 0 otherwise (timeout or spurious wake).
 */
export function ringWaitItems(ring: usize, timeoutMs: i32): u32 {
  if (ringPrepareWaitItems(ring) == 0) return 1;
  const cons = atomic.load<u32>(ring, CONS);
  memory.atomic.wait32(ring + PROD, <i32>cons, toNanos(timeoutMs));
  return ringIsEmpty(ring) ^ 1;
}

/**
 * Blocks the calling thread until the ring has a free slot or `timeoutMs`
 * passes (negative = forever). Returns 1 when there is space, 0 otherwise.
 */
export function ringWaitSpace(ring: usize, timeoutMs: i32): u32 {
  if (ringPrepareWaitSpace(ring) == 0) return 1;
  const full = atomic.load<u32>(ring, PROD) - numItems(ring);
  memory.atomic.wait32(ring + CONS, <i32>full, toNanos(timeoutMs));
  return ringIsFull(ring) ^ 1;
}

/**
 * Wakes every thread waiting on either counter of the ring (shutdown,
 * interrupt). Returns the number of waiters woken.
 */
export function ringWakeAll(ring: usize): u32 {
  return <u32>atomic.notify(ring + PROD, i32.MAX_VALUE) +
    <u32>atomic.notify(ring + CONS, i32.MAX_VALUE);
}
