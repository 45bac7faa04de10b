/**
 * WebAssembly SIMD kernels of the warp (AssemblyScript; built by `npm run build` into
 * dist/assembly/warp-kernels.wasm and driven by src/raster/warp-wasm.ts). Only what the JavaScript loop
 * (src/raster/warp-loops.ts `warpCubic4`) spends most of a pyramid's CPU on: the 4×4 bicubic of 8-bit
 * RGB where all sixteen taps are inside the source and valid. Every other target pixel is listed for
 * the JavaScript loop, which keeps the rules (nodata, bilinear at edges, renormalised weights).
 *
 * Weights are Keys' cubic (a = −0.5, as GDAL's and ROK4's bicubic), their 4×4 products in fixed point
 * (Q14: 1.0 = 16384), so that one i16×i16 dot product sums two taps of two rows at once. The sum is
 * rounded half up and clamped to 0..255; against the float64 loop a sample differs by at most 1 (the
 * rounding of the products), which test/raster/warp-wasm.test.ts checks.
 *
 * Memory is laid out by the caller; every pointer is a byte offset in this module's memory. Reads go
 * 16 bytes at a time from a tap row's start: the source region needs 16 bytes after its last row, the
 * output 1 byte after its last pixel (a 4-byte store per RGB pixel).
 */

/** First byte of memory free for the caller (after this module's static data). */
export function heapBase(): usize {
  return __heap_base;
}

/**
 * The range of the finite coordinates of `count` float32 pairs, stored as four float32 at `dst`:
 * min x, max x, min y, max y (+∞/−∞ when none is finite).
 */
