/**
 * DisplayChannel and DisplayChannelClient (spice-server display-channel.cpp,
 * dcc.cpp), run inside a RedWorker. The channel keeps a mirror of the primary
 * surface, so a client that connects later first gets the whole picture, and
 * sends every drawable to every connected client.
 */
import { ImageType, MsgDisplay, MsgcDisplay, SurfaceFlags, SurfaceFormat } from '../protocol/constants.ts';
import {
  decodeDisplayInit,
  VideoCodec,
  encodeCopyBits,
  encodeDrawCopy,
  encodeStreamCreate,
  encodeStreamData,
  encodeStreamDestroy,
  encodeSurfaceCreate,
  encodeSurfaceDestroy,
} from '../protocol/display-messages.ts';
import { hasCap } from '../protocol/link.ts';
import { ImageEncoder, packArea, screenLike, type ClientCodecPrefs, type Codec, type ImageCompression, type PixelArea } from './image-encoder.ts';
import { mediaTime } from '../util/media-clock.ts';
import { StreamDetector, type StreamRect, type VideoStream } from './video-stream.ts';
import type { StreamEncoder } from './image-encoder.ts';
import { ProtocolError } from '../protocol/wire.ts';
import type { ByteStream } from '../server/byte-stream.ts';
import { RedChannelClient, type RedChannelClientOptions } from '../server/red-channel-client.ts';
import { createLogger } from '../util/logger.ts';

const log = createLogger('display-channel');

/** spice-server's ACK window for display channels. */
const DISPLAY_ACK_WINDOW = 20;
/** Queued draws past which a slow client's backlog collapses into one redraw of the area they painted. */
const MAX_QUEUED_DRAWS = 64;
/** COPY_BITS a collapsed backlog keeps ahead of its redraw; later ones join the redraw. */
const MAX_QUEUED_COPIES = 16;
/** A stream unchanged this long has its last frame sent once more (see expireStreams). */
const STREAM_SETTLE_MS = 150;
/** Areas a client got as JPEG are sent again losslessly once they stayed untouched this long. */
const LOSSY_REFRESH_MS = 1000;
/** Lossy areas tracked per client; more merge into their bounding box. */
const MAX_LOSSY_RECTS = 16;
/** Stream id of the throw-away stream that prepares spice-html5 for JPEG images (spice-wire.md §15, quirk 12). */
const JPEG_PRIMER_STREAM_ID = 0xfffe;

export interface PrimarySurface {
  width: number;
  height: number;
  /** B,G,R,x bytes, rows top to bottom, stride = 4·width. */
  pixels: Uint8Array;
}

export class DisplayChannel {
  readonly clients = new Set<DisplayChannelClient>();
  private surface: PrimarySurface | null = null;
  /**
   * Where the primary's pixels live: the device memory's SURFACE region once the
   * device is attached (encoders then read it in place), else plain memory.
   */
  surfaceMemory: Uint8Array | null = null;
  /** Device-memory address of `surfaceMemory` (the codecs read the surface there). */
  surfaceAddr: number | null = null;
  readonly encoder = new ImageEncoder();
  /** The media clock's zero (wall-clock ms), as the main thread's SpiceServer has it. */
  mediaClockEpoch = Date.now();
  readonly streams = new StreamDetector();
  /** JPEG for stream frames, read from the surface in device memory (the WASM encoder); null: no streams. */
  streamJpeg: StreamEncoder | null = null;
  streamFramesSent = 0;
  streamsStarted = 0;
  private expiryTimer: ReturnType<typeof setInterval> | null = null;
  private refreshTimer: ReturnType<typeof setInterval> | null = null;
  private readonly dirtyStreams = new Set<VideoStream>();
  private imageId = 0;
  drawablesProcessed = 0;
  /** JPEG images sent, counted per client (clients may share one encoding). */
  jpegDeliveries = 0;
  /** COPY_BITS operations applied (scrolls and moved blocks). */
  copyBitsProcessed = 0;

  get primary(): PrimarySurface | null {
    return this.surface;
  }

