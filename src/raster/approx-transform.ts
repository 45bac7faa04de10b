/**
 * Approximate coordinate transformer (DESIGN §6, specs/rok4.md §8.4): maps every target pixel centre
 * to a continuous source pixel position without calling the exact (proj4) transform per pixel.
 *
 * The exact transform is evaluated on a coarse grid of target pixels; the positions in between are
 * interpolated bilinearly. Each grid cell is checked at its edge midpoints and its centre against the
 * exact transform and split in two or four while the interpolation error exceeds the bound — the 2-D
 * analogue of GDAL's approximate transformer, which checks the midpoint of each scanline segment.
 */

/**
 * GDAL-style affine geotransform: `[originX, pixelWidth, rowRotation, originY, columnRotation,
 * pixelHeight]`, i.e. `X = gt[0] + col·gt[1] + row·gt[2]`, `Y = gt[3] + col·gt[4] + row·gt[5]`
 * with (col, row) in pixel-corner coordinates (the top-left corner of the raster is (0, 0)).
 */
export type GeoTransform = readonly [number, number, number, number, number, number];

/** Maps target-CRS coordinates to source-CRS coordinates in place (same shape as crs.ts `CoordinateTransform`). */
export type ExactTransform = (xs: Float64Array, ys: Float64Array) => void;

export interface TargetGrid {
  width: number;
  height: number;
  geoTransform: GeoTransform;
}

/**
 * Source pixel positions, one per target pixel (row-major, `width × height`), in the source's
 * pixel-corner convention: source pixel (i, j) covers [i, i+1) × [j, j+1), its centre is (i+0.5, j+0.5).
 * NaN where the exact transform fails (point outside the projection's domain).
 */
export interface SourceCoordinates {
  srcX: Float32Array;
  srcY: Float32Array;
  /** How many points the exact transform was evaluated on (for tests and tuning). */
  exactEvaluations: number;
  /**
   * Set when the positions are separable by construction (axis-aligned-transform.ts): warp.ts then takes
   * its two-pass path without scanning every position to check.
   */
  separable?: true;
}

export interface ApproximateTransformOptions {
  /** Target pixels between coarse grid nodes before any subdivision (default 64). */
  gridStep?: number;
  /**
   * Arrays to write into (at least `width × height` long) instead of new ones: a caller transforming
   * tile after tile reuses two arrays (less garbage). Every element of the target is written.
   */
  into?: { srcX: Float32Array; srcY: Float32Array };
}

/**
 * Source pixel coordinates of every target pixel centre, within `maxErrorPixels` (source pixels,
 * Euclidean) of the exact transform at the checked points. Coordinates are relative to
 * `sourceGeoTransform`: pass the geotransform of the source *window* actually read so the values
 * stay small (they are stored as float32: 0.004 px resolution up to 65,536 px).
 */
