import { convertChannels } from '../../src/rok4/channel-convert.js';

export type MergeMethod = 'TOP' | 'ALPHATOP' | 'MULTIPLY' | 'REPLACE';

/** One decoded input slab. */
export interface Layer {
  pixels: Uint8Array | Float32Array;
  /** 0 = nodata; missing = all data. */
  mask?: Uint8Array;
  channels: number;
}

/**
 * Composes input slabs (rok4.md §9.4, overlayNtiff), `layers[0]` on top. Layers are applied from the
 * bottom-most up, over a nodata background with mask 0:
 * - TOP: where a layer's mask ≠ 0 its samples replace what is below — with masks, the result is the first
 *   input having data at each pixel; without masks the first input's whole slab wins;
 * - ALPHATOP: alpha blending where the mask ≠ 0 and alpha ≠ 0 (alpha = the alpha channel of 2/4-channel
 *   layers; white 255,255,255 counts as transparent);
 * - MULTIPLY: v = v · v_s / 255 (uint8) where the mask ≠ 0;
 * - REPLACE: only the first layer (the plan keeps only it).
 * Output mask: the last non-zero mask met going up (255 where a layer has no mask).
 */
export function compose(
  method: MergeMethod,
  layers: Layer[],
  channels: number,
  sampleType: 'uint8' | 'float32',
  nodata: readonly number[],
  pixelCount: number,
): { pixels: Uint8Array | Float32Array; mask: Uint8Array } {
  const C = channels;
  const out = sampleType === 'uint8' ? new Uint8Array(pixelCount * C) : new Float32Array(pixelCount * C);
  for (let p = 0; p < pixelCount; p++) for (let c = 0; c < C; c++) out[p * C + c] = nodata[c];
  const mask = new Uint8Array(pixelCount);
  const used = method === 'REPLACE' ? layers.slice(0, 1) : layers;
  // Alpha of the composite, for ALPHATOP (1 = opaque).
  const alpha = method === 'ALPHATOP' ? new Float32Array(pixelCount).fill(1) : undefined;
  let started = false;
  for (let li = used.length - 1; li >= 0; li--) {
    const layer = used[li];
    const px =
      sampleType === 'uint8' && layer.channels !== C ? convertChannels(layer.pixels as Uint8Array, layer.channels, C) : layer.pixels;
    const lm = layer.mask;
    const hasAlpha = C === 2 || C === 4;
    for (let p = 0; p < pixelCount; p++) {
      const m = lm ? lm[p] : 255;
      if (m === 0) continue;
      const o = p * C;
      if (method === 'TOP' || method === 'REPLACE') {
        for (let c = 0; c < C; c++) out[o + c] = px[o + c];
      } else if (method === 'MULTIPLY') {
        if (mask[p] === 0 && !started) {
          for (let c = 0; c < C; c++) out[o + c] = px[o + c];
        } else {
          for (let c = 0; c < C; c++)
            out[o + c] = sampleType === 'uint8' ? Math.floor((out[o + c] * px[o + c]) / 255) : out[o + c] * px[o + c];
        }
      } else {
        const white = C >= 3 && px[o] === 255 && px[o + 1] === 255 && px[o + 2] === 255;
        const as = white ? 0 : hasAlpha ? px[o + C - 1] / 255 : 1;
        if (as === 0) continue;
        const a = mask[p] === 0 ? 0 : alpha![p];
        if (a === 0) {
          for (let c = 0; c < C; c++) out[o + c] = px[o + c];
          alpha![p] = as;
        } else {
          const na = as + a * (1 - as);
          const colour = hasAlpha ? C - 1 : C;
          for (let c = 0; c < colour; c++) out[o + c] = Math.floor((as * px[o + c] + a * out[o + c] * (1 - as)) / na);
          if (hasAlpha) out[o + C - 1] = Math.floor(na * 255);
          alpha![p] = na;
        }
      }
      mask[p] = m;
    }
    started = true;
  }
  return { pixels: out, mask };
}
