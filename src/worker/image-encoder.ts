/**
 * Picks and runs the image codec for each area a client must receive, like
 * spice-server's image compression modes: a forced codec, or `auto`, which
 * sends screen-like content (flat areas, text) as LZ and photo-like content as
 * QUIC. LZ4 goes only to clients that advertise it. Like spice-server, every
 * image is compressed except tiny ones, and those go raw only when raw is
 * smaller: some clients draw raw multi-row bitmaps upside down (they ignore
 * TOP_DOWN), so they must stay rare. A codec failure falls back to a raw
 * bitmap, which every client decodes.
 */
import { ImageType } from '../protocol/constants.ts';
import { bitmapImage, imagePayloadSize, streamImage, type SpiceImage } from '../protocol/display-messages.ts';
import { createLogger } from '../util/logger.ts';

const log = createLogger('image-encoder');

/** The `--image-compression` choices. */
export const IMAGE_COMPRESSIONS = ['off', 'lz', 'quic', 'lz4', 'auto'] as const;
export type ImageCompression = (typeof IMAGE_COMPRESSIONS)[number];

/** The `--jpeg` choices: JPEG for photo-like areas when the client's bandwidth is low, always, or never. */
export const JPEG_MODES = ['auto', 'always', 'never'] as const;
export type JpegMode = (typeof JPEG_MODES)[number];

export type Codec = 'bitmap' | 'lz' | 'quic' | 'lz4' | 'jpeg';

/** What the policy knows about one client. */
export interface ClientCodecPrefs {
  /** The client decodes LZ4. */
  lz4: boolean;
  /** The client's PREFERRED_COMPRESSION, if it sent one. */
  preferred?: ImageCompression;
  /** The client reads slower than the low-bandwidth threshold. */
  lowBandwidth?: boolean;
  /** Only lossless codecs (e.g. the refresh of an area sent as JPEG). */
  lossless?: boolean;
}

/** A codec that reads 32-bit pixels in device memory (address, row pitch) and returns its stream. */
export type StreamEncoder = (addr: number, stride: number, width: number, height: number) => Uint8Array;

export interface CodecSet {
  lz?: StreamEncoder;
  quic?: StreamEncoder;
  lz4?: StreamEncoder;
  jpeg?: StreamEncoder;
}

/** Where the pixels of an area are: in device memory (for the codecs) and as bytes (for bitmaps). */
export interface PixelArea {
  /** Device-memory address of the area's first pixel; null when the pixels are not in device memory. */
  addr: number | null;
  /** Row pitch in bytes. */
  stride: number;
  /** The surface bytes the area lies in, and the area's offset there. */
  bytes: Uint8Array;
  offset: number;
  width: number;
  height: number;
}

/** Pixel bytes below which an image may go raw (spice-server's MIN_SIZE_TO_COMPRESS): at most 13 pixels. */
export const TINY_IMAGE_BYTES = 54;
/** JPEG only for areas at least this large: smaller ones gain little and blur text-sized details. */
const MIN_JPEG_PIXELS = 32 * 32;
/** Share of pixels equal to their left neighbour above which content counts as screen-like. */
const FLAT_SHARE = 0.4;
/** A neighbour no channel of which differs by more than this continues a gradient. */
const GRADUAL_STEP = 16;

const STREAM_TYPE: Record<Exclude<Codec, 'bitmap'>, number> = {
  lz: ImageType.LZ_RGB,
  quic: ImageType.QUIC,
  lz4: ImageType.LZ4,
  jpeg: ImageType.JPEG,
};

export interface EncoderStats {
  images: number;
  bytesIn: number;
  bytesOut: number;
  byCodec: Record<Codec, number>;
  /** Raw bitmaps taller than one row: the images some clients draw upside down. */
  rawMultiRow: number;
}

export class ImageEncoder {
  compression: ImageCompression = 'auto';
  /** `--jpeg`: when photo-like areas may go out as lossy JPEG. */
  jpeg: JpegMode = 'auto';
  readonly stats: EncoderStats = { images: 0, bytesIn: 0, bytesOut: 0, byCodec: { bitmap: 0, lz: 0, quic: 0, lz4: 0, jpeg: 0 }, rawMultiRow: 0 };

  constructor(private codecs: CodecSet = {}) {}

  setCodecs(codecs: CodecSet): void {
    this.codecs = codecs;
  }

