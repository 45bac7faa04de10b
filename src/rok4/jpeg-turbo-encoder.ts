/**
 * JPEG tile encoding by libjpeg-turbo's TurboJPEG API, natively (npm `@julusian/jpeg-turbo`, prebuilt for
 * the usual platforms), chosen with the environment variable `DALLAGE_JPEG_DCT=fast`. Why it exists: a
 * 256 × 256 tile costs 1.2–1.5 ms of CPU through sharp (libvips' per-image pipeline and its thread hop
 * dominate so small an image) and 0.17 ms here, called synchronously on the thread that made the tile.
 *
 * Why it is not the default: the binding always asks for libjpeg's fast integer DCT (TurboJPEG's own
 * long-standing choice below quality 96). On the M bench raster's tiles that costs 0.05 dB at quality 90
 * and 0.01 dB at 75 (0.7 % more bytes), and the bench's bottom level against `gdalwarp -r cubic` fell from
 * 38.71 to 38.64 dB — issue 16 asks for no loss there. So the default stays the accurate DCT (sharp), and
 * qualities above 95 always do (the fast DCT's error grows there: 0.15 dB at 95). The stream is the same
 * baseline JFIF either way (rok4.md §5.2: APP0, 4:2:0, standard Huffman tables, not progressive, no
 * restart markers).
 */
import { createRequire } from 'node:module';

interface TurboBinding {
  FORMAT_RGB: number;
  SAMP_420: number;
  bufferSize(options: { width: number; height: number; subsampling: number }): number;
  compressSync(
    raw: Buffer,
    out: Buffer,
    options: { format: number; width: number; height: number; subsampling: number; quality: number },
  ): Buffer;
}

/** Highest quality given to the fast DCT (TurboJPEG's historical threshold: accurate DCT from 96 up). */
const FAST_DCT_MAX_QUALITY = 95;

let binding: TurboBinding | null | undefined;
/** One output buffer per thread, grown to the largest tile asked; results are copied out of it. */
let out: Buffer = Buffer.alloc(0);

function loadBinding(): TurboBinding | null {
  if (binding !== undefined) return binding;
  if (process.env.DALLAGE_JPEG_DCT !== 'fast') return (binding = null);
  try {
    binding = createRequire(import.meta.url)('@julusian/jpeg-turbo') as TurboBinding;
  } catch {
    // No prebuilt binary for this platform (and none compiled at install): the caller's encoder is used.
    binding = null;
  }
  return binding;
}

/**
 * Encodes interleaved 8-bit RGB as a baseline JFIF stream, 4:2:0, or answers undefined when this encoder
 * does not take the job (`DALLAGE_JPEG_DCT` is not `fast`, quality above {@link FAST_DCT_MAX_QUALITY}, or no
 * binding for this platform): the caller then encodes it with sharp.
 */
export function encodeJpegTurbo(pixels: Uint8Array, width: number, height: number, quality: number): Buffer | undefined {
  if (quality > FAST_DCT_MAX_QUALITY) return undefined;
  const turbo = loadBinding();
  if (!turbo) return undefined;
  const size = turbo.bufferSize({ width, height, subsampling: turbo.SAMP_420 });
  if (out.length < size) out = Buffer.alloc(size);
  const raw = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  const stream = turbo.compressSync(raw, out, { format: turbo.FORMAT_RGB, width, height, subsampling: turbo.SAMP_420, quality });
  // The stream is a view of the shared output buffer: the tile keeps its own copy (a few kB).
  return Buffer.from(stream);
}
