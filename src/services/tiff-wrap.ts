/**
 * One tile as a standalone TIFF (rok4.md §5.4: "TIFF_*_UINT8 tiles are wrapped in a small TIFF header for
 * image/tiff"): a little-endian classic TIFF, one strip holding the stored payload untouched. The
 * payloads of RAW, LZW, ZIP and PKB slabs are exactly TIFF strips of those compressions (§5.2: PackBits
 * row by row, zlib stream, TIFF LZW), so nothing is decoded.
 */

/** Tag, type (3 SHORT, 4 LONG), value; counts are 1 except BitsPerSample (see below). */
type Entry = [tag: number, type: 3 | 4, count: number, value: number];

export interface TiffWrapSpec {
  width: number;
  height: number;
  channels: number;
  bitsPerSample: 8 | 32;
  /** SampleFormat: 1 unsigned integer, 3 IEEE float. */
  sampleFormat: 1 | 3;
  /** TIFF Compression tag: 1 none, 5 LZW, 8 deflate (zlib), 32773 PackBits. */
  compression: number;
}

export function wrapTileInTiff(payload: Uint8Array, spec: TiffWrapSpec): Buffer {
  const { width, height, channels } = spec;
  const entryCount = 10 + (channels === 2 || channels === 4 ? 1 : 0);
  const ifdSize = 2 + 12 * entryCount + 4;
  // Arrays that do not fit in 4 bytes (BitsPerSample and SampleFormat for 3–4 channels) follow the IFD.
  const arraysAt = 8 + ifdSize;
  const bpsAt = arraysAt;
  const sfAt = arraysAt + 2 * channels;
  const dataAt = channels > 2 ? sfAt + 2 * channels : arraysAt;
  const photometric = channels >= 3 ? 2 : 1;
  const entries: Entry[] = [
    [256, 4, 1, width],
    [257, 4, 1, height],
    [258, 3, channels, channels > 2 ? bpsAt : spec.bitsPerSample],
    [259, 3, 1, spec.compression],
    [262, 3, 1, photometric],
    [273, 4, 1, dataAt],
    [277, 3, 1, channels],
    [278, 4, 1, height],
    [279, 4, 1, payload.length],
  ];
  // ExtraSamples: the last channel of 2 or 4 is unassociated alpha (ROK4's default, rok4.md §5.1).
  if (channels === 2 || channels === 4) entries.push([338, 3, 1, 2]);
  entries.push([339, 3, channels, channels > 2 ? sfAt : spec.sampleFormat]);
  const out = Buffer.alloc(dataAt + payload.length);
  out.write('II', 0, 'latin1');
  out.writeUInt16LE(42, 2);
  out.writeUInt32LE(8, 4);
  out.writeUInt16LE(entries.length, 8);
  entries.forEach(([tag, type, count, value], i) => {
    const at = 10 + 12 * i;
    out.writeUInt16LE(tag, at);
    out.writeUInt16LE(type, at + 2);
    out.writeUInt32LE(count, at + 4);
    if (type === 3 && count <= 2 && !(channels > 2 && (tag === 258 || tag === 339))) {
      // One or two SHORT values inline (2 channels: both values).
      out.writeUInt16LE(value, at + 8);
      if (count === 2) out.writeUInt16LE(value, at + 10);
    } else {
      out.writeUInt32LE(value, at + 8);
    }
  });
  out.writeUInt32LE(0, 10 + 12 * entries.length);
  if (channels > 2) {
    for (let c = 0; c < channels; c++) {
      out.writeUInt16LE(spec.bitsPerSample, bpsAt + 2 * c);
      out.writeUInt16LE(spec.sampleFormat, sfAt + 2 * c);
    }
  }
  out.set(payload, dataAt);
  return out;
}
