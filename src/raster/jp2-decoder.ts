/**
 * OpenJPEG compiled to WebAssembly (@cornerstonejs/codec-openjpeg, its decode-only build): one module
 * instance per thread (each piscina worker loads its own on first use; a module is not shared between
 * threads), a fresh decoder object per codestream, freed after. The decoder reduces resolution levels
 * itself (`decodeSubResolution`); the region is chosen before, by cutting the tiles out of the file
 * (jp2-codestream.ts). Its messages (it prints them) are kept to explain a failure.
 */
import { createRequire } from 'node:module';

interface J2KDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decodeSubResolution(level: number, layer: number): void;
  getFrameInfo(): { width: number; height: number; componentCount: number; bitsPerSample: number; isSigned: boolean };
  delete(): void;
}

interface OpenJpegModule {
  J2KDecoder: new () => J2KDecoder;
  /** The module's memory (grows to the largest decode, never shrinks). */
  HEAPU8?: Uint8Array;
}

type Factory = (options: { print: (s: string) => void; printErr: (s: string) => void }) => Promise<OpenJpegModule>;

let instance: Promise<OpenJpegModule> | undefined;
let messages: string[] = [];

function keep(line: string): void {
  if (messages.length < 20) messages.push(line.trim());
}

/** The thread's OpenJPEG module, loaded (compiled and instantiated) on first use. */
export function openJpeg(): Promise<OpenJpegModule> {
  if (!instance) {
    const factory = createRequire(import.meta.url)('@cornerstonejs/codec-openjpeg/decodewasmjs') as Factory;
    instance = factory({ print: keep, printErr: keep });
    instance.catch(() => {
      instance = undefined;
    });
  }
  return instance;
}

/** Bytes of this thread's WebAssembly memory (0 before the module is loaded): what decoding has needed at most. */
export async function openJpegMemoryBytes(): Promise<number> {
  if (!instance) return 0;
  return (await instance).HEAPU8?.length ?? 0;
}

/** Decoded pixels: `components` samples per pixel, interleaved, 8 bits. */
export interface DecodedImage {
  data: Uint8Array;
  width: number;
  height: number;
  components: number;
}

/**
 * Decodes a codestream (starting at SOC) at `reduce` resolution levels below full (0 = full), all
 * quality layers. The expected size is checked: OpenJPEG reports failures by printing, not by throwing.
 * @throws Error with OpenJPEG's messages when the codestream does not decode.
 */
export async function decodeCodestream(
  codestream: Uint8Array,
  reduce: number,
  expected: { width: number; height: number; components: number },
): Promise<DecodedImage> {
  const module = await openJpeg();
  messages = [];
  let decoder: J2KDecoder | undefined;
  try {
    decoder = new module.J2KDecoder();
    decoder.getEncodedBuffer(codestream.length).set(codestream);
    decoder.decodeSubResolution(reduce, 0);
    const data = decoder.getDecodedBuffer();
    const bytes = expected.width * expected.height * expected.components;
    if (data.length !== bytes) {
      const why = messages.filter((m) => m).join('; ') || `${data.length} bytes decoded for ${bytes} expected`;
      throw new Error(`the JPEG 2000 codestream does not decode: ${why}`);
    }
    // A copy: the view points into the module's memory, which the next decode on this thread may reuse (the
    // decoder is deleted below) or grow (detaching the view) before the caller, resumed later, reads it.
    return { data: data.slice(), ...expected };
  } catch (err) {
    // A WebAssembly trap (out of memory, abort) leaves the module unusable: load a new one next time.
    if (err instanceof WebAssembly.RuntimeError) instance = undefined;
    throw err;
  } finally {
    try {
      decoder?.delete();
    } catch {
      instance = undefined;
    }
  }
}
