/**
 * libjpeg-turbo compiled to WebAssembly (@cornerstonejs/codec-libjpeg-turbo-8bit, its decode-only build), for
 * JPEG tiles (rok4.md §5.2). Why not sharp: a 256 × 256 tile of the M pyramid costs 1.8–2.1 ms of CPU through
 * sharp (libvips' per-image pipeline dominates so small an image) and 0.6 ms here, with the same samples to
 * the byte (both are libjpeg-turbo with its default integer IDCT and fancy upsampling; checked on 100 tiles
 * and in test/rok4/jpeg-wasm-decoder.test.ts). WMS maps decode a dozen tiles each, merges every tile. Since the
 * native TurboJPEG path (turbojpeg.ts) it is the fallback for systems without that library.
 *
 * One module instance and one decoder object per thread (each piscina worker loads its own on first use),
 * used synchronously, so never by two decodes at once.
 */
import { createRequire } from 'node:module';

interface JpegDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; componentCount: number; bitsPerSample: number };
  delete(): void;
}

interface TurboModule {
  JPEGDecoder: new () => JpegDecoder;
}

type Factory = (options: { print: (s: string) => void; printErr: (s: string) => void }) => Promise<TurboModule>;

let module: Promise<TurboModule> | undefined;
let decoder: JpegDecoder | undefined;

async function threadDecoder(): Promise<JpegDecoder> {
  if (!module) {
    const factory = createRequire(import.meta.url)('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs') as Factory;
    // libjpeg's warnings are printed; a stream bad enough to matter throws, and the caller falls back.
    module = factory({ print: () => {}, printErr: () => {} });
    module.catch(() => {
      module = undefined;
    });
  }
  const m = await module;
  decoder ??= new m.JPEGDecoder();
  return decoder;
}

/** Decoded samples, interleaved, 8 bits, copied out of the module's memory. */
export interface DecodedJpeg {
  data: Uint8Array;
  width: number;
  height: number;
  components: number;
}

/**
 * Decodes a baseline or progressive 8-bit JPEG stream, or answers undefined when this decoder cannot (a
 * corrupt or truncated stream, 12-bit samples, a failed module load): the caller then decodes it the
 * general way, which also gives the error message. The samples are copied into `into` when it has exactly
 * their size, else into a new array.
 */
export async function decodeJpegWasm(bytes: Uint8Array, into?: Uint8Array): Promise<DecodedJpeg | undefined> {
  let d: JpegDecoder;
  try {
    d = await threadDecoder();
  } catch {
    return undefined;
  }
  try {
    d.getEncodedBuffer(bytes.length).set(bytes);
    d.decode();
    const info = d.getFrameInfo();
    if (info.bitsPerSample !== 8) return undefined;
    const out = d.getDecodedBuffer();
    if (out.length !== info.width * info.height * info.componentCount) return undefined;
    const data = into?.length === out.length ? into : new Uint8Array(out.length);
    data.set(out);
    return { data, width: info.width, height: info.height, components: info.componentCount };
  } catch (err) {
    // libjpeg's error exit surfaces as a thrown C++ exception (a number): the next decode starts from a new
    // decoder object. A trap (out of memory, abort) leaves the module itself unusable: a new one is loaded.
    decoder = undefined;
    if (err instanceof WebAssembly.RuntimeError) module = undefined;
    else
      try {
        d.delete();
      } catch {
        module = undefined;
      }
    if (err instanceof WebAssembly.RuntimeError) return undefined;
    else if (typeof err !== 'number') throw err;
    return undefined;
  }
}