export function approximateTransform(
  exact: ExactTransform,
  target: TargetGrid,
  sourceGeoTransform: GeoTransform,
  maxErrorPixels = 0.125,
  options: ApproximateTransformOptions = {},
): SourceCoordinates {
  const { width, height } = target;
  const step = Math.max(2, Math.floor(options.gridStep ?? 64));
  const into =
    options.into && options.into.srcX.length >= width * height && options.into.srcY.length >= width * height ? options.into : undefined;
  const srcX = into ? into.srcX : new Float32Array(width * height);
  const srcY = into ? into.srcY : new Float32Array(width * height);
  if (width <= 0 || height <= 0) return { srcX, srcY, exactEvaluations: 0 };

  const toSource = makePixelMapper(exact, target.geoTransform, sourceGeoTransform);
  const maxError2 = maxErrorPixels * maxErrorPixels;

  // Coarse grid nodes: every `step` pixels, and always the last column/row.
  const nodesX = gridNodes(width, step);
  const nodesY = gridNodes(height, step);
  const nx = nodesX.length;
  const ny = nodesY.length;
  const gi = new Float64Array(nx * ny);
  const gj = new Float64Array(nx * ny);
  for (let b = 0; b < ny; b++)
    for (let a = 0; a < nx; a++) {
      gi[b * nx + a] = nodesX[a];
      gj[b * nx + a] = nodesY[b];
    }
  toSource(gi, gj); // now holds source pixel positions of the nodes
  let evaluations = nx * ny;

  const lastI = width - 1;
  const lastJ = height - 1;

  /** Writes the bilinear interpolation of the four corners over the pixels the cell owns. */
  function fill(i0: number, i1: number, j0: number, j1: number, c: Float64Array): void {
    fillCell(srcX, srcY, width, lastI, lastJ, i0, i1, j0, j1, c);
  }

  /** Cells of at most 2×2 pixels: copy the corners (no interpolation, so a NaN corner stays where it is). */
  function corners(i0: number, i1: number, j0: number, j1: number, c: Float64Array): void {
    const iEnd = i1 === lastI || i1 === i0 ? i1 : i1 - 1;
    const jEnd = j1 === lastJ || j1 === j0 ? j1 : j1 - 1;
    for (let j = j0; j <= jEnd; j++) {
      for (let i = i0; i <= iEnd; i++) {
        const k = (i === i0 ? 0 : 1) + (j === j0 ? 0 : 2);
        srcX[j * width + i] = c[2 * k];
        srcY[j * width + i] = c[2 * k + 1];
      }
    }
  }

  const probeI = new Float64Array(5);
  const probeJ = new Float64Array(5);

  /**
   * `c` = corners (x, y) in the order (i0,j0) (i1,j0) (i0,j1) (i1,j1). Checks the midpoints, then
   * fills the cell or splits it, reusing the probed points as the children's corners.
   */
  function cell(i0: number, i1: number, j0: number, j1: number, c: Float64Array): void {
    const spanX = i1 - i0;
    const spanY = j1 - j0;
    if (spanX <= 1 && spanY <= 1) {
      corners(i0, i1, j0, j1, c);
      return;
    } // every pixel is a corner: exact
    const mi = spanX >= 2 ? (i0 + i1) >> 1 : -1;
    const mj = spanY >= 2 ? (j0 + j1) >> 1 : -1;
    // Probes: 0 = (mi, j0), 1 = (mi, j1), 2 = (i0, mj), 3 = (i1, mj), 4 = (mi, mj).
    let n = 0;
    const slot = [-1, -1, -1, -1, -1];
    if (mi >= 0) {
      slot[0] = n;
      probeI[n] = mi;
      probeJ[n++] = j0;
      slot[1] = n;
      probeI[n] = mi;
      probeJ[n++] = j1;
    }
    if (mj >= 0) {
      slot[2] = n;
      probeI[n] = i0;
      probeJ[n++] = mj;
      slot[3] = n;
      probeI[n] = i1;
      probeJ[n++] = mj;
    }
    if (mi >= 0 && mj >= 0) {
      slot[4] = n;
      probeI[n] = mi;
      probeJ[n++] = mj;
    }
    const px = probeI.slice(0, n);
    const py = probeJ.slice(0, n);
    toSource(px, py);
    evaluations += n;

    let ok = true;
    let anyFinite = false;
    for (let k = 0; k < 4; k++) {
      if (Number.isFinite(c[2 * k]) && Number.isFinite(c[2 * k + 1])) anyFinite = true;
      else ok = false;
    }
    for (let k = 0; k < n; k++) {
      const fx = spanX ? (probeI[k] - i0) / spanX : 0;
      const fy = spanY ? (probeJ[k] - j0) / spanY : 0;
      const ex = px[k],
        ey = py[k];
      if (!Number.isFinite(ex) || !Number.isFinite(ey)) {
        ok = false;
        continue;
      }
      anyFinite = true;
      if (!ok) continue;
      const ax = (c[0] * (1 - fx) + c[2] * fx) * (1 - fy) + (c[4] * (1 - fx) + c[6] * fx) * fy;
      const ay = (c[1] * (1 - fx) + c[3] * fx) * (1 - fy) + (c[5] * (1 - fx) + c[7] * fx) * fy;
      if ((ax - ex) * (ax - ex) + (ay - ey) * (ay - ey) > maxError2) ok = false;
    }
    // Wholly outside the transform's domain: no source position anywhere in the cell.
    if (!anyFinite) {
      c.fill(NaN);
      fill(i0, i1, j0, j1, c);
      return;
    }
    if (ok) {
      fill(i0, i1, j0, j1, c);
      return;
    }

    const at = (k: number, cx: number, cy: number): [number, number] => (slot[k] >= 0 ? [px[slot[k]], py[slot[k]]] : [cx, cy]);
    const [tx, ty] = at(0, NaN, NaN); // top middle
    const [bx, by] = at(1, NaN, NaN); // bottom middle
    const [lx, ly] = at(2, NaN, NaN); // left middle
    const [rx, ry] = at(3, NaN, NaN); // right middle
    const [cx, cy] = at(4, NaN, NaN); // centre
    if (mi >= 0 && mj >= 0) {
      cell(i0, mi, j0, mj, Float64Array.of(c[0], c[1], tx, ty, lx, ly, cx, cy));
      cell(mi, i1, j0, mj, Float64Array.of(tx, ty, c[2], c[3], cx, cy, rx, ry));
      cell(i0, mi, mj, j1, Float64Array.of(lx, ly, cx, cy, c[4], c[5], bx, by));
      cell(mi, i1, mj, j1, Float64Array.of(cx, cy, rx, ry, bx, by, c[6], c[7]));
    } else if (mi >= 0) {
      cell(i0, mi, j0, j1, Float64Array.of(c[0], c[1], tx, ty, c[4], c[5], bx, by));
      cell(mi, i1, j0, j1, Float64Array.of(tx, ty, c[2], c[3], bx, by, c[6], c[7]));
    } else {
      cell(i0, i1, j0, mj, Float64Array.of(c[0], c[1], c[2], c[3], lx, ly, rx, ry));
      cell(i0, i1, mj, j1, Float64Array.of(lx, ly, rx, ry, c[4], c[5], c[6], c[7]));
    }
  }

  if (nx === 1 || ny === 1) {
    // A single row or column of nodes: degenerate cells of zero span on one axis.
    for (let b = 0; b < Math.max(1, ny - 1); b++) {
      for (let a = 0; a < Math.max(1, nx - 1); a++) {
        const a1 = Math.min(a + 1, nx - 1),
          b1 = Math.min(b + 1, ny - 1);
        const k00 = b * nx + a,
          k10 = b * nx + a1,
          k01 = b1 * nx + a,
          k11 = b1 * nx + a1;
        cell(
          nodesX[a],
          nodesX[a1],
          nodesY[b],
          nodesY[b1],
          Float64Array.of(gi[k00], gj[k00], gi[k10], gj[k10], gi[k01], gj[k01], gi[k11], gj[k11]),
        );
      }
    }
  } else {
    for (let b = 0; b < ny - 1; b++) {
      for (let a = 0; a < nx - 1; a++) {
        const k00 = b * nx + a,
          k10 = k00 + 1,
          k01 = k00 + nx,
          k11 = k01 + 1;
        cell(
          nodesX[a],
          nodesX[a + 1],
          nodesY[b],
          nodesY[b + 1],
          Float64Array.of(gi[k00], gj[k00], gi[k10], gj[k10], gi[k01], gj[k01], gi[k11], gj[k11]),
        );
      }
    }
  }
  return { srcX, srcY, exactEvaluations: evaluations };
}

