/**
 * Converts interleaved 8-bit pixels between gray (1), gray+alpha (2), RGB (3) and RGBA (4): used
 * when a tile's own encoding (a PNG written by another tool, a JPEG) does not carry the pyramid's
 * channel count. Gray from RGB uses the luminance weights of rok4.md §9.4; added alpha is opaque.
 */
export function convertChannels(pixels: Uint8Array, from: number, to: number): Uint8Array {
  if (from === to) return pixels;
  const count = pixels.length / from;
  const out = new Uint8Array(count * to);
  const fromAlpha = from === 2 || from === 4;
  const toAlpha = to === 2 || to === 4;
  for (let i = 0; i < count; i++) {
    const s = i * from;
    const d = i * to;
    let r: number, g: number, b: number;
    if (from >= 3) {
      r = pixels[s];
      g = pixels[s + 1];
      b = pixels[s + 2];
    } else {
      r = g = b = pixels[s];
    }
    const a = fromAlpha ? pixels[s + from - 1] : 255;
    if (to >= 3) {
      out[d] = r;
      out[d + 1] = g;
      out[d + 2] = b;
    } else {
      out[d] = from >= 3 ? Math.floor(0.2125 * r + 0.7154 * g + 0.0721 * b) : r;
    }
    if (toAlpha) out[d + to - 1] = a;
  }
  return out;
}
