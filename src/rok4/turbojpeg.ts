/**
 * libjpeg-turbo's TurboJPEG library called natively through koffi (a maintained FFI with prebuilt binaries),
 * for JPEG tiles (rok4.md §5.2) and the tiles WMS maps and merges decode.
 *
 * Why: a 256 × 256 tile costs 1.2 ms of CPU to encode through sharp (libvips' per-image pipeline and its
 * thread hop dominate so small an image) and 0.18 ms here, called synchronously on the thread that made the
 * tile; decoding one costs 0.6 ms in WebAssembly (jpeg-wasm-decoder.ts) and less here. The bytes are the
 * same: TurboJPEG is asked for the accurate integer DCT (`TJFLAG_ACCURATEDCT`: without it, TurboJPEG
 * compresses with the fast DCT, which lost 0.07 dB on the bench's bottom level), so a tile's stream equals
 * sharp's to the byte, JFIF header included (test/rok4/turbojpeg.test.ts); decoding uses the accurate IDCT
 * and fancy upsampling, as sharp and GDAL do.
 *
 * The library is the system's (Debian `libturbojpeg0`, in the Docker image; Homebrew `jpeg-turbo`), or the
 * file named by `DALLAGE_TURBOJPEG` (`off` disables it). Without it, encodes go through sharp and decodes
 * through WebAssembly: the same bytes, more CPU.
 *
 * TurboJPEG handles are not thread-safe: every thread (each piscina worker loads this module on its own)
 * has its own, used synchronously, so never by two calls at once.
 */
import { loadNativeLibrary } from '../native-library.js';
import type { DecodedJpeg } from './jpeg-wasm-decoder.js';

/** TurboJPEG constants (turbojpeg.h, stable since 1.2). */
const TJPF_RGB = 0;
const TJPF_GRAY = 6;
const TJSAMP_420 = 2;
const TJCS_GRAY = 2;
const TJCS_CMYK = 3;
const TJCS_YCCK = 4;
const TJFLAG_NOREALLOC = 1024;
const TJFLAG_ACCURATEDCT = 4096;

type Pointer = object;

interface TurboJpeg {
  compress: Pointer;
  decompress: Pointer;
  /** Output buffer of the compressor (allocated by TurboJPEG), and its capacity. */
  out: Pointer | null;
  outCapacity: number;
  tjBufSize(width: number, height: number, subsampling: number): number;
  tjAlloc(bytes: number): Pointer;
  tjFree(buffer: Pointer): void;
  tjCompress2(
    handle: Pointer,
    src: Uint8Array,
    width: number,
    pitch: number,
    height: number,
    pixelFormat: number,
    out: [Pointer | null],
    size: [number],
    subsampling: number,
    quality: number,
    flags: number,
  ): number;
  tjDecompressHeader3(
    handle: Pointer,
    src: Uint8Array,
    size: number,
    width: [number],
    height: [number],
    subsampling: [number],
    colorspace: [number],
  ): number;
  tjDecompress2(
    handle: Pointer,
    src: Uint8Array,
    size: number,
    dst: Uint8Array,
    width: number,
    pitch: number,
    height: number,
    pixelFormat: number,
    flags: number,
  ): number;
  view(pointer: Pointer, bytes: number): ArrayBuffer;
}

/** Library names tried, in order, when `DALLAGE_TURBOJPEG` does not name one. */
const LIBRARY_NAMES = ['libturbojpeg.so.0', 'libturbojpeg.0.dylib', 'libturbojpeg.dylib', 'turbojpeg.dll'];

let turbo: TurboJpeg | null | undefined;

