/**
 * An RGBA image flattened over a background colour into RGB (WMS TRANSPARENT=FALSE with BGCOLOR, 06-042
 * §7.3.3): an opaque pixel as it is, else each channel round((c·a + bg·(255 − a)) / 255).
 * assembly/png-filter.ts's `flattenRgba` gives the same numbers for PNG maps.
 */
export function flattenRgbaOver(rgba: Uint8Array, pixels: number, bg: readonly [number, number, number], out: Uint8Array): Uint8Array {
  for (let p = 0, o = 0; p < pixels * 4; p += 4, o += 3) {
    const a = rgba[p + 3];
    if (a === 255) {
      out[o] = rgba[p];
      out[o + 1] = rgba[p + 1];
      out[o + 2] = rgba[p + 2];
    } else {
      for (let c = 0; c < 3; c++) out[o + c] = Math.round((rgba[p + c] * a + bg[c] * (255 - a)) / 255);
    }
  }
  return out;
}
