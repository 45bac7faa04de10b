/**
 * A 256² RGB tile for codec tests, deterministic: `busy` is gradients wrapped around with up to 4–6 bits of
 * noise (every DCT coefficient busy); `photo` is smooth gradients, an edge and up to 2 bits of noise, closer
 * to aerial imagery (what JPEG quality comparisons are about).
 */
export function rgbTile(seed: number, kind: 'busy' | 'photo' = 'busy'): Uint8Array {
  const px = new Uint8Array(256 * 256 * 3);
  let s = seed >>> 0;
  for (let i = 0; i < 256 * 256; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const x = i % 256,
      y = (i / 256) | 0;
    if (kind === 'busy') {
      px[i * 3] = (x + (s >>> 28)) & 255;
      px[i * 3 + 1] = (y * 2 + (s >>> 27)) & 255;
      px[i * 3 + 2] = ((x ^ y) + (s >>> 26)) & 255;
    } else {
      px[i * 3] = Math.min(255, 60 + x / 2 + (s >>> 30) + (x > 128 && y > 100 ? 60 : 0));
      px[i * 3 + 1] = Math.min(255, 40 + y / 2 + (s >>> 30));
      px[i * 3 + 2] = Math.min(255, 90 + ((x + y) >> 2) + (s >>> 30));
    }
  }
  return px;
}
