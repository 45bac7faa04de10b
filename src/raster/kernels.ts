/**
 * Resampling kernels (specs/rok4.md §8.4). Each kernel is a weight function of the distance, in source
 * pixels, between a source pixel centre and the sample position, with a support radius.
 *
 * GDAL is the oracle of our tests, so the kernels are GDAL's warper kernels:
 * - `nn`: nearest neighbour (the source pixel containing the sample position);
 * - `linear`: triangle, radius 1 (bilinear);
 * - `bicubic`: Keys cubic convolution with a = −0.5 (Catmull-Rom), radius 2 — GDAL's `cubic` and ROK4's
 *   `bicubic`;
 * - `lanczos`: windowed sinc, radius 3 — GDAL's `lanczos`. ROK4's generation tools use radius 2 instead
 *   (§8.4); we follow GDAL, which our pixel tests compare with.
 */

export type KernelName = 'nn' | 'linear' | 'bicubic' | 'lanczos';

export const KERNEL_NAMES: readonly KernelName[] = ['nn', 'linear', 'bicubic', 'lanczos'];

export interface Kernel {
  readonly name: KernelName;
  /** Support radius in source pixels before any widening for downsampling (0 for nearest neighbour). */
  readonly radius: number;
  /** Weight at signed distance `x` (source pixels, already divided by the downsampling ratio). */
  readonly weight: (x: number) => number;
}

export function nearestWeight(x: number): number {
  return x > -0.5 && x <= 0.5 ? 1 : 0;
}

export function linearWeight(x: number): number {
  const ax = Math.abs(x);
  return ax < 1 ? 1 - ax : 0;
}

/** Keys cubic convolution, a = −0.5. */
export function cubicWeight(x: number): number {
  const ax = Math.abs(x);
  if (ax < 1) return (1.5 * ax - 2.5) * ax * ax + 1;
  if (ax < 2) return ((-0.5 * ax + 2.5) * ax - 4) * ax + 2;
  return 0;
}

export const LANCZOS_RADIUS = 3;

/** sinc(x) · sinc(x / 3) on |x| < 3. */
export function lanczosWeight(x: number): number {
  if (x === 0) return 1;
  const ax = Math.abs(x);
  if (ax >= LANCZOS_RADIUS) return 0;
  const pix = Math.PI * x;
  const pixr = pix / LANCZOS_RADIUS;
  return (Math.sin(pix) * Math.sin(pixr)) / (pix * pixr);
}

export const KERNELS: Readonly<Record<KernelName, Kernel>> = {
  nn: { name: 'nn', radius: 0, weight: nearestWeight },
  linear: { name: 'linear', radius: 1, weight: linearWeight },
  bicubic: { name: 'bicubic', radius: 2, weight: cubicWeight },
  lanczos: { name: 'lanczos', radius: LANCZOS_RADIUS, weight: lanczosWeight },
};

/** The kernel of a name; throws on an unknown name (inputs are validated before they get here). */
export function kernelByName(name: string): Kernel {
  const k = (KERNELS as Record<string, Kernel | undefined>)[name];
  if (!k) throw new RangeError(`unknown resampling kernel '${name}' (expected one of ${KERNEL_NAMES.join(', ')})`);
  return k;
}
