/**
 * RedWorker: the Web Worker that runs one QXL device's display and cursor
 * channels (spice-server red-worker.cpp). It consumes the device's command and
 * cursor rings, keeps the primary surface, writes display traffic to its client
 * connections directly (its own relay sockets), and returns resources through
 * the release ring. The main thread drives it through the worker dispatcher.
 */
import * as Comlink from 'comlink';
import { ChannelType, channelTypeName } from '../protocol/constants.ts';
import type { ChannelConnectRequest, MainDispatcherApi, RedWorkerApi, RedWorkerStats } from '../server/dispatcher.ts';
import { RelayMux } from '../transport/relay-mux.ts';
import { createLogger } from '../util/logger.ts';
import { LzEncoder } from '../codecs/lz.ts';
import { QuicEncoder } from '../codecs/quic.ts';
import { Lz4Encoder } from '../codecs/lz4.ts';
import { JpegEncoder } from '../codecs/jpeg.ts';
import { QxlDevice } from '../qxl/qxl-device.ts';
import { QxlConsumer } from '../qxl/qxl-consumer.ts';
import { QxlCmdType, QxlCursorCmdType, Region } from '../qxl/qxl-layout.ts';
import { CursorChannel, CursorChannelClient } from './cursor-channel.ts';
import { DisplayChannel, DisplayChannelClient } from './display-channel.ts';
import { packCopyImage } from './drawable-image.ts';
import { IMAGE_COMPRESSIONS, JPEG_MODES, type ImageCompression, type JpegMode } from './image-encoder.ts';
import { STREAMING_MODES, type StreamingMode } from './video-stream.ts';
import { joined, WorkerSessions } from '../server/worker-sessions.ts';

const log = createLogger('red-worker');
/** JPEG quality of video stream frames (spice-server's MJPEG encoder starts at 70–85 and adapts). */
const STREAM_JPEG_QUALITY = 80;

export class RedWorker implements RedWorkerApi {
  readonly display = new DisplayChannel();
  readonly cursor = new CursorChannel();
  private consumer: QxlConsumer | null = null;
  private running = false;
  private readonly sessions = new WorkerSessions();

  async init(memory: WebAssembly.Memory, main: MainDispatcherApi, mediaClockEpoch: number): Promise<void> {
    this.display.mediaClockEpoch = mediaClockEpoch;
    const device = await QxlDevice.attach(memory);
    this.consumer = new QxlConsumer(device);
    this.display.surfaceMemory = device.bytes.subarray(Region.SURFACE, Region.SURFACE + Region.SURFACE_SIZE);
    this.display.surfaceAddr = Region.SURFACE;
    // The codecs read the surface in place (device memory) and share the encoder regions: one worker, one at a time.
    const lz = new LzEncoder(device);
    const quic = new QuicEncoder(device);
    const lz4 = new Lz4Encoder(device);
    const jpeg = new JpegEncoder(device);
    this.display.encoder.setCodecs({
      lz: (addr, stride, w, h) => lz.encode(addr, stride, w, h),
      quic: (addr, stride, w, h) => quic.encode(addr, stride, w, h),
      lz4: (addr, stride, w, h) => lz4.encode(addr, stride, w, h),
      jpeg: (addr, stride, w, h) => jpeg.encode(addr, stride, w, h),
    });
    // Video stream frames too: synchronous, so a frame always shows the latest content and never waits.
    const streamJpeg = new JpegEncoder(device, STREAM_JPEG_QUALITY);
    this.display.streamJpeg = (addr, stride, w, h) => streamJpeg.encode(addr, stride, w, h);
    this.sessions.main = main;
    this.running = true;
    void this.loop();
    log.info('RedWorker started');
  }

  private async loop(): Promise<void> {
    const consumer = this.consumer!;
    while (this.running) {
      this.processRings(consumer);
      await consumer.waitForWork();
    }
  }

  /** Drains both rings; a malformed command is logged and released, never fatal. */
  processRings(consumer: QxlConsumer): void {
    for (let cmd = consumer.nextCommand(); cmd; cmd = consumer.nextCommand()) {
      if (cmd.type !== QxlCmdType.DRAW) {
        log.warn(`command type ${cmd.type} at 0x${cmd.addr.toString(16)} not supported; skipped`);
        continue;
      }
      let releaseId: number | null = null;
      try {
        const d = consumer.readDrawable(cmd.addr);
        releaseId = d.releaseId;
        if (d.copyBits) {
          const b = d.bbox;
          this.display.copyBits(b.left, b.top, b.right - b.left, b.bottom - b.top, d.copyBits.srcX, d.copyBits.srcY);
        } else if (d.copy) {
          const img = packCopyImage(d.copy);
          this.display.drawCopy(d.bbox.left, d.bbox.top, img.width, img.height, img.pixels);
        } else throw new Error(`drawable type ${d.type} not supported (expected COPY or COPY_BITS)`);
      } catch (e) {
        log.warn(`bad drawable at 0x${cmd.addr.toString(16)}: ${(e as Error).message}`);
      } finally {
        // With the address, releases chain through QXLReleaseInfo.next as in QXL.
        if (releaseId !== null) consumer.release(releaseId, cmd.addr);
      }
    }
    this.display.flushStreams();
    for (let cmd = consumer.nextCursorCommand(); cmd; cmd = consumer.nextCursorCommand()) {
      let releaseId: number | null = null;
      try {
        const c = consumer.readCursorCommand(cmd.addr);
        releaseId = c.releaseId;
        if (c.type === QxlCursorCmdType.SET && c.shape) {
          const s = c.shape;
          this.cursor.set(c.position.x, c.position.y, c.visible, {
            unique: this.cursor.commandsProcessed + 1,
            type: s.type,
            width: s.width,
            height: s.height,
            hotX: s.hotX,
            hotY: s.hotY,
            data: s.data.slice(),
          });
        } else if (c.type === QxlCursorCmdType.MOVE) this.cursor.move(c.position.x, c.position.y);
        else if (c.type === QxlCursorCmdType.HIDE) this.cursor.hide();
      } catch (e) {
        log.warn(`bad cursor command at 0x${cmd.addr.toString(16)}: ${(e as Error).message}`);
      } finally {
        if (releaseId !== null) consumer.release(releaseId, cmd.addr);
      }
    }
  }