export function coordinateBounds(sxp: usize, syp: usize, count: i32, dst: usize): void {
  let minX = Infinity,
    maxX = -Infinity,
    minY = Infinity,
    maxY = -Infinity;
  for (let o = 0; o < count; o++) {
    const x = <f64>load<f32>(sxp + (<usize>o << 2));
    const y = <f64>load<f32>(syp + (<usize>o << 2));
    // NaN fails every comparison: left out.
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  store<f32>(dst, <f32>minX);
  store<f32>(dst + 4, <f32>maxX);
  store<f32>(dst + 8, <f32>minY);
  store<f32>(dst + 12, <f32>maxY);
}

/**
 * Bicubic 4×4 of 8-bit RGB at the float32 source positions (`sxp`, `syp`, pixel-corner units of the
 * whole source, `W` × `H`) of `count` target pixels. The source is the region of columns `rx0`… and
 * rows `ry0`… held at `src` (`stride` bytes per row); `mask` (0 = none) is the same region's mask,
 * `mstride` bytes per row, 0 = no data. Writes RGB at `out` and 255 at `outMask` for the pixels it
 * resamples; writes 0 at `outMask` and appends the pixel's index (int32) at `rest` for the others.
 * Returns how many were listed.
 */
export function cubic4Rgb8(
  src: usize,
  stride: i32,
  rx0: i32,
  ry0: i32,
  W: i32,
  H: i32,
  mask: usize,
  mstride: i32,
  sxp: usize,
  syp: usize,
  count: i32,
  out: usize,
  outMask: usize,
  rest: usize,
): i32 {
  let n = 0;
  const fW = <f64>W,
    fH = <f64>H;
  // Keys a = −0.5 at the distances 1 + f, f, 1 − f, 2 − f of taps 0..3: weight_t = c3·f³ + c2·f² + c1·f + c0.
  const C3 = f32x4(-0.5, 1.5, -1.5, 0.5);
  const C2 = f32x4(1.0, -2.5, 2.0, -0.5);
  const C1 = f32x4(-0.5, 0.0, 0.5, 0.0);
  const C0 = f32x4(0.0, 1.0, 0.0, 0.0);
  const ONE = f32x4.splat(16384.0);
  const HALF = i32x4.splat(8192);
  const NONE = i8x16.splat(0);
  for (let o = 0; o < count; o++) {
    const x = <f64>load<f32>(sxp + (<usize>o << 2));
    const y = <f64>load<f32>(syp + (<usize>o << 2));
    // Outside the source (or NaN), or taps outside it: the JavaScript loop decides.
    if (!(x >= 0 && x < fW && y >= 0 && y < fH)) {
      store<u8>(outMask + <usize>o, 0);
      store<i32>(rest + (<usize>n << 2), o);
      n++;
      continue;
    }
    const u = x - 0.5,
      v = y - 0.5;
    const fu = Math.floor(u),
      fv = Math.floor(v);
    const x0 = <i32>fu - 1,
      y0 = <i32>fv - 1;
    if (x0 < 0 || y0 < 0 || x0 + 4 > W || y0 + 4 > H) {
      store<u8>(outMask + <usize>o, 0);
      store<i32>(rest + (<usize>n << 2), o);
      n++;
      continue;
    }
    if (mask) {
      // Any of the 16 taps without data (the centre one included): the JavaScript loop decides.
      const m = mask + <usize>((y0 - ry0) * mstride + (x0 - rx0));
      const taps = i32x4(load<i32>(m), load<i32>(m + mstride), load<i32>(m + 2 * mstride), load<i32>(m + 3 * mstride));
      if (v128.any_true(i8x16.eq(taps, NONE))) {
        store<u8>(outMask + <usize>o, 0);
        store<i32>(rest + (<usize>n << 2), o);
        n++;
        continue;
      }
    }
    const X = f32x4.splat(<f32>(u - fu)),
      Y = f32x4.splat(<f32>(v - fv));
    const A = f32x4.add(f32x4.mul(f32x4.add(f32x4.mul(f32x4.add(f32x4.mul(C3, X), C2), X), C1), X), C0);
    const B = f32x4.mul(f32x4.add(f32x4.mul(f32x4.add(f32x4.mul(f32x4.add(f32x4.mul(C3, Y), C2), Y), C1), Y), C0), ONE);
    // Row r's four weights A·B[r] in Q14; rows 0–1 and 2–3 side by side as int16.
    const w0 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(A, f32x4.splat(f32x4.extract_lane(B, 0)))));
    const w1 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(A, f32x4.splat(f32x4.extract_lane(B, 1)))));
    const w2 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(A, f32x4.splat(f32x4.extract_lane(B, 2)))));
    const w3 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(A, f32x4.splat(f32x4.extract_lane(B, 3)))));
    const W01 = i16x8.narrow_i32x4_s(w0, w1);
    const W23 = i16x8.narrow_i32x4_s(w2, w3);
    // Four tap rows of 12 bytes (RGB × 4), regrouped per channel: R of rows 0–1, G of rows 0–1, B of rows 0–1, …
    const p = src + <usize>((y0 - ry0) * stride + (x0 - rx0) * 3);
    const r0 = v128.load(p),
      r1 = v128.load(p + stride),
      r2 = v128.load(p + 2 * stride),
      r3 = v128.load(p + 3 * stride);
    const rg01 = i8x16.shuffle(r0, r1, 0, 3, 6, 9, 16, 19, 22, 25, 1, 4, 7, 10, 17, 20, 23, 26);
    const b01 = i8x16.shuffle(r0, r1, 2, 5, 8, 11, 18, 21, 24, 27, 0, 0, 0, 0, 0, 0, 0, 0);
    const rg23 = i8x16.shuffle(r2, r3, 0, 3, 6, 9, 16, 19, 22, 25, 1, 4, 7, 10, 17, 20, 23, 26);
    const b23 = i8x16.shuffle(r2, r3, 2, 5, 8, 11, 18, 21, 24, 27, 0, 0, 0, 0, 0, 0, 0, 0);
    // Four partial sums per channel (pairs of taps of one row).
    const R = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(rg01), W01), i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(rg23), W23));
    const G = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(rg01), W01), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(rg23), W23));
    const Bs = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(b01), W01), i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(b23), W23));
    const rg = i32x4.add(v128.shuffle<i32>(R, G, 0, 1, 4, 5), v128.shuffle<i32>(R, G, 2, 3, 6, 7));
    const bb = i32x4.add(v128.shuffle<i32>(Bs, Bs, 0, 1, 4, 5), v128.shuffle<i32>(Bs, Bs, 2, 3, 6, 7));
    const sum = i32x4.add(v128.shuffle<i32>(rg, bb, 0, 2, 4, 6), v128.shuffle<i32>(rg, bb, 1, 3, 5, 7));
    // Round half up, clamp to 0..255 (the saturating narrowings), store R, G, B (and one byte the next pixel overwrites).
    const q = i32x4.shr_s(i32x4.add(sum, HALF), 14);
    const h = i16x8.narrow_i32x4_s(q, q);
    v128.store32_lane(out + <usize>o * 3, i8x16.narrow_i16x8_u(h, h), 0);
    store<u8>(outMask + <usize>o, 255);
  }
  return n;
}