function load(): TurboJpeg | null {
  if (turbo !== undefined) return turbo;
  turbo = loadNativeLibrary('DALLAGE_TURBOJPEG', LIBRARY_NAMES, (lib, koffi) => {
    const f = {
      tjInitCompress: lib.func('void *tjInitCompress()'),
      tjInitDecompress: lib.func('void *tjInitDecompress()'),
      tjBufSize: lib.func('unsigned long tjBufSize(int width, int height, int subsamp)'),
      tjAlloc: lib.func('void *tjAlloc(int bytes)'),
      tjFree: lib.func('void tjFree(void *buffer)'),
      tjCompress2: lib.func(
        'int tjCompress2(void *handle, const uint8_t *src, int width, int pitch, int height, int pixelFormat, ' +
          '_Inout_ void **jpegBuf, _Inout_ unsigned long *jpegSize, int subsamp, int quality, int flags)',
      ),
      tjDecompressHeader3: lib.func(
        'int tjDecompressHeader3(void *handle, const uint8_t *src, unsigned long size, _Out_ int *width, ' +
          '_Out_ int *height, _Out_ int *subsamp, _Out_ int *colorspace)',
      ),
      tjDecompress2: lib.func(
        'int tjDecompress2(void *handle, const uint8_t *src, unsigned long size, uint8_t *dst, int width, ' +
          'int pitch, int height, int pixelFormat, int flags)',
      ),
    };
    const compress = f.tjInitCompress() as Pointer | null;
    const decompress = f.tjInitDecompress() as Pointer | null;
    if (!compress || !decompress) return null;
    return {
      ...f,
      compress,
      decompress,
      out: null,
      outCapacity: 0,
      tjBufSize: (w: number, h: number, s: number) => Number(f.tjBufSize(w, h, s)),
      view: (p: Pointer, n: number) => koffi.view(p, n),
    } as TurboJpeg;
  });
  return turbo;
}

/** True when the native library is loaded on this thread (tests and logs say which path tiles take). */
export function turboJpegAvailable(): boolean {
  return load() !== null;
}

/**
 * Encodes interleaved 8-bit RGB as a baseline JFIF stream (rok4.md §5.2: APP0, 4:2:0, standard Huffman
 * tables, not progressive, no restart markers) with the accurate DCT, or answers undefined when the native
 * library is not there (the caller then encodes through sharp, to the same bytes).
 */
export function encodeRgbJpegNative(pixels: Uint8Array, width: number, height: number, quality: number): Buffer | undefined {
  const t = load();
  if (!t) return undefined;
  const needed = t.tjBufSize(width, height, TJSAMP_420);
  if (!t.out || t.outCapacity < needed) {
    if (t.out) t.tjFree(t.out);
    t.out = t.tjAlloc(needed);
    t.outCapacity = needed;
  }
  const out: [Pointer | null] = [t.out];
  const size: [number] = [t.outCapacity];
  // NOREALLOC: TurboJPEG writes into our buffer, sized by tjBufSize for the worst case.
  const flags = TJFLAG_NOREALLOC | TJFLAG_ACCURATEDCT;
  if (t.tjCompress2(t.compress, pixels, width, 0, height, TJPF_RGB, out, size, TJSAMP_420, quality, flags) !== 0)
    throw new Error('JPEG: TurboJPEG could not encode the tile');
  // The stream lies in the thread's output buffer: the tile keeps its own copy (a few kB).
  return Buffer.from(t.view(out[0]!, Number(size[0])).slice(0));
}

/**
 * Decodes an 8-bit JPEG stream to RGB (or gray, for a gray stream), or answers undefined when this decoder
 * does not take it (no native library, CMYK, a stream TurboJPEG refuses): the caller then decodes it the
 * other ways, which also name the fault. The samples go into `into` when it has exactly their size.
 * A stream that decodes with a warning (a truncated tile: libjpeg's "premature end of data") is refused too,
 * as sharp refuses it: a damaged slab is reported, not drawn grey.
 */
export function decodeJpegNative(bytes: Uint8Array, into?: Uint8Array): DecodedJpeg | undefined {
  const t = load();
  if (!t) return undefined;
  const width: [number] = [0],
    height: [number] = [0],
    subsampling: [number] = [0],
    colorspace: [number] = [0];
  if (t.tjDecompressHeader3(t.decompress, bytes, bytes.length, width, height, subsampling, colorspace) !== 0) return undefined;
  if (colorspace[0] === TJCS_CMYK || colorspace[0] === TJCS_YCCK) return undefined;
  const components = colorspace[0] === TJCS_GRAY ? 1 : 3;
  const length = width[0] * height[0] * components;
  const data = into?.length === length ? into : new Uint8Array(length);
  const format = components === 1 ? TJPF_GRAY : TJPF_RGB;
  if (t.tjDecompress2(t.decompress, bytes, bytes.length, data, width[0], 0, height[0], format, TJFLAG_ACCURATEDCT) !== 0) return undefined;
  return { data, width: width[0], height: height[0], components };
}