  async createPrimary(width: number, height: number): Promise<void> {
    if (this.consumer) this.processRings(this.consumer); // draws queued for the old surface go first
    this.display.createPrimary(width, height);
    log.info(`primary surface ${width}x${height}`);
  }

  async setImageCompression(mode: ImageCompression): Promise<void> {
    if (!(IMAGE_COMPRESSIONS as readonly string[]).includes(mode)) {
      throw new Error(`image compression: expected one of ${IMAGE_COMPRESSIONS.join(', ')}, got "${mode}"`);
    }
    this.display.encoder.compression = mode;
    log.info(`image compression ${mode}`);
  }

  async setJpeg(mode: JpegMode): Promise<void> {
    if (!(JPEG_MODES as readonly string[]).includes(mode)) {
      throw new Error(`jpeg: expected one of ${JPEG_MODES.join(', ')}, got "${mode}"`);
    }
    this.display.encoder.jpeg = mode;
    log.info(`JPEG for photo-like areas: ${mode}`);
  }

  async setStreaming(mode: StreamingMode): Promise<void> {
    if (!(STREAMING_MODES as readonly string[]).includes(mode)) {
      throw new Error(`streaming: expected one of ${STREAMING_MODES.join(', ')}, got "${mode}"`);
    }
    this.display.streams.mode = mode;
    log.info(`video streaming ${mode}`);
  }

  async destroyPrimary(): Promise<void> {
    this.display.destroyPrimary();
  }

  /** ClientCbs.connect: attach to the client connection and start the channel. */
  async connectChannel(req: ChannelConnectRequest): Promise<void> {
    await this.sessions.connect(req, (stream, opts) => {
      if (req.channelType === ChannelType.DISPLAY) return joined(this.display.clients, new DisplayChannelClient(stream, opts, this.display));
      if (req.channelType === ChannelType.CURSOR) return joined(this.cursor.clients, new CursorChannelClient(stream, opts, this.cursor));
      throw new Error(`RedWorker runs display and cursor channels, not ${channelTypeName(req.channelType)}`);
    });
  }

  /** ClientCbs.disconnect: returns once every channel of the session is gone. */
  async disconnectClient(sessionId: number): Promise<void> {
    this.sessions.disconnect(sessionId);
  }

  async stats(): Promise<RedWorkerStats> {
    const p = this.display.primary;
    return {
      displayClients: this.display.clients.size,
      cursorClients: this.cursor.clients.size,
      sessions: this.sessions.size,
      primary: p ? { width: p.width, height: p.height } : null,
      drawablesProcessed: this.display.drawablesProcessed,
      copyBitsProcessed: this.display.copyBitsProcessed,
      images: { ...this.display.encoder.stats, byCodec: { ...this.display.encoder.stats.byCodec } },
      jpegDeliveries: this.display.jpegDeliveries,
      streams: {
        active: this.display.streams.streams.size,
        started: this.display.streamsStarted,
        framesSent: this.display.streamFramesSent,
      },
      displayBacklog: [...this.display.clients].map((c) => ({
        sessionId: c.sessionId,
        queued: c.queuedMessages,
        buffered: c.transportBuffered,
        sent: c.messagesSent,
        bytes: c.bytesSent,
        bandwidthBps: c.bandwidth.bitsPerSecond,
        lossyRects: c.lossyRects.length,
      })),
      cursorCommandsProcessed: this.cursor.commandsProcessed,
      muxes: RelayMux.stats(),
    };
  }

  async snapshot(): Promise<{ width: number; height: number; pixels: Uint8Array } | null> {
    const p = this.display.primary;
    return p ? { width: p.width, height: p.height, pixels: p.pixels.slice() } : null;
  }

  async shutdown(): Promise<void> {
    this.running = false;
    for (const id of this.sessions.sessionIds()) await this.disconnectClient(id);
  }
}

// Only expose when running as a worker (this module is also imported by tests).
const scope = globalThis as { WorkerGlobalScope?: unknown };
if (typeof scope.WorkerGlobalScope !== 'undefined') Comlink.expose(new RedWorker());