  /** Image ids stay below 2^31 (spice-html5 reads 64-bit ids as hi | lo). */
  nextImageId(): number {
    this.imageId = (this.imageId + 1) & 0x7fffffff || 1;
    return this.imageId;
  }

  createPrimary(width: number, height: number): void {
    this.endStreams(this.streams.clear(), false);
    if (this.surface && (this.surface.width !== width || this.surface.height !== height)) {
      for (const c of this.clients) c.sendSurfaceDestroy();
    }
    const bytes = width * height * 4;
    if (this.surfaceMemory && bytes > this.surfaceMemory.byteLength) {
      throw new Error(`primary ${width}x${height} needs ${bytes} bytes; the surface region holds ${this.surfaceMemory.byteLength}`);
    }
    const pixels = this.surfaceMemory ? this.surfaceMemory.subarray(0, bytes) : new Uint8Array(bytes);
    pixels.fill(0);
    this.surface = { width, height, pixels };
    for (const c of this.clients) c.sendPrimary();
  }

  destroyPrimary(): void {
    if (!this.surface) return;
    this.endStreams(this.streams.clear(), false);
    for (const c of this.clients) c.sendSurfaceDestroy();
    this.surface = null;
  }

  /**
   * Applies a copy of packed B,G,R,x pixels to the mirror at (left, top) and
   * sends it to every client. Parts outside the surface are clipped.
   */
  drawCopy(left: number, top: number, width: number, height: number, pixels: Uint8Array): void {
    const s = this.surface;
    if (!s) throw new Error('draw before a primary surface exists');
    const x0 = Math.max(0, left);
    const y0 = Math.max(0, top);
    const x1 = Math.min(s.width, left + width);
    const y1 = Math.min(s.height, top + height);
    if (x1 <= x0 || y1 <= y0) return;
    const stride = s.width * 4;
    for (let y = y0; y < y1; y++) {
      const from = ((y - top) * width + (x0 - left)) * 4;
      s.pixels.set(pixels.subarray(from, from + (x1 - x0) * 4), y * stride + x0 * 4);
    }
    this.drawablesProcessed++;
    if (this.clients.size === 0) return;
    const area = this.area(x0, y0, x1 - x0, y1 - y0);
    if (this.streamJpeg && this.surfaceAddr !== null) {
      const hit = this.streams.update({ left: x0, top: y0, width: x1 - x0, height: y1 - y0 }, performance.now(), !screenLike(area));
      if (hit) {
        if (hit.started) this.startStream(hit.stream);
        hit.stream.settledSent = false;
        // Encoded once per batch of drawables (flushStreams), however many updates it got.
        this.dirtyStreams.add(hit.stream);
        return;
      }
      // A draw that reaches into a stream without being inside it: spice-gtk shows stream frames late
      // (media clock), so an older frame would paint over this draw. The stream sends a newer frame too.
      const r = { left: x0, top: y0, width: x1 - x0, height: y1 - y0 };
      for (const st of this.streams.streams.values()) {
        if (intersects(st.rect, r)) {
          st.settledSent = false;
          this.dirtyStreams.add(st);
        }
      }
    }
    this.sendArea(area, x0, y0);
  }

  /** Sends an area of the surface to every client, each with its codec. */
  private sendArea(area: PixelArea, x0: number, y0: number): void {
    // Each client gets its codec; clients that chose the same one share the encoded message.
    const bodies = new Map<Codec, Uint8Array>();
    for (const c of this.clients) this.sendAreaTo(c, area, x0, y0, c.codecPrefs, bodies);
  }

  private sendAreaTo(
    c: DisplayChannelClient, area: PixelArea, x0: number, y0: number, prefs: ClientCodecPrefs, shared?: Map<Codec, Uint8Array>,
  ): void {
    c.sendDraw(this.areaBody(c, area, x0, y0, prefs, shared), { left: x0, top: y0, width: area.width, height: area.height });
  }

