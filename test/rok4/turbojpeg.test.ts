/**
 * The native TurboJPEG path (src/rok4/turbojpeg.ts): the same bytes as sharp when encoding tiles, the same
 * samples when decoding them. Under CI the library must be there (.ci/run installs Debian's libturbojpeg0):
 * without it every tile would silently take the 7× slower path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { jpegDecode, jpegEncode, jpegEncodeWithSharp } from '../../src/rok4/codec-jpeg.js';
import { decodeJpegWasm } from '../../src/rok4/jpeg-wasm-decoder.js';
import { decodeJpegNative, encodeRgbJpegNative, turboJpegAvailable } from '../../src/rok4/turbojpeg.js';
import { skipUnlessAvailable } from '../helpers/env.js';
import { rgbTile } from '../helpers/rgb-tile.js';

const skip = skipUnlessAvailable(turboJpegAvailable(), 'libturbojpeg (Debian libturbojpeg0)');

test('tiles encoded natively are sharp’s stream to the byte (accurate DCT, JFIF, 4:2:0), at every quality', { skip }, async () => {
  for (const kind of ['photo', 'busy'] as const)
    for (const quality of [75, 90, 96, 100]) {
      const px = rgbTile(quality, kind);
      const native = encodeRgbJpegNative(px, 256, 256, quality);
      assert.ok(native, 'encoded natively');
      assert.ok(native.equals(await jpegEncodeWithSharp(px, 256, 256, quality)), `${kind} q${quality}: bytes differ from sharp's`);
      assert.ok((await jpegEncode(px, 256, 256, quality)).equals(native), 'jpegEncode takes the native path');
    }
  // Other sizes than 256 (partial tiles of other TMS, maps): 300 x 200, odd and not a multiple of 16.
  const odd = new Uint8Array(301 * 203 * 3).map((_, i) => (i * 13) & 255);
  assert.ok(encodeRgbJpegNative(odd, 301, 203, 90)!.equals(await jpegEncodeWithSharp(odd, 301, 203, 90)));
});

test('tiles encoded one after the other keep their own bytes (the output buffer is the thread’s)', { skip }, () => {
  const a = encodeRgbJpegNative(rgbTile(11, 'photo'), 256, 256, 90)!;
  const copy = Buffer.from(a);
  encodeRgbJpegNative(rgbTile(12, 'busy'), 256, 256, 90);
  // A larger image grows the buffer; the earlier tile is untouched.
  encodeRgbJpegNative(new Uint8Array(1024 * 1024 * 3).fill(9), 1024, 1024, 100);
  assert.ok(a.equals(copy));
});

test('native decoding gives sharp’s samples (and the WebAssembly decoder’s), into the array given', { skip }, async () => {
  for (const [seed, quality] of [
    [1, 90],
    [2, 75],
    [3, 100],
  ]) {
    const stream = await jpegEncode(rgbTile(seed), 256, 256, quality);
    const bySharp = await sharp(stream).raw().toBuffer();
    const into = new Uint8Array(256 * 256 * 3);
    const ours = decodeJpegNative(stream, into);
    assert.ok(ours, 'decoded');
    assert.equal(ours.data, into, 'decoded into the array given');
    assert.deepEqual([ours.width, ours.height, ours.components], [256, 256, 3]);
    assert.ok(Buffer.from(ours.data).equals(bySharp), `quality ${quality}: samples differ from sharp's`);
    assert.ok(Buffer.from((await decodeJpegWasm(stream))!.data).equals(bySharp));
  }
  const gray = await sharp(Buffer.alloc(64 * 32, 77), { raw: { width: 64, height: 32, channels: 1 } })
    .toColourspace('b-w')
    .jpeg()
    .toBuffer();
  const g = decodeJpegNative(gray);
  assert.deepEqual([g?.width, g?.height, g?.components], [64, 32, 1]);
  assert.ok(Buffer.from(g!.data).equals((await decodeJpegWasm(gray))!.data));
});

test('a damaged stream is refused natively (a truncated tile too) and sharp names the fault', { skip }, async () => {
  const stream = await jpegEncode(rgbTile(4), 256, 256, 90);
  assert.equal(decodeJpegNative(stream.subarray(0, stream.length >> 1)), undefined);
  assert.equal(decodeJpegNative(Buffer.from('not a JPEG stream at all')), undefined);
  await assert.rejects(() => jpegDecode(stream.subarray(0, stream.length >> 1), 256, 256), /premature|truncated|corrupt|VipsJpeg/i);
  await assert.rejects(() => jpegDecode(Buffer.from('not a JPEG stream at all'), 256, 256), /unsupported image format|Input buffer/i);
  // The handle is still good for the next tile.
  assert.ok(Buffer.from(decodeJpegNative(stream)!.data).equals(await sharp(stream).raw().toBuffer()));
});

test('views into larger buffers are read and written where they lie (tiles cut out of strips, decodes into scratch)', { skip }, () => {
  const strip = new Uint8Array(64 * 48 * 3 + 7).map((_, i) => (i * 31) & 255);
  const view = strip.subarray(7);
  const stream = encodeRgbJpegNative(view, 64, 48, 90)!;
  assert.ok(stream.equals(encodeRgbJpegNative(new Uint8Array(view), 64, 48, 90)!));
  const scratch = new Uint8Array(64 * 48 * 3 + 5);
  const into = scratch.subarray(5);
  assert.equal(decodeJpegNative(stream, into)?.data, into);
  assert.ok(Buffer.from(into).equals(Buffer.from(decodeJpegNative(stream)!.data)));
  assert.deepEqual([...scratch.subarray(0, 5)], [0, 0, 0, 0, 0], 'nothing written before the view');
});

test('without the library (DALLAGE_TURBOJPEG=off, or none installed) tiles take sharp and WebAssembly, to the same bytes', async () => {
  const px = rgbTile(21, 'photo');
  const here = new URL('../../src/rok4/codec-jpeg.js', import.meta.url).href;
  const turbo = new URL('../../src/rok4/turbojpeg.js', import.meta.url).href;
  const tile = new URL('../helpers/rgb-tile.js', import.meta.url).href;
  const script = `
    const { jpegEncode, jpegDecode } = await import(${JSON.stringify(here)});
    const { turboJpegAvailable } = await import(${JSON.stringify(turbo)});
    const { rgbTile } = await import(${JSON.stringify(tile)});
    const px = rgbTile(21, 'photo');
    const stream = await jpegEncode(px, 256, 256, 90);
    const decoded = await jpegDecode(stream, 256, 256);
    console.log(JSON.stringify({ native: turboJpegAvailable(), stream: stream.toString('base64'), decoded: Buffer.from(decoded).toString('base64') }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, DALLAGE_TURBOJPEG: 'off' },
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { native: boolean; stream: string; decoded: string };
  assert.equal(out.native, false);
  const stream = Buffer.from(out.stream, 'base64');
  assert.ok(stream.equals(await jpegEncodeWithSharp(px, 256, 256, 90)), 'the fallback encodes with sharp');
  assert.ok(Buffer.from(out.decoded, 'base64').equals(await sharp(stream).raw().toBuffer()), 'and decodes to sharp’s samples');
});
