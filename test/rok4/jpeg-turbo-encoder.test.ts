import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jpegDecode, jpegEncode, jpegEncodeAccurate } from '../../src/rok4/codec-jpeg.js';
import { encodeJpegTurbo } from '../../src/rok4/jpeg-turbo-encoder.js';
import { rgbTile } from '../helpers/rgb-tile.js';

// The native fast-DCT encoder is chosen by the environment (read at the first encode of a thread); this file
// runs in a process of its own.
process.env.DALLAGE_JPEG_DCT = 'fast';

function psnr(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return 10 * Math.log10((255 * 255) / (sum / a.length));
}

/** Marker segments of a JPEG stream up to its scan: [marker, payload]. */
function segments(stream: Uint8Array): Array<[number, Uint8Array]> {
  const out: Array<[number, Uint8Array]> = [];
  assert.deepEqual([stream[0], stream[1]], [0xff, 0xd8], 'SOI');
  for (let p = 2; p < stream.length; ) {
    assert.equal(stream[p], 0xff, `marker at ${p}`);
    const marker = stream[p + 1];
    const length = (stream[p + 2] << 8) | stream[p + 3];
    out.push([marker, stream.subarray(p + 4, p + 2 + length)]);
    if (marker === 0xda) break;
    p += 2 + length;
  }
  return out;
}

test('with DALLAGE_JPEG_DCT=fast, TurboJPEG encodes ROK4 tiles natively: baseline JFIF, 4:2:0, standard tables (rok4.md §5.2)', async () => {
  // The CI machines are linux x64: the prebuilt binding must load there (else every tile would silently
  // take the 8x slower path).
  assert.ok(encodeJpegTurbo(rgbTile(1, 'photo'), 256, 256, 90), 'the native encoder takes quality 90');
  for (const quality of [75, 90]) {
    const stream = await jpegEncode(rgbTile(quality, 'photo'), 256, 256, quality);
    const markers = segments(stream);
    const kinds = markers.map(([m]) => m);
    assert.equal(kinds[0], 0xe0, 'APP0 first');
    assert.equal(Buffer.from(markers[0][1].subarray(0, 5)).toString('latin1'), 'JFIF\0');
    assert.ok(kinds.includes(0xc0), 'SOF0 (baseline)');
    assert.ok(!kinds.includes(0xc2) && !kinds.includes(0xc1), 'neither progressive nor extended');
    assert.ok(!kinds.includes(0xdd), 'no restart interval');
    assert.ok(kinds.includes(0xc4), 'Huffman tables written (standard ones: optimisation off)');
    const sof = markers.find(([m]) => m === 0xc0)![1];
    // precision 8, height, width, 3 components: Y 2x2, Cb 1x1, Cr 1x1.
    assert.deepEqual([sof[0], (sof[1] << 8) | sof[2], (sof[3] << 8) | sof[4], sof[5]], [8, 256, 256, 3]);
    assert.deepEqual([sof[7], sof[10], sof[13]], [0x22, 0x11, 0x11]);
    assert.deepEqual([stream[stream.length - 2], stream[stream.length - 1]], [0xff, 0xd9], 'EOI');
  }
});

test('the fast DCT costs under 0.1 dB against the accurate one at qualities 75 and 90; above 95 the accurate one is used', async () => {
  for (const quality of [75, 90]) {
    const px = rgbTile(quality + 7, 'photo');
    const fast = await jpegDecode(await jpegEncode(px, 256, 256, quality), 256, 256);
    const accurate = await jpegDecode(await jpegEncodeAccurate(px, 256, 256, quality), 256, 256);
    const loss = psnr(px, accurate) - psnr(px, fast);
    assert.ok(loss < 0.1, `quality ${quality}: ${loss.toFixed(3)} dB lost`);
  }
  const px = rgbTile(3, 'photo');
  assert.equal(encodeJpegTurbo(px, 256, 256, 96), undefined);
  assert.ok((await jpegEncode(px, 256, 256, 96)).equals(await jpegEncodeAccurate(px, 256, 256, 96)));
});

test('tiles encoded one after the other keep their own bytes (the output buffer is shared by the thread)', async () => {
  const a = await jpegEncode(rgbTile(11, 'photo'), 256, 256, 90);
  const copy = Buffer.from(a);
  await jpegEncode(rgbTile(12, 'photo'), 256, 256, 90);
  assert.ok(a.equals(copy));
  // Other sizes than 256 (partial tiles of other TMS, maps): 300 x 200.
  const odd = new Uint8Array(300 * 200 * 3).fill(128);
  const decoded = await jpegDecode(await jpegEncode(odd, 300, 200, 90), 300, 200);
  assert.ok(decoded.every((v) => Math.abs(v - 128) <= 1));
});
