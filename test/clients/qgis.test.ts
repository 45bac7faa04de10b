/**
 * Issue 10, "Proof": QGIS itself (Debian python3-qgis, headless) loads a published layer from our WMTS
 * capabilities, as XYZ tiles and from our WMS, renders a map of the layer's extent, and the image shows the data
 * where the pyramid has data and nothing where it has none (../shared/notes/qgis-headless.md says how
 * QGIS runs here).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { skipUnlessPythonModules } from '../helpers/env.js';
import { generate, makeInput } from '../helpers/pyramids.js';
import { publishLayer } from '../helpers/publication.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createTransform } from '../../src/raster/crs.js';

const skip = skipUnlessPythonModules('qgis.core', 'osgeo.gdal');
/** Asynchronous: QGIS talks to a server in this very process, whose event loop must keep running. */
const run = promisify(execFile);

/** Renders each layer (provider "wms": WMTS or XYZ) over an extent; prints what the images hold. */
const RENDER = `
import json, sys
from qgis.core import (QgsApplication, QgsRasterLayer, QgsMapSettings, QgsMapRendererParallelJob,
                       QgsCoordinateReferenceSystem, QgsRectangle)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor
args = json.loads(sys.argv[1])
app = QgsApplication([], False)
app.initQgis()
out = {}
for name, uri in args['layers'].items():
    layer = QgsRasterLayer(uri, name, 'wms')
    if not layer.isValid():
        out[name] = {'valid': False, 'error': layer.error().summary()}
        continue
    result = {'valid': True, 'renders': []}
    for extent in args['extents']:
        ms = QgsMapSettings()
        ms.setLayers([layer])
        ms.setDestinationCrs(QgsCoordinateReferenceSystem(args['crs']))
        ms.setOutputSize(QSize(200, 200))
        ms.setExtent(QgsRectangle(*extent))
        ms.setBackgroundColor(QColor(0, 0, 0, 0))
        job = QgsMapRendererParallelJob(ms)
        job.start()
        job.waitForFinished()
        img = job.renderedImage()
        opaque = sum(1 for y in range(img.height()) for x in range(img.width()) if (img.pixel(x, y) >> 24) & 0xFF)
        result['renders'].append({'opaque': opaque, 'total': img.width() * img.height(), 'errors': [e.message for e in job.errors()]})
    out[name] = result
print(json.dumps(out))
`;

let s: TestServer;
let home: string;
let bbox3857: [number, number, number, number];

before(async () => {
  if (skip) return;
  s = await startTestServer({ processes: { 'raster-to-pyramid': 'raster-to-pyramid' } });
  home = await mkdtemp(path.join(os.tmpdir(), 'dallage-qgis-'));
  const map = await makeInput(s, 'map.tif');
  const record = (
    await generate(s, {
      images: [{ href: map.href }],
      tms: 'PM',
      nodata: 255,
      compression: 'png',
      mask: true,
      width: 4,
      height: 4,
      name: 'Q',
    })
  ).record;
  await publishLayer(s, 'qgis', record._id as string, { title: 'QGIS test layer' });
  // The data's extent in Web Mercator (its bounding box in the TileMatrixSet limits of the bottom level).
  const tileset = (await (await fetch(`${s.url}/collections/qgis/map/tiles/PM`)).json()) as {
    boundingBox?: { lowerLeft: number[]; upperRight: number[] };
  };
  const b = tileset.boundingBox!;
  bbox3857 = [b.lowerLeft[0], b.lowerLeft[1], b.upperRight[0], b.upperRight[1]];
});

after(async () => {
  await s?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

test('QGIS renders the published layer from the WMTS capabilities, as XYZ and from the WMS: data where the pyramid has data', {
  skip,
  timeout: 300_000,
}, async () => {
  // A square of 30 km around the middle of the image (Lambert-93 1,180,000 / 6,180,000: every pixel there is
  // data), and one far away from it (Atlantic): data / no data.
  const [cx, cy] = [Float64Array.of(1_180_000), Float64Array.of(6_180_000)];
  createTransform('EPSG:2154', 'EPSG:3857')(cx, cy);
  const inside: number[] = [cx[0] - 15_000, cy[0] - 15_000, cx[0] + 15_000, cy[0] + 15_000];
  const outside: number[] = [-3_000_000, 5_000_000, -2_970_000, 5_030_000];
  assert.ok(inside[0] > bbox3857[0] && inside[2] < bbox3857[2], 'the square lies in the layer');
  const wmts =
    `url=${s.url}/wmts?SERVICE%3DWMTS%26REQUEST%3DGetCapabilities&layers=qgis&tileMatrixSet=PM&format=image/png` +
    '&styles=normal&crs=EPSG:3857&dpiMode=7';
  const xyz = `type=xyz&url=${s.url}/xyz/qgis/%7Bz%7D/%7Bx%7D/%7By%7D.png&zmin=0&zmax=11`;
  const wms = `url=${s.url}/wms&layers=qgis&styles=&format=image/png&crs=EPSG:3857`;
  const args = JSON.stringify({ crs: 'EPSG:3857', extents: [inside, outside], layers: { wmts, xyz, wms } });
  const { stdout } = await run('/usr/bin/python3', ['-c', RENDER, args], {
    env: { ...process.env, QT_QPA_PLATFORM: 'offscreen', HOME: home, XDG_RUNTIME_DIR: home },
    maxBuffer: 1 << 20,
  });
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<
    string,
    { valid: boolean; error?: string; renders: Array<{ opaque: number; total: number; errors: string[] }> }
  >;
  for (const name of ['wmts', 'xyz', 'wms']) {
    const r = result[name];
    assert.ok(r.valid, `${name}: ${r.error}`);
    const [data, none] = r.renders;
    assert.deepEqual(data.errors, [], name);
    assert.ok(data.opaque > data.total * 0.9, `${name}: the data's middle is drawn (${data.opaque}/${data.total} pixels)`);
    assert.equal(none.opaque, 0, `${name}: nothing is drawn where the pyramid has no data`);
  }
});