  /** A DRAW_COPY body of `area` at (x0, y0) in `c`'s codec (shared with clients of the same codec through `shared`). */
  private areaBody(
    c: DisplayChannelClient, area: PixelArea, x0: number, y0: number, prefs: ClientCodecPrefs, shared?: Map<Codec, Uint8Array>,
  ): Uint8Array {
    let codec = this.encoder.choose(area, prefs);
    let body = shared?.get(codec);
    if (!body) {
      const image = this.encoder.encode(area, codec, this.nextImageId());
      if (image.type !== ImageType.JPEG && codec === 'jpeg') codec = 'bitmap'; // the encoder fell back
      body = encodeDrawCopy(0, x0, y0, image);
      shared?.set(codec, body);
    }
    if (codec === 'jpeg') this.jpegSent(c, { left: x0, top: y0, width: area.width, height: area.height });
    return body;
  }

  /**
   * A JPEG of `rect` is about to go to `c`: spice-html5 needs its throw-away
   * stream first, and the area is sent again losslessly once it stays still.
   */
  private jpegSent(c: DisplayChannelClient, rect: StreamRect): void {
    this.jpegDeliveries++;
    c.primeJpeg();
    c.markLossy(rect, performance.now());
    this.refreshTimer ??= setInterval(() => this.refreshLossy(), LOSSY_REFRESH_MS / 4);
  }

  /** Sends the areas clients got as JPEG again losslessly, once they stayed untouched for a while. */
  private refreshLossy(): void {
    const now = performance.now();
    let pending = false;
    for (const c of this.clients) {
      if (c.lossyRects.length === 0) continue;
      if (now - c.lossySince < LOSSY_REFRESH_MS || !this.surface) {
        pending = true;
        continue;
      }
      for (const r of c.takeLossy()) {
        this.sendAreaTo(c, this.area(r.left, r.top, r.width, r.height), r.left, r.top, { ...c.codecPrefs, lossless: true });
      }
    }
    if (!pending && this.refreshTimer) {
      clearInterval(this.refreshTimer);
      this.refreshTimer = null;
    }
  }

  /**
   * Copies the width×height area at (srcX, srcY) to (left, top) on the mirror
   * (overlap-safe, as a scroll needs) and sends COPY_BITS, which costs a few
   * bytes instead of the pixels.
   */
  copyBits(left: number, top: number, width: number, height: number, srcX: number, srcY: number): void {
    const s = this.surface;
    if (!s) throw new Error('copy-bits before a primary surface exists');
    if (
      width <= 0 || height <= 0 || left < 0 || top < 0 || srcX < 0 || srcY < 0 ||
      left + width > s.width || top + height > s.height || srcX + width > s.width || srcY + height > s.height
    ) {
      throw new Error(
        `copy-bits ${width}x${height} from (${srcX},${srcY}) to (${left},${top}) not inside the ${s.width}x${s.height} surface`,
      );
    }
    const stride = s.width * 4;
    // Rows in the order that never reads a row already overwritten.
    const down = top > srcY;
    for (let i = 0; i < height; i++) {
      const y = down ? height - 1 - i : i;
      const from = (srcY + y) * stride + srcX * 4;
      s.pixels.copyWithin((top + y) * stride + left * 4, from, from + width * 4);
    }
    this.drawablesProcessed++;
    this.copyBitsProcessed++;
    // Lossy pixels copied elsewhere are lossy there too.
    const src = { left: srcX, top: srcY, width, height };
    for (const c of this.clients) {
      if (c.lossyRects.some((r) => intersects(r, src))) c.markLossy({ left, top, width, height }, performance.now());
    }
    const body = encodeCopyBits(0, { top, left, bottom: top + height, right: left + width }, srcX, srcY);
    for (const c of this.clients) c.sendCopyBits(body, { left, top, width, height }, { x: srcX, y: srcY });
  }

  private startStream(stream: VideoStream): void {
    this.streamsStarted++;
    const r = stream.rect;
    log.info(`stream ${stream.id}: ${r.width}x${r.height} at (${r.left},${r.top}) keeps changing; sending it as MJPEG`);
    for (const c of this.clients) c.startStream(this.streamCreateBody(stream));
    this.expiryTimer ??= setInterval(() => this.expireStreams(), STREAM_SETTLE_MS / 2);
  }

