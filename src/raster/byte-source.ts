/**
 * The bytes of a raster wherever they are: a local file, or an object of a Storage (issue 13: COGs of a
 * catalog on S3 are read by ranged GETs, as GDAL's /vsis3/ does). The TIFF structure check and geotiff.js
 * read through it; libvips (sharp) needs a local path and is used for files only.
 */
import { open } from 'node:fs/promises';
import GeoTIFF from 'geotiff';
import type { Storage } from '../storage/storage.js';

export interface ByteSource {
  /** How messages name it (a path, or the object's URL). */
  readonly name: string;
  /** `length` bytes from `position`; fewer when the bytes end first. */
  read(position: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export async function openFileBytes(path: string): Promise<ByteSource> {
  const fh = await open(path, 'r');
  return {
    name: path,
    async read(position, length) {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, position);
      return buf.subarray(0, bytesRead);
    },
    close: () => fh.close(),
  };
}

/** An object of `storage`, kept open for ranged reads when the storage can (S3: one GET per range). */
export async function openStoredBytes(storage: Storage, key: string): Promise<ByteSource> {
  const handle = storage.openForRanges ? await storage.openForRanges(key) : undefined;
  return {
    name: storage.url(key),
    read: (position, length) => (handle ? handle.read(position, length) : storage.readRange(key, position, length)),
    close: async () => handle?.close(),
  };
}

/** geotiff.js over a {@link ByteSource}: it reads the IFDs and blocks it needs by ranges; closing it closes the bytes. */
export function openGeoTiff(bytes: ByteSource): Promise<GeoTIFF> {
  return GeoTIFF.fromSource(new GeoTiffByteSource(bytes) as never);
}

/**
 * geotiff.js's view of a {@link ByteSource} (`GeoTIFF.fromSource`; geotiff.js does not export its
 * BaseSource, whose shape this is): it asks for slices, we read them.
 */
export class GeoTiffByteSource {
  constructor(private readonly bytes: ByteSource) {}

  get fileSize(): number | null {
    return null;
  }

  async fetch(slices: Array<{ offset: number; length: number }>): Promise<ArrayBuffer[]> {
    return Promise.all(
      slices.map(async ({ offset, length }) => {
        const b = await this.bytes.read(offset, length);
        // geotiff.js keeps the ArrayBuffer: give it one of exactly these bytes.
        return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
      }),
    );
  }

  async close(): Promise<void> {
    await this.bytes.close();
  }
}
