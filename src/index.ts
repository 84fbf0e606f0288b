/**
 * spice-web-server as a library: serve a page's emulator, canvas or test
 * pattern to SPICE clients (spice-html5, remote-viewer) through the relay.
 *
 * - {@link SpiceWebServer} (`SpiceWebServer.start(options)`): one session.
 * - {@link SpiceSource} / {@link SpiceDisplay}: plug in your own emulator.
 * - {@link CanvasSource}: serve any `<canvas>`; v86 guests through
 *   `source: { kind: 'v86', vm: … }`.
 * - `<spice-server>`: the web component ({@link defineSpiceServerElement}).
 */
export { SessionHost as SpiceWebServer, assertCrossOriginIsolated } from './host/session-host.ts';
export type { SessionHostOptions as SpiceWebServerOptions, SessionHostStats as SpiceWebServerStats, SourceSpec } from './host/session-host.ts';
export type {
  SpiceSource,
  SpiceDisplay,
  SpiceAudio,
  Rect,
  CursorShape,
  InputSink,
  AgentSink,
  SpiceAgent,
  ResizeRequest,
  ReceivedFile,
  FileProgress,
} from './api/spice-source.ts';
export { CanvasSource, type CanvasSourceOptions, type CanvasClipboardDetail, type CanvasResizeDetail } from './sources/canvas-source.ts';
export type { V86StartOptions, GuestImage } from './sources/v86/v86-api.ts';
export { v86SourceSpec, catalogGuestSpec, MissingFileError, type V86SpecOptions, type V86ImageSlot } from './host/v86-source-spec.ts';
export {
  SpiceServerElement,
  defineSpiceServerElement,
  type SpiceReadyDetail,
  type SpiceClientDetail,
  type SpiceErrorDetail,
  type SpiceStatsDetail,
  type SpiceClipboardDetail,
  type SpiceFileDetail,
  type SpiceResizeDetail,
  type SpiceServerEventMap,
} from './element/spice-server-element.ts';
export type { ImageCompression, JpegMode } from './worker/image-encoder.ts';
export type { StreamingMode } from './worker/video-stream.ts';
export { setLogLevel, type LogLevel } from './util/logger.ts';
