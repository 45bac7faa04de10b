/**
 * zlib-wrapped Deflate streams (TIFF Compression 8 / 32946, RFC 1950 + 1951) decoded into a caller's
 * buffer: by libdeflate, called natively through koffi, when the system has it (Debian `libdeflate0`, in
 * the Docker image), else by node:zlib.
 *
 * Why: a 256 × 256 RGB source tile inflates in 0.43 ms with libdeflate and 0.9–1.2 ms with node:zlib
 * (measured on the bench's L raster, 400 tiles), and a fine source costs ~2 source tiles per pyramid tile
 * (issue 16). libdeflate also writes straight into our buffer, where node:zlib returns a new one. The
 * samples are the same: Deflate decoding has one answer.
 *
 * `DALLAGE_LIBDEFLATE` names the library file, or `off` to use node:zlib. A libdeflate decompressor is
 * not thread-safe: each thread (each piscina worker loads this module) has its own, used synchronously.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { loadNativeLibrary } from '../native-library.js';

const zlibInflate = promisify(zlib.inflate);

/** Library names tried, in order, when `DALLAGE_LIBDEFLATE` does not name one. */
const LIBRARY_NAMES = ['libdeflate.so.0', 'libdeflate.0.dylib', 'libdeflate.dylib', 'libdeflate.dll'];

/** libdeflate_result (libdeflate.h, stable since 1.0). */
const LIBDEFLATE_SUCCESS = 0;
const LIBDEFLATE_INSUFFICIENT_SPACE = 3;

interface LibDeflate {
  decompressor: object;
  decompress(d: object, input: Uint8Array, inputBytes: number, out: Uint8Array, outBytes: number, actual: [number]): number;
}

let native: LibDeflate | null | undefined;

function load(): LibDeflate | null {
  if (native !== undefined) return native;
  native = loadNativeLibrary('DALLAGE_LIBDEFLATE', LIBRARY_NAMES, (lib) => {
    const alloc = lib.func('void *libdeflate_alloc_decompressor()');
    const decompress = lib.func(
      'int libdeflate_zlib_decompress(void *d, const uint8_t *in, size_t in_nbytes, uint8_t *out, size_t out_nbytes_avail, _Out_ size_t *actual_out_nbytes)',
    );
    const decompressor = alloc() as object | null;
    return decompressor ? { decompressor, decompress: decompress as LibDeflate['decompress'] } : null;
  });
  return native;
}

/** True when libdeflate is loaded on this thread (tests say which path a stream takes). */
export function libdeflateAvailable(): boolean {
  return load() !== null;
}

/**
 * Inflates the zlib stream `stored` into `out` with libdeflate, synchronously; answers the number of
 * bytes written, or undefined when libdeflate is not loaded (then {@link inflateAsync}). A corrupt stream
 * throws. A stream that decodes to more than `out` holds fills `out` and its tail is ignored, as libtiff
 * (so libvips and GDAL) reads such a block; libdeflate cannot stop there, so node:zlib decodes that rare one.
 */
export function inflateIntoSync(stored: Uint8Array, out: Uint8Array): number | undefined {
  const lib = load();
  if (!lib) return undefined;
  const actual: [number] = [0];
  const result = lib.decompress(lib.decompressor, stored, stored.length, out, out.length, actual);
  // With `actual` given, a stream shorter than `out` is a success; the caller checks the length.
  if (result === LIBDEFLATE_SUCCESS) return Number(actual[0]);
  if (result !== LIBDEFLATE_INSUFFICIENT_SPACE) throw new Error('corrupt Deflate stream');
  const raw = zlib.inflateSync(stored);
  out.set(raw.subarray(0, out.length));
  return out.length;
}

/** Inflates the zlib stream `stored` (expected to hold `length` bytes) with node:zlib, on libuv's threadpool. */
export function inflateAsync(stored: Uint8Array, length: number): Promise<Uint8Array> {
  // A longer stream comes back longer: the caller takes the block's first `length` bytes, as libtiff does.
  // One output chunk of the expected size: node:zlib otherwise gathers 16 KiB chunks and concatenates them.
  return zlibInflate(stored, { chunkSize: Math.max(64, length + 1) });
}
