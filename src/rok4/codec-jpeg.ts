import sharp from 'sharp';
import { decodeJpegWasm } from './jpeg-wasm-decoder.js';
import { decodeJpegNative, encodeRgbJpegNative } from './turbojpeg.js';

/**
 * JPEG tiles (rok4.md §5.2): a complete baseline JFIF stream per tile, from RGB, 4:2:0, standard
 * Huffman tables, not progressive, no restart markers, libjpeg's accurate integer DCT: natively by
 * TurboJPEG when the system has it (turbojpeg.ts: 7× less CPU per tile), else by sharp, to the same bytes.
 */
export async function jpegEncode(pixels: Uint8Array, width: number, height: number, quality: number): Promise<Buffer> {
  if (pixels.length !== width * height * 3) throw new Error('JPEG: tiles must be 3-channel RGB');
  return encodeRgbJpegNative(pixels, width, height, quality) ?? jpegEncodeWithSharp(pixels, width, height, quality);
}

/** The same stream through sharp (libjpeg-turbo with its own optimisations switched off): the fallback. */
export async function jpegEncodeWithSharp(pixels: Uint8Array, width: number, height: number, quality: number): Promise<Buffer> {
  if (pixels.length !== width * height * 3) throw new Error('JPEG: tiles must be 3-channel RGB');
  const stream = await sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({
      quality,
      chromaSubsampling: '4:2:0',
      progressive: false,
      mozjpeg: false,
      optimiseCoding: false,
      trellisQuantisation: false,
      overshootDeringing: false,
      optimiseScans: false,
    })
    .toBuffer();
  return withJfifHeader(stream);
}

/**
 * The JFIF APP0 segment libjpeg writes by default (version 1.01, no density unit, 1:1, no thumbnail).
 * libvips leaves it out; ROK4 tiles are "complete JFIF streams" (§5.2), so it is put back.
 */
const JFIF_APP0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);

function withJfifHeader(stream: Buffer): Buffer {
  if (stream[0] !== 0xff || stream[1] !== 0xd8) throw new Error('JPEG: encoder output does not start with SOI');
  if (stream[2] === 0xff && stream[3] === 0xe0) return stream;
  return Buffer.concat([stream.subarray(0, 2), JFIF_APP0, stream.subarray(2)]);
}

/**
 * Decodes a JPEG tile to interleaved RGB: by TurboJPEG natively when the system has it (turbojpeg.ts), else
 * by libjpeg-turbo in WebAssembly (jpeg-wasm-decoder.ts, 3× less CPU than sharp on a tile), both to sharp's
 * samples; by sharp for what they leave (CMYK, a stream they refuse — sharp then names the fault).
 * `into` (exactly width × height × 3 bytes) may receive the samples.
 */
export async function jpegDecode(bytes: Uint8Array, width: number, height: number, into?: Uint8Array): Promise<Uint8Array> {
  const target = into?.length === width * height * 3 ? into : undefined;
  const fast = decodeJpegNative(bytes, target) ?? (await decodeJpegWasm(bytes, target));
  if (fast && (fast.components === 3 || fast.components === 1)) {
    if (fast.width !== width || fast.height !== height)
      throw new Error(`JPEG tile is ${fast.width}x${fast.height}, ${width}x${height} expected`);
    return fast.components === 3 ? fast.data : grayToRgb(fast.data, width * height, 1);
  }
  const { data, info } = await sharp(bytes).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height) {
    throw new Error(`JPEG tile is ${info.width}x${info.height}, ${width}x${height} expected`);
  }
  if (info.channels === 3) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return grayToRgb(data, width * height, info.channels);
}

/** A gray JPEG (never written by ROK4) still decodes to RGB. */
function grayToRgb(gray: Uint8Array, pixels: number, channels: number): Uint8Array {
  const rgb = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) rgb.fill(gray[i * channels], i * 3, i * 3 + 3);
  return rgb;
}
