import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { jpegDecode, jpegEncode } from '../../src/rok4/codec-jpeg.js';
import { decodeJpegWasm } from '../../src/rok4/jpeg-wasm-decoder.js';
import { rgbTile } from '../helpers/rgb-tile.js';

test('the WebAssembly decoder gives sharp’s samples to the byte, for ROK4 tiles at both qualities', async () => {
  for (const [seed, quality] of [
    [1, 90],
    [2, 75],
    [3, 90],
  ]) {
    const stream = await jpegEncode(rgbTile(seed), 256, 256, quality);
    const bySharp = await sharp(stream).raw().toBuffer();
    const ours = await decodeJpegWasm(stream);
    assert.ok(ours, 'decoded');
    assert.deepEqual([ours.width, ours.height, ours.components], [256, 256, 3]);
    assert.ok(Buffer.from(ours.data).equals(bySharp), `quality ${quality}: samples differ from sharp's`);
    // jpegDecode (native TurboJPEG here when the system has it, else this path) hands back the same samples.
    assert.ok(Buffer.from(await jpegDecode(stream, 256, 256)).equals(bySharp));
  }
});

test('a gray JPEG decodes to RGB; a wrong size is named', async () => {
  const gray = await sharp(Buffer.alloc(64 * 32, 77), { raw: { width: 64, height: 32, channels: 1 } })
    .toColourspace('b-w')
    .jpeg()
    .toBuffer();
  assert.equal((await decodeJpegWasm(gray))?.components, 1);
  const rgb = await jpegDecode(gray, 64, 32);
  assert.equal(rgb.length, 64 * 32 * 3);
  assert.ok(rgb.every((v) => Math.abs(v - 77) <= 1));
  await assert.rejects(() => jpegDecode(gray, 32, 32), /JPEG tile is 64x32, 32x32 expected/);
});

test('a corrupt stream is left to sharp, which names the fault, and the next tile still decodes', async () => {
  const stream = await jpegEncode(rgbTile(4), 256, 256, 90);
  assert.equal(await decodeJpegWasm(stream.subarray(0, stream.length >> 1)), undefined);
  assert.equal(await decodeJpegWasm(Buffer.from('not a JPEG stream at all')), undefined);
  await assert.rejects(() => jpegDecode(Buffer.from('not a JPEG stream at all'), 256, 256), /unsupported image format|Input buffer/i);
  const again = await decodeJpegWasm(stream);
  assert.ok(again && Buffer.from(again.data).equals(await sharp(stream).raw().toBuffer()));
});
