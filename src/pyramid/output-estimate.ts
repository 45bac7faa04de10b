/**
 * What a pyramid job will write, estimated at submission so that a small input cannot start a run that
 * fills the storage (a sparse 60,000² TIFF of 442 KB plans gigabytes of slabs).
 */
import { ApiError, invalidInput } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import type { SlabSpec } from './slab-encoder.js';

/** JPEG slabs of photographs hold well under a quarter of their raw bytes (q90 ≈ 1/6 on the bench maps). */
const JPEG_SHARE = 0.25;

/**
 * Bytes of `slabs` planned slabs: each slab uncompressed (tiles × pixels × channels × sample bytes), plus its
 * mask slab (one byte a pixel), a quarter of that for JPEG. An upper bound for the lossless formats, whose
 * tiles are never larger than raw ones by more than their few header bytes.
 */
export function estimatePyramidBytes(slabs: number, spec: SlabSpec): number {
  const pixels = spec.tilesPerWidth * spec.tilesPerHeight * spec.tileWidth * spec.tileHeight;
  const share = spec.compression === 'jpg' || spec.compression === 'jpg90' ? JPEG_SHARE : 1;
  const data = pixels * spec.channels * (spec.sampleType === 'float32' ? 4 : 1) * share;
  const mask = spec.mask ? pixels : 0;
  return Math.ceil(slabs * (data + mask));
}

const gib = (n: number): string => `${(n / 1024 ** 3).toFixed(n < 1024 ** 3 ? 3 : 1)} GiB`;

/**
 * Refuses an estimated output over `server.limits.max_output_bytes` (a 400 naming `input`, the input whose
 * size decides it) or one that would leave less than `server.limits.min_free_bytes` free on the storage
 * (a 507).
 */
export async function checkOutputBytes(
  storage: Storage,
  limits: { maxOutputBytes: number; minFreeBytes: number },
  bytes: number,
  input: string,
): Promise<void> {
  if (bytes > limits.maxOutputBytes) {
    throw invalidInput(
      input,
      `the output is estimated at ${gib(bytes)} (${bytes} bytes), more than the configured limit of ${gib(limits.maxOutputBytes)} (server.limits.max_output_bytes)`,
    );
  }
  const free = await storage.freeBytes?.();
  if (free !== undefined && free - bytes < limits.minFreeBytes) {
    throw new ApiError(
      'insufficient-storage',
      `the output is estimated at ${gib(bytes)} while the storage has ${gib(free)} free and must keep ${gib(limits.minFreeBytes)} free (server.limits.min_free_bytes)`,
    );
  }
}
