/**
 * Footprint of a raster (issue 12 `polygonize`, cog.md §7–§8): the polygon of its valid pixels,
 * traced along pixel edges of a validity grid (the full resolution, or the source reduced by a power
 * of two for large rasters), small rings removed, simplified by ≈1 grid pixel without creating
 * intersections, densified, reprojected to CRS84, as RFC 7946 GeoJSON (closed rings, exteriors
 * counter-clockwise, holes clockwise). `polygonize: false` gives the bbox polygon.
 */
import { createTransform, type CrsInfo } from '../raster/crs.js';
import type { GeoTransform } from '../raster/tfw.js';

/** Validity of a raster at reduced resolution: grid pixel (i, j) covers source pixels [i·f, (i+1)·f). */
export interface ValidityGrid {
  /** width × height bytes, 0 = no data; absent = every pixel valid. */
  mask?: Uint8Array;
  width: number;
  height: number;
  factor: number;
  imageWidth: number;
  imageHeight: number;
  geoTransform: GeoTransform;
  crs: CrsInfo;
}

export interface FootprintOptions {
  /** true (default): trace the valid pixels; false: the bbox polygon. */
  polygonize?: boolean;
  /** Douglas–Peucker tolerance in grid pixels (default 1). */
  simplify?: number;
  /** Rings smaller than this many grid pixels are dropped (default 4). */
  minRingArea?: number;
  /** Longest edge before reprojection, in grid pixels (default 32). */
  densify?: number;
}

export type FootprintGeometry = { type: 'Polygon'; coordinates: number[][][] } | { type: 'MultiPolygon'; coordinates: number[][][][] };

/** A ring as flat x,y pairs, first point not repeated. */
type Ring = number[];

/** Half the side of the cut made at pinch vertices, so that rings never touch (grid pixels). */
const CHAMFER = 0.1;
const DX = [1, 0, -1, 0];
const DY = [0, 1, 0, -1];

/**
 * Rings of the valid region along pixel edges (cog.md §8): edges between a valid and an invalid pixel,
 * valid on the right, so exteriors have a positive shoelace area in y-down coordinates and holes a
 * negative one. At a pinch (two valid pixels meeting at a corner) the trace turns right, keeping
 * valid pixels 4-connected as GDAL's Polygonize does, and cuts the corner by {@link CHAMFER} so the
 * two rings passing there do not touch.
 */
export function traceRings(mask: Uint8Array, width: number, height: number): Ring[] {
  const W1 = width + 1;
  const edges = new Uint8Array(W1 * (height + 1));
  const valid = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && mask[y * width + x] !== 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (mask[row + x] === 0) continue;
      if (!valid(x, y - 1)) edges[y * W1 + x] |= 1; // top edge, going right
      if (!valid(x + 1, y)) edges[y * W1 + x + 1] |= 2; // right edge, going down
      if (!valid(x, y + 1)) edges[(y + 1) * W1 + x + 1] |= 4; // bottom edge, going left
      if (!valid(x - 1, y)) edges[(y + 1) * W1 + x] |= 8; // left edge, going up
    }
  }
  const original = edges.slice();
  const rings: Ring[] = [];
  for (let v = 0; v < edges.length; v++) {
    while (edges[v] !== 0) {
      const d0 = 31 - Math.clz32(edges[v] & -edges[v]);
      const ring: Ring = [];
      let x = v % W1;
      let y = (v - x) / W1;
      let d = d0;
      const startX = x,
        startY = y;
      for (;;) {
        edges[y * W1 + x] &= ~(1 << d);
        x += DX[d];
        y += DY[d];
        const bits = original[y * W1 + x];
        const pinch = bits !== 0 && (bits & (bits - 1)) !== 0;
        const next = pinch ? (d + 1) & 3 : 31 - Math.clz32(bits);
        if (pinch) {
          ring.push(x - DX[d] * CHAMFER, y - DY[d] * CHAMFER, x + DX[next] * CHAMFER, y + DY[next] * CHAMFER);
        } else if (next !== d) ring.push(x, y);
        if (x === startX && y === startY && next === d0) break;
        d = next;
      }
      rings.push(ring);
    }
  }
  return rings;
}