/**
 * Both passes of a separable resampling of 8-bit RGB (src/raster/warp-two-pass.ts: every target column has
 * one source x, every target row one source y), for the target pixels whose window lies inside the source.
 * The horizontal pass sums up to eight taps of every listed column with Q14 weights (one 16-bit dot
 * product per channel) for each of the `span` source rows held at `src` (`stride` bytes per row), into
 * `hsum` (four float32 per column and row: R, G, B, unused); the vertical pass sums `tapsY` of those rows
 * per listed target row with float32 weights and stores RGB at `out` (three bytes per target pixel, one byte
 * of padding after the last). Weights are normalised (they sum to 1) by the caller.
 *
 * `colFirst`: per target column, its first tap as a pixel of the region (−1: not resampled here);
 * `colW`: eight int16 weights per column; `rowFirst`: per target row, its first tap as a row of the region
 * (−1: not resampled here); `rowW`: `tapsY` float32 weights per row.
 * Reads go 32 bytes from a column's first tap: the region needs 32 bytes after its last row.
 */
export function twoPassRgb8(
  src: usize,
  stride: i32,
  span: i32,
  colFirst: usize,
  colW: usize,
  width: i32,
  hsum: usize,
  rowFirst: usize,
  rowW: usize,
  tapsY: i32,
  height: i32,
  out: usize,
): void {
  const SCALE = f32x4.splat(1.0 / 16384.0);
  const rowBytes = <usize>width << 4;
  for (let y = 0; y < span; y++) {
    const line = src + <usize>(y * stride);
    const sums = hsum + <usize>y * rowBytes;
    for (let i = 0; i < width; i++) {
      const first = load<i32>(colFirst + (<usize>i << 2));
      if (first < 0) continue;
      const p = line + <usize>first * 3;
      const v0 = v128.load(p),
        v1 = v128.load(p + 16);
      // Eight taps regrouped per channel: R and G side by side, then B.
      const rg = i8x16.shuffle(v0, v1, 0, 3, 6, 9, 12, 15, 18, 21, 1, 4, 7, 10, 13, 16, 19, 22);
      const bq = i8x16.shuffle(v0, v1, 2, 5, 8, 11, 14, 17, 20, 23, 0, 0, 0, 0, 0, 0, 0, 0);
      const w = v128.load(colW + (<usize>i << 4));
      const R = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(rg), w);
      const G = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(rg), w);
      const B = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(bq), w);
      // Four partial sums per channel → [R, G, B, B].
      const rgs = i32x4.add(v128.shuffle<i32>(R, G, 0, 1, 4, 5), v128.shuffle<i32>(R, G, 2, 3, 6, 7));
      const bs = i32x4.add(v128.shuffle<i32>(B, B, 0, 1, 4, 5), v128.shuffle<i32>(B, B, 2, 3, 6, 7));
      const sum = i32x4.add(v128.shuffle<i32>(rgs, bs, 0, 2, 4, 6), v128.shuffle<i32>(rgs, bs, 1, 3, 5, 7));
      v128.store(sums + (<usize>i << 4), f32x4.mul(f32x4.convert_i32x4_s(sum), SCALE));
    }
  }
  const HALF = f32x4.splat(0.5);
  for (let j = 0; j < height; j++) {
    const first = load<i32>(rowFirst + (<usize>j << 2));
    if (first < 0) continue;
    // Column by column, the row sums under this row's taps weighted in a register: the same additions in the
    // same order as accumulating row after row into memory, without storing and reloading accumulators
    // (GetMap, issue 10: ~5 % less CPU per map).
    const weights = rowW + (<usize>(j * tapsY) << 2);
    const column0 = hsum + <usize>first * rowBytes;
    const o = out + <usize>(j * width) * 3;
    const r = <usize>rowBytes;
    for (let i = 0; i < width; i++) {
      if (load<i32>(colFirst + (<usize>i << 2)) < 0) continue;
      let a = f32x4.splat(0);
      let p = column0 + (<usize>i << 4);
      for (let m = 0; m < tapsY; m++, p += r) a = f32x4.add(a, f32x4.mul(v128.load32_splat(weights + (<usize>m << 2)), v128.load(p)));
      // Round half up, clamp to 0..255 (the saturating narrowings), store R, G, B and one byte the next pixel overwrites.
      const q = i32x4.trunc_sat_f32x4_s(f32x4.add(a, HALF));
      const h = i16x8.narrow_i32x4_s(q, q);
      v128.store32_lane(o + <usize>i * 3, i8x16.narrow_i16x8_u(h, h), 0);
    }
  }
}