  /**
   * The codec for an area sent to a client. Forced modes win; `auto` sends
   * screen-like content as LZ and photo-like content as QUIC, or as JPEG when
   * the JPEG mode allows it for this client (always, or auto at low bandwidth).
   */
  choose(area: PixelArea, client: ClientCodecPrefs): Codec {
    // Tiny areas too: our codecs take any size, and encode() sends a tiny area raw only if that is smaller.
    const mode = client.preferred ?? this.compression;
    if (mode === 'off' || area.addr === null) return 'bitmap';
    const pick = (c: Exclude<Codec, 'bitmap'>): Codec => (this.codecs[c] ? c : 'bitmap');
    if (mode === 'lz4') return client.lz4 && this.codecs.lz4 ? 'lz4' : pick('lz');
    if (mode === 'lz') return pick(mode);
    if (mode === 'auto' && screenLike(area)) return pick('lz');
    // Photo-like (or QUIC forced): lossy when allowed and worth it.
    const jpegWanted = this.jpeg === 'always' || (this.jpeg === 'auto' && client.lowBandwidth === true);
    if (jpegWanted && !client.lossless && this.codecs.jpeg && area.width * area.height >= MIN_JPEG_PIXELS &&
        (mode === 'quic' ? !screenLike(area) : true)) {
      return 'jpeg';
    }
    return pick('quic');
  }

  /**
   * Encodes an area with a codec; a codec failure falls back to a raw bitmap,
   * and so does a tiny area whose raw form is smaller than the codec's.
   */
  encode(area: PixelArea, codec: Codec, id: number): SpiceImage {
    const raw = area.width * area.height * 4;
    let image: SpiceImage | null = null;
    if (codec !== 'bitmap' && area.addr !== null) {
      try {
        const stream = this.codecs[codec]!(area.addr, area.stride, area.width, area.height);
        image = streamImage(id, STREAM_TYPE[codec], area.width, area.height, stream);
      } catch (e) {
        log.warn(`${codec} failed for a ${area.width}x${area.height} area (${(e as Error).message}); sending a bitmap`);
      }
    }
    // Top-down rows with TOP_DOWN set, as spice-server passes on QEMU's and the Linux QXL driver's bitmaps.
    if (!image || isTiny(area)) {
      const bitmap = bitmapImage({ id, width: area.width, height: area.height, pixels: packArea(area) });
      if (!image || imagePayloadSize(bitmap) < imagePayloadSize(image)) {
        codec = 'bitmap';
        image = bitmap;
        if (area.height > 1) this.stats.rawMultiRow++;
      }
    }
    this.stats.images++;
    this.stats.bytesIn += raw;
    this.stats.bytesOut += imagePayloadSize(image);
    this.stats.byCodec[codec]++;
    return image;
  }
}

function isTiny(area: PixelArea): boolean {
  return area.width * area.height * 4 < TINY_IMAGE_BYTES;
}

/** The area's pixels as packed rows (stride = 4·width), copied out of shared memory. */
export function packArea(area: PixelArea): Uint8Array {
  const rowBytes = area.width * 4;
  const out = new Uint8Array(rowBytes * area.height);
  for (let y = 0; y < area.height; y++) {
    const from = area.offset + y * area.stride;
    out.set(area.bytes.subarray(from, from + rowBytes), y * rowBytes);
  }
  return out;
}

/**
 * Screen-like content (text, UI) repeats exactly and has sharp edges: many
 * pixels equal their left neighbour, and most others jump. Gradients and
 * photos change gradually (QUIC predicts those far better than LZ matches
 * them: 2.5x smaller on a full-screen gradient). Samples up to 16 rows.
 */
export function screenLike(area: PixelArea): boolean {
  const rows = Math.min(16, area.height);
  const words = new Uint32Array(area.bytes.buffer, area.bytes.byteOffset, area.bytes.byteLength >>> 2);
  let same = 0;
  let gradual = 0;
  let sharp = 0;
  for (let i = 0; i < rows; i++) {
    const y = Math.floor(((i + 0.5) * area.height) / rows);
    const row = (area.offset + y * area.stride) >>> 2;
    for (let x = 1; x < area.width; x++) {
      const a = words[row + x]!;
      const b = words[row + x - 1]!;
      if (((a ^ b) & 0xffffff) === 0) {
        same++;
      } else if (
        Math.abs(((a >>> 16) & 255) - ((b >>> 16) & 255)) <= GRADUAL_STEP &&
        Math.abs(((a >>> 8) & 255) - ((b >>> 8) & 255)) <= GRADUAL_STEP &&
        Math.abs((a & 255) - (b & 255)) <= GRADUAL_STEP
      ) {
        gradual++;
      } else {
        sharp++;
      }
    }
  }
  const total = same + gradual + sharp;
  return total === 0 || (same >= FLAT_SHARE * total && 2 * sharp >= gradual);
}
