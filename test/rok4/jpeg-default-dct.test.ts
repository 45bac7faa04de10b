import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jpegEncode, jpegEncodeAccurate } from '../../src/rok4/codec-jpeg.js';
import { encodeJpegTurbo } from '../../src/rok4/jpeg-turbo-encoder.js';

test('by default JPEG tiles keep the accurate DCT (issue 16: no quality lost for speed)', async () => {
  assert.equal(process.env.DALLAGE_JPEG_DCT, undefined, 'run without DALLAGE_JPEG_DCT');
  const px = new Uint8Array(256 * 256 * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * 7 + (i >> 9)) & 255;
  assert.equal(encodeJpegTurbo(px, 256, 256, 90), undefined);
  assert.ok((await jpegEncode(px, 256, 256, 90)).equals(await jpegEncodeAccurate(px, 256, 256, 90)));
});