/** Shoelace area (positive for exteriors in y-down grid coordinates). */
export function ringArea(r: Ring): number {
  let a = 0;
  const n = r.length;
  for (let i = 0; i < n; i += 2) {
    const j = (i + 2) % n;
    a += r[i] * r[j + 1] - r[j] * r[i + 1];
  }
  return a / 2;
}

function pointInRing(px: number, py: number, r: Ring): boolean {
  let inside = false;
  const n = r.length;
  for (let i = 0, j = n - 2; i < n; j = i, i += 2) {
    const xi = r[i],
      yi = r[i + 1],
      xj = r[j],
      yj = r[j + 1];
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function bboxOf(r: Ring): [number, number, number, number] {
  let x0 = Infinity,
    y0 = Infinity,
    x1 = -Infinity,
    y1 = -Infinity;
  for (let i = 0; i < r.length; i += 2) {
    if (r[i] < x0) x0 = r[i];
    if (r[i] > x1) x1 = r[i];
    if (r[i + 1] < y0) y0 = r[i + 1];
    if (r[i + 1] > y1) y1 = r[i + 1];
  }
  return [x0, y0, x1, y1];
}

/** Douglas–Peucker on a closed ring (split at the vertex farthest from the first one). */
export function simplifyRing(r: Ring, tolerance: number): Ring {
  const n = r.length / 2;
  if (tolerance <= 0 || n <= 4) return r;
  let far = 0,
    best = -1;
  for (let i = 1; i < n; i++) {
    const d = (r[2 * i] - r[0]) ** 2 + (r[2 * i + 1] - r[1]) ** 2;
    if (d > best) {
      best = d;
      far = i;
    }
  }
  const keep = new Uint8Array(n + 1);
  keep[0] = keep[far] = keep[n] = 1;
  const at = (i: number) => (i % n) * 2;
  const stack: [number, number][] = [
    [0, far],
    [far, n],
  ];
  const tol2 = tolerance * tolerance;
  while (stack.length) {
    const [a, b] = stack.pop()!;
    const ax = r[at(a)],
      ay = r[at(a) + 1],
      bx = r[at(b)],
      by = r[at(b) + 1];
    const dx = bx - ax,
      dy = by - ay;
    const len2 = dx * dx + dy * dy;
    let worst = -1,
      idx = -1;
    for (let i = a + 1; i < b; i++) {
      const px = r[at(i)] - ax,
        py = r[at(i) + 1] - ay;
      let d2: number;
      if (len2 === 0) d2 = px * px + py * py;
      else {
        const cross = px * dy - py * dx;
        d2 = (cross * cross) / len2;
      }
      if (d2 > worst) {
        worst = d2;
        idx = i;
      }
    }
    if (idx >= 0 && worst > tol2) {
      keep[idx] = 1;
      stack.push([a, idx], [idx, b]);
    }
  }
  const out: Ring = [];
  for (let i = 0; i < n; i++) if (keep[i]) out.push(r[2 * i], r[2 * i + 1]);
  return out.length >= 6 ? out : r;
}

function orient(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  const v = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
  return v > 0 ? 1 : v < 0 ? -1 : 0;
}

function onSegment(ax: number, ay: number, bx: number, by: number, px: number, py: number): boolean {
  return Math.min(ax, bx) <= px && px <= Math.max(ax, bx) && Math.min(ay, by) <= py && py <= Math.max(ay, by);
}

/** True when segments ab and cd share any point. */
function segmentsMeet(ax: number, ay: number, bx: number, by: number, cx: number, cy: number, dx: number, dy: number): boolean {
  const o1 = orient(ax, ay, bx, by, cx, cy),
    o2 = orient(ax, ay, bx, by, dx, dy);
  const o3 = orient(cx, cy, dx, dy, ax, ay),
    o4 = orient(cx, cy, dx, dy, bx, by);
  if (o1 !== o2 && o3 !== o4) return true;
  if (o1 === 0 && onSegment(ax, ay, bx, by, cx, cy)) return true;
  if (o2 === 0 && onSegment(ax, ay, bx, by, dx, dy)) return true;
  if (o3 === 0 && onSegment(cx, cy, dx, dy, ax, ay)) return true;
  if (o4 === 0 && onSegment(cx, cy, dx, dy, bx, by)) return true;
  return false;
}

/**
 * Indices of the rings that meet another ring or themselves (other than consecutive segments at
 * their shared vertex). Uniform grid of buckets over the segments' bounding boxes.
 */
export function conflictingRings(rings: readonly Ring[]): Set<number> {
  let segments = 0;
  let x0 = Infinity,
    y0 = Infinity,
    x1 = -Infinity,
    y1 = -Infinity;
  for (const r of rings) {
    segments += r.length / 2;
    const b = bboxOf(r);
    x0 = Math.min(x0, b[0]);
    y0 = Math.min(y0, b[1]);
    x1 = Math.max(x1, b[2]);
    y1 = Math.max(y1, b[3]);
  }
  const bad = new Set<number>();
  if (segments === 0) return bad;
  const cell = Math.max(1, Math.sqrt(((x1 - x0 + 1) * (y1 - y0 + 1)) / segments) * 2);
  const cols = Math.floor((x1 - x0) / cell) + 1;
  const buckets = new Map<number, number[]>(); // cell → (ring, index) pairs
  rings.forEach((r, ri) => {
    const n = r.length / 2;
    for (let i = 0; i < n; i++) {
      const j = (i + 1) % n;
      const cx0 = Math.floor((Math.min(r[2 * i], r[2 * j]) - x0) / cell),
        cx1 = Math.floor((Math.max(r[2 * i], r[2 * j]) - x0) / cell);
      const cy0 = Math.floor((Math.min(r[2 * i + 1], r[2 * j + 1]) - y0) / cell);
      const cy1 = Math.floor((Math.max(r[2 * i + 1], r[2 * j + 1]) - y0) / cell);
      for (let cy = cy0; cy <= cy1; cy++) {
        for (let cx = cx0; cx <= cx1; cx++) {
          const key = cy * cols + cx;
          let list = buckets.get(key);
          if (!list) buckets.set(key, (list = []));
          list.push(ri, i);
        }
      }
    }
  });
  for (const list of buckets.values()) {
    for (let p = 0; p < list.length; p += 2) {
      const ra = list[p],
        ia = list[p + 1];
      const A = rings[ra],
        na = A.length / 2,
        ja = (ia + 1) % na;
      for (let q = p + 2; q < list.length; q += 2) {
        const rb = list[q],
          ib = list[q + 1];
        if (bad.has(ra) && bad.has(rb)) continue;
        if (ra === rb && (ib === ja || ia === (ib + 1) % na || ia === ib)) continue;
        const B = rings[rb],
          jb = (ib + 1) % (B.length / 2);
        if (segmentsMeet(A[2 * ia], A[2 * ia + 1], A[2 * ja], A[2 * ja + 1], B[2 * ib], B[2 * ib + 1], B[2 * jb], B[2 * jb + 1])) {
          bad.add(ra);
          bad.add(rb);
        }
      }
    }
  }
  return bad;
}

/**
 * Simplifies every ring by `tolerance`, then re-simplifies the rings that meet another one (or
 * themselves) with half the tolerance, and so on, down to the exact rings, which never meet.
 */
export function simplifyRings(rings: readonly Ring[], tolerance: number): Ring[] {
  const steps = [tolerance, tolerance / 2, tolerance / 4, 0];
  const level = new Array<number>(rings.length).fill(0);
  const out = rings.map((r) => simplifyRing(r, steps[0]));
  for (let round = 0; round < 16; round++) {
    const bad = conflictingRings(out);
    if (bad.size === 0) return out;
    for (const i of bad) {
      level[i] = Math.min(steps.length - 1, level[i] + 1);
      out[i] = simplifyRing(rings[i], steps[level[i]]);
    }
  }
  return [...rings];
}

function densifyRing(r: Ring, maxLength: number): Ring {
  const out: Ring = [];
  const n = r.length / 2;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    const x = r[2 * i],
      y = r[2 * i + 1];
    const len = Math.hypot(r[2 * j] - x, r[2 * j + 1] - y);
    const parts = Math.max(1, Math.ceil(len / maxLength));
    for (let k = 0; k < parts; k++) out.push(x + ((r[2 * j] - x) * k) / parts, y + ((r[2 * j + 1] - y) * k) / parts);
  }
  return out;
}

/** Grid coordinates → CRS84 positions, closed, oriented per RFC 7946 (exterior CCW, holes CW). */
function toCrs84(rings: Ring[], grid: ValidityGrid, exterior: boolean[], toLonLat: ReturnType<typeof createTransform>): number[][][] {
  const gt = grid.geoTransform;
  return rings.map((r, k) => {
    const n = r.length / 2;
    const xs = new Float64Array(n),
      ys = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const px = Math.min(grid.imageWidth, Math.max(0, r[2 * i] * grid.factor));
      const py = Math.min(grid.imageHeight, Math.max(0, r[2 * i + 1] * grid.factor));
      xs[i] = gt[0] + px * gt[1] + py * gt[2];
      ys[i] = gt[3] + px * gt[4] + py * gt[5];
    }
    toLonLat(xs, ys);
    const pts: number[][] = [];
    for (let i = 0; i < n; i++) {
      const p = [Math.round(xs[i] * 1e9) / 1e9, Math.round(ys[i] * 1e9) / 1e9];
      const last = pts[pts.length - 1];
      if (!last || last[0] !== p[0] || last[1] !== p[1]) pts.push(p);
    }
    if (pts.length > 1 && pts[0][0] === pts[pts.length - 1][0] && pts[0][1] === pts[pts.length - 1][1]) pts.pop();
    let area = 0;
    for (let i = 0; i < pts.length; i++) {
      const a = pts[i],
        b = pts[(i + 1) % pts.length];
      area += a[0] * b[1] - b[0] * a[1];
    }
    if (area > 0 !== exterior[k]) pts.reverse();
    pts.push([...pts[0]]);
    return pts;
  });
}