/**
 * Bilinear interpolation of a cell's corners `c` ((i0,j0) (i1,j0) (i0,j1) (i1,j1), x then y) over the
 * pixels it owns: [i0, i1) × [j0, j1), plus its far edge when that edge is the raster's last column/row.
 * A top-level function of plain arguments: the hot loop keeps everything in registers.
 */
function fillCell(
  srcX: Float32Array,
  srcY: Float32Array,
  width: number,
  lastI: number,
  lastJ: number,
  i0: number,
  i1: number,
  j0: number,
  j1: number,
  c: Float64Array,
): void {
  const iEnd = i1 === lastI || i1 === i0 ? i1 : i1 - 1;
  const jEnd = j1 === lastJ || j1 === j0 ? j1 : j1 - 1;
  const spanX = i1 - i0 || 1;
  const spanY = j1 - j0 || 1;
  const n = iEnd - i0 + 1;
  for (let j = j0; j <= jEnd; j++) {
    const fy = (j - j0) / spanY;
    const lx = c[0] + (c[4] - c[0]) * fy,
      ly = c[1] + (c[5] - c[1]) * fy; // left edge (i0)
    const rx = c[2] + (c[6] - c[2]) * fy,
      ry = c[3] + (c[7] - c[3]) * fy; // right edge (i1)
    const dx = (rx - lx) / spanX,
      dy = (ry - ly) / spanX;
    const o = j * width + i0;
    for (let k = 0; k < n; k++) {
      srcX[o + k] = lx + dx * k;
      srcY[o + k] = ly + dy * k;
    }
  }
}

/**
 * Exact map from target pixel indices (i, j) — in place, arrays of indices — to source pixel-corner
 * coordinates of the target pixel centres (i + 0.5, j + 0.5).
 */
export function makePixelMapper(
  exact: ExactTransform,
  targetGt: GeoTransform,
  sourceGt: GeoTransform,
): (is: Float64Array, js: Float64Array) => void {
  const [a0, a1, a2, b0, b1, b2] = sourceGt;
  const det = a1 * b2 - a2 * b1;
  if (det === 0 || !Number.isFinite(det)) throw new RangeError('source geotransform is not invertible');
  const [t0, t1, t2, u0, u1, u2] = targetGt;
  return (is, js) => {
    for (let k = 0; k < is.length; k++) {
      const ci = is[k] + 0.5,
        cj = js[k] + 0.5;
      is[k] = t0 + ci * t1 + cj * t2;
      js[k] = u0 + ci * u1 + cj * u2;
    }
    exact(is, js);
    for (let k = 0; k < is.length; k++) {
      const dx = is[k] - a0,
        dy = js[k] - b0;
      is[k] = (b2 * dx - a2 * dy) / det;
      js[k] = (a1 * dy - b1 * dx) / det;
    }
  };
}

function gridNodes(size: number, step: number): number[] {
  const nodes: number[] = [];
  for (let v = 0; v < size - 1; v += step) nodes.push(v);
  nodes.push(size - 1);
  return nodes;
}