  streamCreateBody(stream: VideoStream): { id: number; body: Uint8Array } {
    const r = stream.rect;
    return {
      id: stream.id,
      body: encodeStreamCreate({
        id: stream.id,
        surfaceId: 0,
        codec: VideoCodec.MJPEG,
        width: r.width,
        height: r.height,
        dest: { top: r.top, left: r.left, bottom: r.top + r.height, right: r.left + r.width },
      }),
    };
  }

  /** Sends a frame of every stream updated since the last call; the RedWorker calls it after each batch of drawables. */
  flushStreams(): void {
    for (const stream of this.dirtyStreams) {
      if (this.streams.streams.has(stream.id)) this.encodeStreamFrame(stream);
    }
    this.dirtyStreams.clear();
  }

  /** Encodes the stream area's current pixels (synchronously, in WASM) and sends the frame. */
  private encodeStreamFrame(stream: VideoStream): void {
    if (!this.streamJpeg || !this.surface) return;
    const r = stream.rect;
    const area = this.area(r.left, r.top, r.width, r.height);
    let jpeg: Uint8Array;
    try {
      jpeg = this.streamJpeg(area.addr!, area.stride, r.width, r.height);
    } catch (e) {
      log.warn(`stream ${stream.id}: JPEG encoding failed (${(e as Error).message}); ending it`);
      this.streams.streams.delete(stream.id);
      this.endStreams([stream], true);
      return;
    }
    stream.frames++;
    this.streamFramesSent++;
    const body = encodeStreamData(stream.id, mediaTime(this.mediaClockEpoch), jpeg);
    for (const c of this.clients) c.sendStreamData(stream.id, body, r);
  }

  private expireStreams(): void {
    const now = performance.now();
    this.endStreams(this.streams.expire(now), true);
    // A stream that just went still gets its last picture once more, freshly stamped: spice-gtk
    // drops frames that reach it late, and the last one would otherwise wait for the stream's end.
    for (const s of this.streams.streams.values()) {
      if (!s.settledSent && now - s.lastUpdate >= STREAM_SETTLE_MS) {
        s.settledSent = true;
        this.encodeStreamFrame(s);
      }
    }
    if (this.streams.streams.size === 0 && this.expiryTimer) {
      clearInterval(this.expiryTimer);
      this.expiryTimer = null;
    }
  }

  /** STREAM_DESTROY to the clients that have them; with `redraw`, the areas again losslessly. */
  private endStreams(ended: VideoStream[], redraw: boolean): void {
    for (const s of ended) {
      for (const c of this.clients) c.endStream(s.id);
      log.info(`stream ${s.id} ended after ${s.frames} frames`);
      if (redraw && this.surface) this.sendArea(this.area(s.rect.left, s.rect.top, s.rect.width, s.rect.height), s.rect.left, s.rect.top);
    }
  }

  /** An area of the primary surface, for the encoder. */
  area(left: number, top: number, width: number, height: number): PixelArea {
    const s = this.surface!;
    const stride = s.width * 4;
    const offset = top * stride + left * 4;
    return {
      addr: this.surfaceAddr === null ? null : this.surfaceAddr + offset,
      stride,
      bytes: s.pixels,
      offset,
      width,
      height,
    };
  }

  /**
   * A DRAW_COPY body of `rect` (clipped to the surface) as it is now, for one
   * client (new clients, collapsed backlogs); null when nothing is left. A
   * JPEG one marks the area lossy. Clients that ask for the same area while
   * the surface is unchanged share one encoding per codec: a class of
   * viewers joining or catching up together costs one encode, not one each.
   */
  redraw(client: DisplayChannelClient, rect: StreamRect): Uint8Array | null {
    const s = this.surface;
    if (!s) return null;
    const left = Math.max(0, rect.left);
    const top = Math.max(0, rect.top);
    const width = Math.min(s.width, rect.left + rect.width) - left;
    const height = Math.min(s.height, rect.top + rect.height) - top;
    if (width <= 0 || height <= 0) return null;
    let cache = this.redrawCache;
    if (!cache || cache.surface !== s || cache.version !== this.drawablesProcessed) {
      cache = this.redrawCache = { surface: s, version: this.drawablesProcessed, byArea: new Map() };
    }
    const key = `${left},${top},${width},${height}`;
    let shared = cache.byArea.get(key);
    if (!shared) {
      // Only the latest few areas: clients catching up together ask for the same ones.
      if (cache.byArea.size >= 16) cache.byArea.clear();
      cache.byArea.set(key, (shared = new Map()));
    }
    return this.areaBody(client, this.area(left, top, width, height), left, top, client.codecPrefs, shared);
  }

