import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTransform, normalizeCrsCode, resolveCrs, sameCrs, transformBbox, UnknownCrsError } from '../../src/raster/crs.js';

const close = (a: number, b: number, tol: number, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

test('CRS codes in every accepted spelling resolve to the same canonical id', () => {
  for (const code of [
    'EPSG:2154',
    'epsg:2154',
    'urn:ogc:def:crs:EPSG::2154',
    'urn:ogc:def:crs:EPSG:6.6:2154',
    'http://www.opengis.net/def/crs/EPSG/0/2154',
  ]) {
    assert.equal(resolveCrs(code).id, 'EPSG:2154', code);
  }
  assert.equal(normalizeCrsCode('urn:ogc:def:crs:EPSG:6.6:4326'), 'EPSG:4326');
  assert.equal(resolveCrs('CRS84').id, 'OGC:CRS84');
  assert.equal(resolveCrs('OGC:CRS84').id, 'OGC:CRS84');
  assert.equal(resolveCrs('http://www.opengis.net/def/crs/OGC/1.3/CRS84').id, 'OGC:CRS84');
  assert.equal(resolveCrs('IGNF:LAMB93').id, 'IGNF:LAMB93');
  assert.equal(resolveCrs('ignf:wgs84g').id, 'IGNF:WGS84G');
});

test('geographic flag and unit', () => {
  assert.deepEqual([resolveCrs('EPSG:4326').geographic, resolveCrs('EPSG:4326').unit], [true, 'degree']);
  assert.deepEqual([resolveCrs('EPSG:2154').geographic, resolveCrs('EPSG:2154').unit], [false, 'm']);
  assert.deepEqual([resolveCrs('EPSG:3857').geographic, resolveCrs('EPSG:3857').unit], [false, 'm']);
  assert.equal(resolveCrs('IGNF:WGS84G').geographic, true);
  // any EPSG code of the index, e.g. UTM 32N and RGAF09 / UTM 20N (Antilles, a ROK4 TMS CRS)
  assert.match(resolveCrs('EPSG:32632').proj4, /\+proj=utm/);
  assert.match(resolveCrs('EPSG:5490').proj4, /\+zone=20/);
});

test('unknown or malformed codes throw an error naming them', () => {
  assert.throws(
    () => resolveCrs('EPSG:999999'),
    (e: unknown) => e instanceof UnknownCrsError && /EPSG:999999/.test(e.message),
  );
  assert.throws(() => resolveCrs('IGNF:NOPE'), /IGNF:NOPE/);
  assert.throws(() => resolveCrs('banana'), /banana/);
  assert.throws(() => resolveCrs('EPSG:abc'), /EPSG:abc/);
});

test('Lambert-93 origin and IGNF:LAMB93 equal EPSG:2154 (x/lon first)', () => {
  for (const crs of ['EPSG:2154', 'IGNF:LAMB93']) {
    const xs = Float64Array.of(3, 2.3522);
    const ys = Float64Array.of(46.5, 48.8566);
    createTransform('EPSG:4326', crs)(xs, ys);
    close(xs[0], 700000, 1e-3, crs);
    close(ys[0], 6600000, 1e-3, crs);
    // Paris Notre-Dame area, value from PROJ (cs2cs EPSG:4326 EPSG:2154): 652469.0, 6862035.3
    close(xs[1], 652469.0, 1, crs);
    close(ys[1], 6862035.3, 1, crs);
  }
});

test('Web Mercator transform and inverse', () => {
  const xs = Float64Array.of(180, -180, 0);
  const ys = Float64Array.of(0, 0, 85.0511287798066);
  createTransform('CRS84', 'EPSG:3857')(xs, ys);
  close(xs[0], 20037508.3427892, 1e-4);
  close(xs[1], -20037508.3427892, 1e-4);
  close(ys[2], 20037508.3427892, 1e-2);
  createTransform('EPSG:3857', 'EPSG:4326')(xs, ys);
  close(xs[0], 180, 1e-9);
  close(ys[2], 85.0511287798066, 1e-9);
});

test('identity transform leaves arrays untouched for equal CRSs', () => {
  const xs = Float64Array.of(1.5, 2.5);
  const ys = Float64Array.of(3.5, 4.5);
  createTransform('EPSG:4326', 'CRS84')(xs, ys);
  createTransform('EPSG:2154', 'urn:ogc:def:crs:EPSG::2154')(xs, ys);
  assert.deepEqual([...xs, ...ys], [1.5, 2.5, 3.5, 4.5]);
  assert.ok(sameCrs('EPSG:4326', 'OGC:CRS84'));
});

test('transformBbox densifies the edges', () => {
  // A Lambert-93 box: its northern edge bulges north in lon/lat, so the densified envelope must reach
  // beyond the corners' latitude.
  const bbox = transformBbox([100000, 6000000, 1200000, 7100000], 'EPSG:2154', 'EPSG:4326');
  const corners = transformBbox([100000, 6000000, 1200000, 7100000], 'EPSG:2154', 'EPSG:4326', 2);
  assert.ok(bbox[3] > corners[3] + 0.01, `${bbox[3]} > ${corners[3]}`);
  assert.ok(bbox[0] <= corners[0] && bbox[2] >= corners[2]);
  // round trip of a degree box contains the original
  const l93 = transformBbox([2, 48, 3, 49], 'EPSG:4326', 'EPSG:2154');
  const back = transformBbox(l93, 'EPSG:2154', 'EPSG:4326');
  assert.ok(back[0] <= 2 && back[1] <= 48 && back[2] >= 3 && back[3] >= 49);
});
