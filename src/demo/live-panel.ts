/**
 * The "What clients see" panel: a preview of the served screen and the live
 * numbers (clients, updates, bandwidth, codec mix, video streams), refreshed
 * once a second from SessionHost.stats().
 */
import type { SessionHost, SessionHostStats } from '../host/session-host.ts';
import { createLogger } from '../util/logger.ts';
import { $ } from './dom.ts';
import { formatBytes, formatRate, LiveStatsTracker, type LiveSummary } from './live-stats.ts';

const log = createLogger('demo');

const CODEC_NAMES: Record<string, string> = { lz: 'LZ', quic: 'QUIC', lz4: 'LZ4', jpeg: 'JPEG', bitmap: 'raw' };

export class LivePanel {
  private readonly tracker = new LiveStatsTracker();
  private busy = false;
  /** drawablesProcessed when the preview was last drawn (-1: never). */
  private previewAt = -1;
  private image: ImageData | null = null;

  /** `preview: false` leaves the picture out (benchmark workloads, where the copy would cost the measurement). */
  constructor(
    private readonly host: SessionHost,
    private readonly opts: { preview: boolean },
  ) {
    if (!opts.preview) $('preview-note').textContent = 'preview off while a benchmark workload runs';
  }

  start(): void {
    void this.tick();
    setInterval(() => void this.tick(), 1000);
    // Connects and disconnects show at once, not at the next tick.
    const clients = (): void => {
      $('clients').textContent = String(this.host.server.stats().clients);
    };
    this.host.server.onClientConnected(clients);
    this.host.server.onClientDisconnected(clients);
  }

  private async tick(): Promise<void> {
    if (this.busy) return; // a slow worker answer must not pile up requests
    this.busy = true;
    try {
      const s = await this.host.stats();
      this.render(this.tracker.update(s, performance.now()), s);
      if (this.opts.preview && !document.hidden && s.worker.drawablesProcessed !== this.previewAt) {
        await this.drawPreview(s.worker.drawablesProcessed);
      }
    } catch (e) {
      log.warn(`status refresh failed: ${(e as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  private render(l: LiveSummary, s: SessionHostStats): void {
    $('clients').textContent = String(l.clients);
    $('updates').textContent = l.updatesPerSecond.toFixed(l.updatesPerSecond < 10 && l.updatesPerSecond % 1 ? 1 : 0);
    $('bandwidth').textContent = formatRate(l.bytesPerSecond);
    $('bytes-total').textContent = formatBytes(l.bytesTotal);
    $('streams').textContent = l.streamsActive
      ? `${l.streamsActive} (${Math.round(l.streamFramesPerSecond)} fps)`
      : '0';
    const p = s.worker.primary;
    if (s.vm && !s.vm.width) $('frame').textContent = 'the VM is starting…';
    else if (s.vm) $('frame').textContent = `${s.vm.mode} mode, ${s.vm.width}×${s.vm.height}`;
    else {
      const size = p ? `${p.width}×${p.height}` : '—';
      $('frame').textContent = this.host.pattern ? `${size}, frame ${s.frame}` : size;
    }
    this.renderCodecs(l);
  }

  private renderCodecs(l: LiveSummary): void {
    $('codec-window').textContent =
      l.codecWindow === 'recent' ? 'last 5 s' : l.codecWindow === 'total' ? 'since the page started' : '';
    const bar = $('codec-bar');
    const legend = $('codec-legend');
    if (!l.codecs.length) {
      bar.replaceChildren();
      legend.replaceChildren(Object.assign(document.createElement('li'), { textContent: 'no images sent yet' }));
      return;
    }
    bar.replaceChildren(
      ...l.codecs.map((c) => {
        const seg = document.createElement('span');
        seg.className = `codec-${c.codec}`;
        seg.style.width = `${c.percent}%`;
        return seg;
      }),
    );
    legend.replaceChildren(
      ...l.codecs.map((c) => {
        const li = document.createElement('li');
        li.className = `codec-${c.codec}`;
        li.textContent = `${CODEC_NAMES[c.codec]} ${c.percent < 1 ? '<1' : Math.round(c.percent)}%`;
        li.title = `${c.images} images`;
        return li;
      }),
    );
  }

  /** Copies the RedWorker's surface (what a new client would get) into the preview canvas. */
  private async drawPreview(drawables: number): Promise<void> {
    const snap = await this.host.worker.snapshot();
    if (!snap) return;
    const canvas = $<HTMLCanvasElement>('preview');
    if (canvas.width !== snap.width || canvas.height !== snap.height || !this.image) {
      canvas.width = snap.width;
      canvas.height = snap.height;
      this.image = new ImageData(snap.width, snap.height);
    }
    // B,G,R,x rows → R,G,B,A.
    const src = snap.pixels;
    const dst = this.image.data;
    for (let i = 0; i < dst.length; i += 4) {
      dst[i] = src[i + 2]!;
      dst[i + 1] = src[i + 1]!;
      dst[i + 2] = src[i]!;
      dst[i + 3] = 255;
    }
    canvas.getContext('2d')!.putImageData(this.image, 0, 0);
    $('preview-note').hidden = true;
    this.previewAt = drawables;
  }
}