  /** The latest redraw encodings by area, then codec, valid while the surface and its drawable count stay as they were. */
  private redrawCache: { surface: PrimarySurface; version: number; byArea: Map<string, Map<Codec, Uint8Array>> } | null = null;
}

/** Messages that paint pixels: a full redraw makes queued ones redundant. */
function isDraw(type: number): boolean {
  return type === MsgDisplay.DRAW_COPY || type === MsgDisplay.COPY_BITS || type === MsgDisplay.STREAM_DATA;
}

/**
 * Stale pixels after a copy: the copy moves the stale part of its source to
 * its destination, so those become stale too (the rest stays as it was).
 */
function copiedStale(stale: StreamRect, copy: { area: StreamRect; from?: { x: number; y: number } }): StreamRect {
  if (!copy.from) return unionRect(stale, copy.area);
  const src = { left: copy.from.x, top: copy.from.y, width: copy.area.width, height: copy.area.height };
  const left = Math.max(stale.left, src.left);
  const top = Math.max(stale.top, src.top);
  const right = Math.min(stale.left + stale.width, src.left + src.width);
  const bottom = Math.min(stale.top + stale.height, src.top + src.height);
  if (right <= left || bottom <= top) return stale;
  const dx = copy.area.left - src.left;
  const dy = copy.area.top - src.top;
  return unionRect(stale, { left: left + dx, top: top + dy, width: right - left, height: bottom - top });
}

/** The bounding box of two rectangles. */
function unionRect(a: StreamRect, b: StreamRect): StreamRect {
  const left = Math.min(a.left, b.left);
  const top = Math.min(a.top, b.top);
  return { left, top, width: Math.max(a.left + a.width, b.left + b.width) - left, height: Math.max(a.top + a.height, b.top + b.height) - top };
}

function intersects(a: StreamRect, b: StreamRect): boolean {
  return a.left < b.left + b.width && b.left < a.left + a.width && a.top < b.top + b.height && b.top < a.top + a.height;
}

/** Display channel caps (spice-protocol enums.h). */
export const DisplayCap = { LZ4_COMPRESSION: 5, PREF_COMPRESSION: 6 } as const;

/** PREFERRED_COMPRESSION values (SpiceImageCompression) mapped to our modes. */
const PREFERRED: Record<number, ImageCompression> = { 1: 'off', 2: 'auto', 3: 'auto', 4: 'quic', 5: 'lz', 6: 'lz', 7: 'lz4' };

/**
 * What a queued display message paints: its area, and for COPY_BITS where
 * the pixels come from; the pending redraw is marked, so copies can go
 * ahead of it.
 */
interface Paint {
  area: StreamRect;
  from?: { x: number; y: number };
  redraw?: true;
}

/** Draws are queued with the area they paint, so a collapsed backlog redraws only that. */
export class DisplayChannelClient extends RedChannelClient<Paint> {
  private readonly lz4: boolean;
  private preferred: ImageCompression | undefined;
  /** Areas this client has as JPEG, to be sent again losslessly; since when the newest is there. */
  lossyRects: StreamRect[] = [];
  lossySince = 0;
  private jpegPrimed = false;

  constructor(
    stream: ByteStream,
    opts: RedChannelClientOptions,
    private readonly channel: DisplayChannel,
  ) {
    super(stream, { ...opts, ackWindow: DISPLAY_ACK_WINDOW, maxMessageSize: 64 * 1024 });
    this.lz4 = hasCap(opts.channelCaps, DisplayCap.LZ4_COMPRESSION);
  }

  /** What this client decodes, asked for, and how fast it reads now. */
  get codecPrefs(): ClientCodecPrefs {
    return { lz4: this.lz4, preferred: this.preferred, lowBandwidth: this.bandwidth.isLow() };
  }