/** The image's bbox polygon in CRS84 (edges densified so they follow the projection). */
function bboxFootprint(grid: ValidityGrid, toLonLat: ReturnType<typeof createTransform>): FootprintGeometry {
  const g = { ...grid, factor: 1 };
  const ring = densifyRing(
    [0, 0, grid.imageWidth, 0, grid.imageWidth, grid.imageHeight, 0, grid.imageHeight],
    Math.max(grid.imageWidth, grid.imageHeight) / 8,
  );
  return { type: 'Polygon', coordinates: toCrs84([ring], g, [true], toLonLat) };
}

/**
 * Footprint polygon of a validity grid in CRS84, or null when no pixel is valid. Without a mask (every
 * pixel valid) or with `polygonize: false`, the bbox polygon.
 */
export function footprint(grid: ValidityGrid, options: FootprintOptions = {}): FootprintGeometry | null {
  const toLonLat = createTransform(grid.crs, 'OGC:CRS84');
  if (options.polygonize === false || !grid.mask) return bboxFootprint(grid, toLonLat);
  const minArea = options.minRingArea ?? 4;
  const traced = traceRings(grid.mask, grid.width, grid.height).filter((r) => Math.abs(ringArea(r)) >= minArea);
  const rings = simplifyRings(traced, options.simplify ?? 1).map((r) => densifyRing(r, options.densify ?? 32));
  const areas = rings.map(ringArea);
  const outers = rings.map((_, i) => i).filter((i) => areas[i] > 0);
  if (outers.length === 0) return null;
  const boxes = rings.map(bboxOf);
  const holesOf = new Map<number, number[]>(outers.map((i) => [i, []]));
  for (let h = 0; h < rings.length; h++) {
    if (areas[h] > 0) continue;
    // A point of the hole's ring lies inside its exterior and in no smaller one around it.
    const px = (rings[h][0] + rings[h][2]) / 2,
      py = (rings[h][1] + rings[h][3]) / 2;
    let owner = -1;
    for (const o of outers) {
      const b = boxes[o];
      if (px < b[0] || px > b[2] || py < b[1] || py > b[3]) continue;
      if ((owner < 0 || areas[o] < areas[owner]) && pointInRing(px, py, rings[o])) owner = o;
    }
    if (owner >= 0) holesOf.get(owner)!.push(h);
  }
  const polygons = outers.map((o) => {
    const members = [o, ...holesOf.get(o)!];
    return toCrs84(
      members.map((i) => rings[i]),
      grid,
      members.map((_, k) => k === 0),
      toLonLat,
    );
  });
  return polygons.length === 1 ? { type: 'Polygon', coordinates: polygons[0] } : { type: 'MultiPolygon', coordinates: polygons };
}
