import zlib from 'node:zlib';

/**
 * ROK4 PNG tiles (rok4.md §5.2): each tile is a complete PNG file. The encoder writes what ROK4
 * writes (IHDR, one IDAT = zlib level 5 of rows prefixed by filter 0, IEND); the decoder accepts any
 * 8-bit non-interlaced gray / gray+alpha / RGB / RGBA / palette PNG, every filter type.
 */

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** zlib level ROK4 uses for PNG tiles (§5.2, verified on ROK4 slabs). */
export const PNG_ZLIB_LEVEL = 5;

const COLOUR_TYPE_BY_CHANNELS = [0, 0, 4, 2, 6];
const CHANNELS_BY_COLOUR_TYPE: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** True when the bytes start with the PNG signature (how ROK4 tells PNG from deflate tiles). */
export function isPng(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  for (let i = 0; i < 8; i++) if (bytes[i] !== PNG_SIGNATURE[i]) return false;
  return true;
}

/** A PNG chunk (PNG spec §5.3): length, type, data, CRC-32 of type and data. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(zlib.crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Encodes interleaved 8-bit pixels (1..4 channels) as a PNG file, the ROK4 way. */
export function pngEncode(pixels: Uint8Array, width: number, height: number, channels: number): Buffer {
  if (channels < 1 || channels > 4) throw new Error(`PNG: ${channels} channels`);
  const rowBytes = width * channels;
  if (pixels.length !== rowBytes * height) throw new Error('PNG: pixel buffer size does not match');
  const filtered = Buffer.alloc((rowBytes + 1) * height);
  for (let y = 0; y < height; y++) {
    // Filter type 0 (None): byte already 0.
    filtered.set(pixels.subarray(y * rowBytes, (y + 1) * rowBytes), y * (rowBytes + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = COLOUR_TYPE_BY_CHANNELS[channels];
  // compression 0, filter 0, interlace 0: already zero.
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlib.deflateSync(filtered, { level: PNG_ZLIB_LEVEL })),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** A decoded PNG in its own channel count. */
export interface DecodedPng {
  width: number;
  height: number;
  channels: number;
  pixels: Uint8Array;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

/** Decodes a PNG file (8 bits, not interlaced) to interleaved pixels in its own channel count. */
export function pngDecode(bytes: Uint8Array): DecodedPng {
  if (!isPng(bytes)) throw new Error('PNG: bad signature');
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  let width = 0;
  let height = 0;
  let colourType = -1;
  let palette: Uint8Array | undefined;
  const idat: Buffer[] = [];
  while (pos + 8 <= buf.length) {
    const length = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8];
      colourType = data[9];
      if (depth !== 8) throw new Error(`PNG: bit depth ${depth} not supported`);
      if (data[12] !== 0) throw new Error('PNG: interlaced images not supported');
      if (!(colourType in CHANNELS_BY_COLOUR_TYPE)) throw new Error(`PNG: colour type ${colourType} not supported`);
    } else if (type === 'PLTE') {
      palette = data;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    pos += 12 + length;
  }
  if (colourType < 0) throw new Error('PNG: no IHDR');
  const storedChannels = CHANNELS_BY_COLOUR_TYPE[colourType];
  const bpp = storedChannels;
  const rowBytes = width * bpp;
  const raw = zlib.inflateSync(Buffer.concat(idat));
  if (raw.length < (rowBytes + 1) * height) throw new Error('PNG: truncated image data');
  const pixels = new Uint8Array(rowBytes * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (rowBytes + 1)];
    const src = y * (rowBytes + 1) + 1;
    const dst = y * rowBytes;
    const up = dst - rowBytes;
    switch (filter) {
      case 0:
        pixels.set(raw.subarray(src, src + rowBytes), dst);
        break;
      case 1:
        for (let x = 0; x < rowBytes; x++) pixels[dst + x] = (raw[src + x] + (x >= bpp ? pixels[dst + x - bpp] : 0)) & 0xff;
        break;
      case 2:
        for (let x = 0; x < rowBytes; x++) pixels[dst + x] = (raw[src + x] + (y > 0 ? pixels[up + x] : 0)) & 0xff;
        break;
      case 3:
        for (let x = 0; x < rowBytes; x++) {
          const left = x >= bpp ? pixels[dst + x - bpp] : 0;
          const above = y > 0 ? pixels[up + x] : 0;
          pixels[dst + x] = (raw[src + x] + ((left + above) >> 1)) & 0xff;
        }
        break;
      case 4:
        for (let x = 0; x < rowBytes; x++) {
          const left = x >= bpp ? pixels[dst + x - bpp] : 0;
          const above = y > 0 ? pixels[up + x] : 0;
          const upLeft = y > 0 && x >= bpp ? pixels[up + x - bpp] : 0;
          pixels[dst + x] = (raw[src + x] + paeth(left, above, upLeft)) & 0xff;
        }
        break;
      default:
        throw new Error(`PNG: unknown filter type ${filter}`);
    }
  }
  if (colourType === 3) {
    if (!palette) throw new Error('PNG: palette image without PLTE');
    const rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) rgb.set(palette.subarray(pixels[i] * 3, pixels[i] * 3 + 3), i * 3);
    return { width, height, channels: 3, pixels: rgb };
  }
  return { width, height, channels: storedChannels, pixels };
}