  /**
   * spice-html5 draws JPEG images only once its display channel has seen a
   * stream: before the first one, create and destroy a throw-away stream.
   */
  primeJpeg(): void {
    if (this.jpegPrimed) return;
    this.jpegPrimed = true;
    this.send(MsgDisplay.STREAM_CREATE, encodeStreamCreate({
      id: JPEG_PRIMER_STREAM_ID, surfaceId: 0, codec: VideoCodec.MJPEG, width: 1, height: 1,
      dest: { top: 0, left: 0, bottom: 1, right: 1 },
    }));
    this.send(MsgDisplay.STREAM_DESTROY, encodeStreamDestroy(JPEG_PRIMER_STREAM_ID));
  }

  markLossy(r: StreamRect, now: number): void {
    this.lossySince = now;
    this.lossyRects.push(r);
    if (this.lossyRects.length > MAX_LOSSY_RECTS) {
      const all = this.lossyRects;
      const left = Math.min(...all.map((a) => a.left));
      const top = Math.min(...all.map((a) => a.top));
      const right = Math.max(...all.map((a) => a.left + a.width));
      const bottom = Math.max(...all.map((a) => a.top + a.height));
      this.lossyRects = [{ left, top, width: right - left, height: bottom - top }];
    }
  }

  takeLossy(): StreamRect[] {
    const r = this.lossyRects;
    this.lossyRects = [];
    return r;
  }

  protected onStart(): void {
    // Neither client needs us to wait for DISPLAY_INIT.
    if (this.channel.primary) this.sendPrimary();
  }

  /** SURFACE_CREATE, one draw holding the whole picture (spicy-screenshot saves it), MARK. */
  sendPrimary(): void {
    const s = this.channel.primary;
    if (!s) return;
    this.send(
      MsgDisplay.SURFACE_CREATE,
      encodeSurfaceCreate({ surfaceId: 0, width: s.width, height: s.height, format: SurfaceFormat.XRGB32, flags: SurfaceFlags.PRIMARY }),
    );
    this.queueRedraw({ left: 0, top: 0, width: s.width, height: s.height });
    this.send(MsgDisplay.MARK, new Uint8Array(0));
    // Streams already running continue for this client too.
    for (const stream of this.channel.streams.streams.values()) this.startStream(this.channel.streamCreateBody(stream));
  }

  sendSurfaceDestroy(): void {
    // Draws still queued (a pending redraw too) were for the surface that goes.
    this.dropQueued(isDraw);
    this.pendingRedraw = null;
    this.queuedCopies = 0;
    this.send(MsgDisplay.SURFACE_DESTROY, encodeSurfaceDestroy(0));
  }

  /** A DRAW_COPY painting `rect`; while a redraw is pending it joins that instead. */
  sendDraw(body: Uint8Array, rect: StreamRect): void {
    if (!this.joinRedraw(rect)) this.send(MsgDisplay.DRAW_COPY, body, { area: rect });
  }

  /**
   * A COPY_BITS onto `dest` from `from`. While a redraw is pending it goes
   * ahead of it (a scroll stays a few bytes), and the redraw widens by where
   * the copy moves stale pixels to; past MAX_QUEUED_COPIES it joins the
   * redraw instead, which keeps a scroll storm's queue bounded.
   */
  sendCopyBits(body: Uint8Array, dest: StreamRect, from: { x: number; y: number }): void {
    const paint: Paint = { area: dest, from };
    if (!this.pendingRedraw) {
      this.send(MsgDisplay.COPY_BITS, body, paint);
      return;
    }
    if (this.queuedCopies < MAX_QUEUED_COPIES && this.queueBefore((m) => m?.redraw === true, MsgDisplay.COPY_BITS, body, paint)) {
      this.queuedCopies++;
      this.pendingRedraw = copiedStale(this.pendingRedraw, paint);
      return;
    }
    this.joinRedraw(dest);
  }

  /** COPY_BITS queued ahead of the pending redraw. */
  private queuedCopies = 0;

  /** Streams this client was told about (spice-html5 throws on destroying an unknown one). */
  private readonly streamIds = new Set<number>();

  startStream(create: { id: number; body: Uint8Array }): void {
    this.streamIds.add(create.id);
    this.send(MsgDisplay.STREAM_CREATE, create.body);
  }

