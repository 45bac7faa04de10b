/**
 * Arrays a pool thread keeps for its next slabs (issue 16): tiles and half slabs were allocated fresh, and on
 * M V8's collector threads and the page faults of first touching fresh memory cost a fifth of the CPU.
 * Module state: one set per worker thread.
 */
import type { SlabSpec } from '../../src/pyramid/slab-encoder.js';
import type { HalfSlab } from './slab-tasks.js';

/** A new array of `pixels` pixels holding nodata. */
export function filled(sampleType: 'uint8' | 'float32', pixels: number, nodata: number[]): Uint8Array | Float32Array {
  const C = nodata.length;
  const out = sampleType === 'uint8' ? new Uint8Array(pixels * C) : new Float32Array(pixels * C);
  // A new array holds zeros already.
  if (nodata.some((v) => v !== 0)) fillNodata(out, pixels, nodata);
  return out;
}

/** Writes nodata into the `pixels` pixels of `out` (interleaved, `nodata.length` channels). */
export function fillNodata(out: Uint8Array | Float32Array, pixels: number, nodata: number[]): void {
  const C = nodata.length;
  if (nodata.every((v) => v === nodata[0])) out.fill(nodata[0]);
  else for (let p = 0; p < pixels; p++) for (let c = 0; c < C; c++) out[p * C + c] = nodata[c];
}

/** A tile's pixels and mask. */
export type TilePair = { data: Uint8Array | Float32Array; mask: Uint8Array };

/**
 * Tile-sized pixel and mask arrays kept per thread, used again once their tile is encoded and halved. A
 * bottom slab of 16 × 16 tiles warped 256 fresh pairs (67 MB of RGB tiles): on M, V8's collector threads
 * spent 3.7 s of the run's 21 s of CPU (issue 16). In flight at once: two strips of tiles at most (the
 * encoder's bound), so this many spares cover a slab.
 */
const spareTiles: TilePair[] = [];
const SPARE_TILES = 48;

/** Takes out of `spares` a pair of `pixels` pixels × `channels` of `sampleType`, or undefined. */
function takeSpare<T extends TilePair>(spares: T[], sampleType: 'uint8' | 'float32', pixels: number, channels: number): T | undefined {
  const type = sampleType === 'uint8' ? Uint8Array : Float32Array;
  const i = spares.findIndex((t) => t.data instanceof type && t.data.length === pixels * channels && t.mask.length === pixels);
  return i < 0 ? undefined : spares.splice(i, 1)[0];
}

/** A spare pair for a tile of `pixels` pixels × `channels` of `sampleType`, or undefined (then warp allocates). */
export function spareTile(sampleType: 'uint8' | 'float32', pixels: number, channels: number): TilePair | undefined {
  return takeSpare(spareTiles, sampleType, pixels, channels);
}

/** Gives a tile's arrays back; the caller keeps no view of them. */
export function recycleTile(t: TilePair): void {
  if (spareTiles.length < SPARE_TILES) spareTiles.push(t);
}

/**
 * Half slabs kept per thread. Every slab made its half (2048² RGB and mask, 16.8 MB for 16 × 16 tiles of
 * 256²) fresh, and first touching fresh memory costs ~2.6 ms per MB in page faults on these VMs (issue 16):
 * 0.4–0.5 s of each pool thread's CPU on M. The children's halves an upper slab was handed (moved to this
 * thread) serve the next halves this thread makes.
 */
const spareHalves: HalfSlab[] = [];
const SPARE_HALVES = 2;

/** A half slab of `pixels` pixels holding nodata and mask 0: a spare one refilled, else a new one. */
export function newHalf(spec: SlabSpec, pixels: number): HalfSlab {
  const half = takeSpare(spareHalves, spec.sampleType, pixels, spec.channels);
  if (!half) return { data: filled(spec.sampleType, pixels, spec.nodata), mask: new Uint8Array(pixels) };
  fillNodata(half.data, pixels, spec.nodata);
  half.mask.fill(0);
  return half;
}

/** Keeps children's halves this thread owns whole (each array its own buffer) for {@link newHalf}. */
export function recycleHalves(children: Array<HalfSlab | null>): void {
  const seen = new Set<ArrayBufferLike>();
  for (const c of children) {
    if (!c || spareHalves.length >= SPARE_HALVES) continue;
    const whole = (v: Uint8Array | Float32Array) =>
      v.byteOffset === 0 && v.byteLength === v.buffer.byteLength && !(v.buffer instanceof SharedArrayBuffer) && !seen.has(v.buffer);
    if (c.data.buffer === c.mask.buffer || !whole(c.data) || !whole(c.mask)) continue;
    seen.add(c.data.buffer);
    seen.add(c.mask.buffer);
    spareHalves.push(c);
  }
}
