/**
 * Entry of the device WASM module (build/qxl.wasm). It runs directly on the
 * shared device memory; each file under assembly/ owns one concern and is
 * re-exported here.
 */
export {
  ringInit,
  ringCount,
  ringIsEmpty,
  ringIsFull,
  cmdRingPush,
  cmdRingPop,
  releaseRingPush,
  releaseRingPop,
  ringPrepareWaitItems,
  ringPrepareWaitSpace,
  ringWaitItems,
  ringWaitSpace,
  ringWakeAll,
} from './ring';
export * from './lz';
export * from './quic';
export * from './diff';
export * from './lz4';
export * from './jpeg';