  /** A frame of stream `id`, which covers `rect`. */
  sendStreamData(id: number, body: Uint8Array, rect: StreamRect): void {
    if (this.streamIds.has(id) && !this.joinRedraw(rect)) this.send(MsgDisplay.STREAM_DATA, body, { area: rect });
  }

  endStream(id: number): void {
    if (!this.streamIds.delete(id)) return;
    this.send(MsgDisplay.STREAM_DESTROY, encodeStreamDestroy(id));
  }

  protected override onQueueGrew(): void {
    if (this.queuedMessages <= MAX_QUEUED_DRAWS || this.pendingRedraw) return;
    // A client that falls behind gets one redraw of what its queued draws painted instead of every
    // step: memory stays bounded, and typing costs a line's redraw, not the screen's. Its first
    // COPY_BITS stay, in order (a scroll is a few bytes); the redraw then also covers where they
    // moved pixels that were stale.
    const s = this.channel.primary;
    if (!s) return;
    const whole = { left: 0, top: 0, width: s.width, height: s.height };
    let stale: StreamRect | null = null;
    let drawsDropped = 0;
    let copiesKept = 0;
    this.filterQueued((type, paint) => {
      if (!isDraw(type)) return true;
      if (type === MsgDisplay.COPY_BITS && paint?.from && copiesKept < MAX_QUEUED_COPIES) {
        copiesKept++;
        if (stale) stale = copiedStale(stale, paint);
        return true;
      }
      drawsDropped++;
      const area = paint?.area ?? whole;
      stale = stale ? unionRect(stale, area) : area;
      return false;
    });
    if (!stale) return; // nothing but copies waited: they are few, and go as they are
    const area: StreamRect = stale;
    this.log.debug(`slow client: ${drawsDropped} queued draws merged into one redraw of ${area.width}x${area.height}, ${copiesKept} copies kept`);
    this.queuedCopies = copiesKept;
    // May go out at once (and clear pendingRedraw) when the dropped draws were all that waited.
    this.queueRedraw(area);
  }

  /**
   * Queues one draw of `rect`, encoded from the surface when it goes out:
   * until then this client's new draws only widen it (it will show them).
   * Clients held back together (a busy relay link) then share one encoding
   * per area and codec when they drain, instead of each paying for its own.
   */
  private queueRedraw(rect: StreamRect): void {
    this.pendingRedraw = rect;
    this.send(
      MsgDisplay.DRAW_COPY,
      () => {
        const r = this.pendingRedraw;
        this.pendingRedraw = null;
        this.queuedCopies = 0;
        return r ? this.channel.redraw(this, r) : null;
      },
      { area: rect, redraw: true },
    );
  }

  /** Widens a pending redraw by `rect`; false when none is pending (the draw goes out itself). */
  private joinRedraw(rect: StreamRect): boolean {
    if (!this.pendingRedraw) return false;
    this.pendingRedraw = unionRect(this.pendingRedraw, rect);
    return true;
  }

  /** The area of the redraw queued and not yet made (see {@link queueRedraw}). */
  private pendingRedraw: StreamRect | null = null;

  protected handleMessage(type: number, body: Uint8Array): void {
    switch (type) {
      case MsgcDisplay.INIT:
        decodeDisplayInit(body); // validated; no image cache or GLZ dictionary is used yet
        break;
      case MsgcDisplay.PREFERRED_COMPRESSION: {
        const value = body[0];
        const mode = value === undefined ? undefined : PREFERRED[value];
        if (!mode) throw new ProtocolError(`PREFERRED_COMPRESSION: expected a value 1..7, got ${value ?? 'nothing'}`);
        this.preferred = mode;
        this.log.info(`client prefers ${mode} image compression`);
        break;
      }
      case MsgcDisplay.STREAM_REPORT:
      case MsgcDisplay.GL_DRAW_DONE:
      case MsgcDisplay.PREFERRED_VIDEO_CODEC_TYPE:
        break; // accepted; nothing uses them yet
      default:
        throw new ProtocolError(`display channel: unknown message type ${type}`);
    }
  }
}
