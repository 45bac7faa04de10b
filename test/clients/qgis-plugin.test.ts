/**
 * Issue 15, "Proof": the QGIS plugin (clients/qgis/dallage) in real headless QGIS (Debian python3-qgis,
 * ../shared/notes/qgis-headless.md) against the real server: the provider lists exactly the server's
 * processes with parameters generated from their descriptions; hello-world and raster-to-pyramid run through
 * processing.run from a raster layer opened in QGIS, progress reaches the feedback, and the published pyramid
 * renders in a QgsMapRendererParallelJob; cancelling dismisses the job; a server down and a 400 give clear
 * messages; `qgis_process run` works from the shell.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { skipUnlessCommands, skipUnlessPythonModules } from '../helpers/env.js';
import { generate, keysUnder, makeInput, storedData } from '../helpers/pyramids.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { buildPluginZip } from '../../clients/qgis/build-plugin.js';

const skip = skipUnlessPythonModules('qgis.core', 'osgeo.gdal') || skipUnlessCommands('/usr/bin/qgis_process.bin');
/** Asynchronous: QGIS talks to a server in this very process, whose event loop must keep running. */
const run = promisify(execFile);
const PLUGINS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'clients', 'qgis');

/** QGIS with Processing and the plugin loaded from PLUGINS; the scenario's code follows, `args` its JSON. */
const PRELUDE = `
import json, sys
sys.path.insert(0, '/usr/share/qgis/python/plugins')
sys.path.insert(0, ${JSON.stringify(PLUGINS)})
from qgis.core import (QgsApplication, QgsProcessingFeedback, QgsProcessingContext, QgsProcessingException,
                       QgsProject, QgsRasterLayer, QgsVectorLayer, QgsMapSettings, QgsMapRendererParallelJob)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor
args = json.loads(sys.argv[1])
app = QgsApplication([], False)
app.initQgis()
from processing.core.Processing import Processing
Processing.initialize()
import processing, qgis.utils
assert qgis.utils.loadPlugin('dallage'), 'the plugin does not load'
qgis.utils.startProcessingPlugin('dallage')
provider = QgsApplication.processingRegistry().providerById('dallage')

def render(layer, size=100):
    """Renders the layer's extent in its CRS; returns (opaque pixels, rendering errors)."""
    ms = QgsMapSettings()
    ms.setLayers([layer])
    ms.setDestinationCrs(layer.crs())
    ms.setOutputSize(QSize(size, size))
    ms.setExtent(layer.extent())
    ms.setBackgroundColor(QColor(0, 0, 0, 0))
    job = QgsMapRendererParallelJob(ms)
    job.start()
    job.waitForFinished()
    img = job.renderedImage()
    opaque = sum(1 for y in range(size) for x in range(size) if (img.pixel(x, y) >> 24) & 0xFF)
    return opaque, [e.message for e in job.errors()]

class Feedback(QgsProcessingFeedback):
    def __init__(self, cancel_at=None):
        super().__init__()
        self.progress, self.infos, self.cancel_at = [], [], cancel_at
    def setProgress(self, value):
        self.progress.append(value)
        super().setProgress(value)
        if self.cancel_at is not None and value >= self.cancel_at:
            self.cancel()
    def pushInfo(self, text):
        self.infos.append(text)
        super().pushInfo(text)
`;

let s: TestServer;
let home: string;
let image: string;

async function qgis(code: string, args: Record<string, unknown> = {}, url?: string): Promise<Record<string, unknown>> {
  const { stdout } = await run('/usr/bin/python3', ['-c', PRELUDE + code, JSON.stringify(args)], {
    env: { ...process.env, QT_QPA_PLATFORM: 'offscreen', HOME: home, XDG_RUNTIME_DIR: home, DALLAGE_SERVER_URL: url ?? s.url },
    maxBuffer: 1 << 22,
    timeout: 240_000,
  }).catch((err: { stderr?: string }) => {
    // What QGIS said, not the script: the last lines of its standard error (the Python traceback).
    throw new Error(
      `QGIS failed:\n${String(err.stderr ?? err)
        .split('\n')
        .slice(-15)
        .join('\n')}`,
    );
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

before(async () => {
  if (skip) return;
  s = await startTestServer({
    processes: {
      'hello-world': 'hello-world',
      'raster-to-pyramid': 'raster-to-pyramid',
      'pyramids-to-pyramid': 'pyramids-to-pyramid',
      tiling: 'tiling',
    },
  });
  home = await mkdtemp(path.join(os.tmpdir(), 'dallage-qgis-plugin-'));
  await chmod(home, 0o700);
  image = (await makeInput(s, 'map.tif')).path;
});

after(async () => {
  await s?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

test('the provider lists exactly the server’s processes, with parameters generated from their descriptions', { skip }, async () => {
  const out = await qgis(`
alg = lambda n: provider.algorithm(n)
def describe(a):
    return {p.name(): {'type': p.type(), 'optional': bool(p.flags() & p.FlagOptional), 'description': p.description(),
            'options': p.options() if p.type() == 'enum' else None,
            'min': p.minimum() if p.type() == 'number' else None, 'max': p.maximum() if p.type() == 'number' else None}
            for p in a.parameterDefinitions()}
print(json.dumps({'algorithms': sorted(a.name() for a in provider.algorithms()),
                  'r2p': describe(alg('raster-to-pyramid')), 'p2p': describe(alg('pyramids-to-pyramid'))}))
`);
  const listed = ((await (await fetch(`${s.url}/processes`)).json()) as { processes: Array<{ id: string }> }).processes.map((p) => p.id);
  assert.deepEqual(out.algorithms, [...listed].sort());
  const r2p = out.r2p as Record<
    string,
    { type: string; optional: boolean; description: string; options: string[]; min: number; max: number }
  >;
  assert.equal(r2p.images.type, 'multilayer');
  // images or upload (issue 11): neither is required on its own.
  assert.equal(r2p.images.optional, true);
  assert.equal(r2p.upload.optional, true);
  assert.equal(r2p.name.type, 'string');
  assert.equal(r2p.name.optional, false, 'minOccurs 1: a required parameter');
  assert.equal(r2p.tms.optional, true, 'minOccurs 0: an optional parameter');
  assert.equal(r2p.compression.type, 'enum');
  assert.deepEqual(r2p.compression.options, ['raw', 'jpg', 'jpg90', 'png', 'zip', 'lzw', 'pkb']);
  assert.equal(r2p.mask.type, 'boolean');
  assert.equal(r2p.width.type, 'number');
  assert.deepEqual([r2p.width.min, r2p.width.max], [2, 64]);
  // nodata is a number or an array of numbers: no QGIS widget says that, so it stays, as JSON text.
  assert.equal(r2p.nodata.type, 'string');
  assert.match(r2p.nodata.description, /\[JSON\]/);
  assert.equal(r2p.PUBLISH.type, 'boolean');
  const p2p = out.p2p as Record<string, { type: string }>;
  assert.equal(p2p.bbox.type, 'extent');
  assert.equal(p2p.stored_data.type, 'enum');
});

test('hello-world and raster-to-pyramid run through processing.run from a raster layer; progress reaches the feedback; the published layer renders', {
  skip,
  timeout: 300_000,
}, async () => {
  // A raster big enough that the job lasts several of the plugin's polls (0.3 s): with the shared small map
  // the pyramid could be done between two polls once the pool threads start warm, and no intermediate
  // progress was seen (the test then failed by timing alone).
  const big = (await makeInput(s, 'progress.tif', { width: 4000, height: 4000, pixelSize: 50 })).path;
  const out = await qgis(
    `
hello = processing.run('dallage:hello-world', {'name': 'QGIS'})
feedback = Feedback()
context = QgsProcessingContext()
context.setProject(QgsProject.instance())
layer = QgsRasterLayer(args['image'], 'map')
assert layer.isValid()
r = processing.run('dallage:raster-to-pyramid', {'images': [layer], 'name': 'FROMQGIS', 'tms': 'PM', 'compression': 3,
                   'mask': True, 'nodata': '255', 'PUBLISH': True}, feedback=feedback, context=context)
published = r['LAYER']
opaque, errors = render(published, 200)
print(json.dumps({'hello': json.loads(hello['RESULTS']), 'job': r['JOB_ID'], 'results': json.loads(r['RESULTS']),
                  'progress': feedback.progress, 'infos': feedback.infos, 'layer': published.name(),
                  'opaque': opaque, 'errors': errors}))
`,
    { image: big },
  );
  assert.deepEqual(out.hello, { greeting: { id: 'greeting', value: 'Hello QGIS!' } });
  const job = (await (await fetch(`${s.url}/jobs/${out.job}`)).json()) as { status: string; processID: string };
  assert.equal(job.status, 'successful');
  assert.equal(job.processID, 'raster-to-pyramid');
  const record = (out.results as { pyramid: { _id: string; name: string; status: string } }).pyramid;
  assert.equal(record.name, 'FROMQGIS');
  assert.equal(record.status, 'READY');
  const progress = out.progress as number[];
  assert.ok(progress.length >= 2 && progress.at(-1) === 100, `progress reached the feedback: ${progress}`);
  assert.ok(
    progress.some((p) => p > 0 && p < 100),
    `intermediate progress: ${progress}`,
  );
  // Published: an offering serves the layer QGIS added, and QGIS drew data from it.
  const offerings = (await (await fetch(`${s.url}/offerings?layer_name=${out.layer}`)).json()) as { offerings: unknown[] };
  assert.equal(offerings.offerings.length, 1);
  assert.deepEqual(out.errors, []);
  assert.ok((out.opaque as number) > 200 * 200 * 0.2, `the layer shows data (${out.opaque} opaque pixels)`);
});

test('the browser entry lists offerings (each a WMTS layer that renders) and stored data; an unpublished pyramid is published from its item', {
  skip,
  timeout: 300_000,
}, async () => {
  const map = await makeInput(s, 'browse.tif');
  const unpublished = (await generate(s, { images: [{ href: map.href }], tms: 'PM', compression: 'png', name: 'UNPUBLISHED' })).record;
  const out = await qgis(`
qgis.utils.plugins['dallage'].initGui()
provider = [p for p in QgsApplication.dataItemProviderRegistry().providers() if p.name() == 'dallage'][0]
root = provider.createDataItem('', None)
sections = {c.name(): c for c in root.createChildren()}
layers = sections['Offerings'].createChildren()
stored = {c.record['name']: c for c in sections['Stored data'].createChildren()}
def render_item(item):
    layer = QgsRasterLayer(item.uri(), item.name(), item.providerKey())
    return render(layer)[0] if layer.isValid() else -1
before = [c.name() for c in stored['UNPUBLISHED'].createChildren()]
published = stored['UNPUBLISHED'].publish()
after = stored['UNPUBLISHED'].createChildren()
print(json.dumps({'sections': sorted(sections), 'layers': [l.name() for l in layers],
                  'rendered': {l.name(): render_item(l) for l in layers}, 'stored': sorted(stored),
                  'before': before, 'published': published, 'after': [c.name() for c in after], 'after_render': render_item(after[0])}))
`);
  assert.deepEqual(out.sections, ['Offerings', 'Stored data']);
  const offerings = ((await (await fetch(`${s.url}/offerings`)).json()) as { offerings: Array<{ layer_name: string }> }).offerings;
  assert.deepEqual(
    [...(out.layers as string[])].sort(),
    offerings
      .map((o) => o.layer_name)
      .sort()
      .filter((n) => n !== out.published),
  );
  for (const [name, opaque] of Object.entries(out.rendered as Record<string, number>))
    assert.ok(opaque > 100 * 100 * 0.2, `${name} renders data (${opaque})`);
  assert.ok((out.stored as string[]).includes('UNPUBLISHED') && (out.stored as string[]).includes('FROMQGIS'));
  assert.deepEqual(out.before, []);
  assert.deepEqual(out.after, [out.published]);
  assert.ok((out.after_render as number) > 100 * 100 * 0.2, 'the layer published from the browser renders data');
  const used = (await (await fetch(`${s.url}/offerings?layer_name=${out.published}`)).json()) as {
    offerings: Array<{ served: { used_data: Array<{ stored_data: string }> } }>;
  };
  assert.deepEqual(
    used.offerings[0].served.used_data.map((u) => u.stored_data),
    [unpublished._id],
  );
});

test('tiling from QGIS: the catalog’s footprints come back as an OGC API – Features layer and each COG as a raster read by ranges', {
  skip,
  timeout: 300_000,
}, async () => {
  const out = await qgis(
    `
context = QgsProcessingContext()
context.setProject(QgsProject.instance())
def browse_catalog(name):
    # The browser entry: the catalog under 'Stored data', its footprints (OAPIF) and its COGs as layers to add.
    qgis.utils.plugins['dallage'].initGui()
    provider = [p for p in QgsApplication.dataItemProviderRegistry().providers() if p.name() == 'dallage'][0]
    sections = {c.name(): c for c in provider.createDataItem('', None).createChildren()}
    stored = {c.record['name']: c for c in sections['Stored data'].createChildren()}
    children = stored[name].createChildren()
    layers = []
    for child in children:
        layer = (QgsVectorLayer if child.providerKey() == 'OAPIF' else QgsRasterLayer)(child.uri(), child.name(), child.providerKey())
        count = layer.featureCount() if isinstance(layer, QgsVectorLayer) else layer.width()
        layers.append({'name': child.name(), 'provider': child.providerKey(), 'valid': layer.isValid(), 'count': count})
    return {'label': stored[name].name(), 'layers': layers}

r = processing.run('dallage:tiling', {'files': [QgsRasterLayer(args['image'], 'map')],
                   'target': json.dumps({'serviceName': 'qgiscat', 'createNewService': True}), 'polygonize': True,
                   'LOAD_CATALOG': True}, context=context)
footprints = r['FOOTPRINTS']
cogs = [context.getMapLayer(i) if isinstance(i, str) else i for i in r['COGS']]
features = list(footprints.getFeatures())
cog = cogs[0]
block = cog.dataProvider().block(1, cog.extent(), 64, 64)
valid = sum(1 for y in range(64) for x in range(64) if not block.isNoData(y, x))
print(json.dumps({'provider': footprints.providerType(), 'features': len(features),
                  'geometry': features[0].geometry().type() if features else None, 'crs': footprints.crs().authid(),
                  'cogs': len(cogs), 'cog_source': cog.source(), 'cog_size': [cog.width(), cog.height()], 'valid': valid,
                  'browser': browse_catalog('qgiscat')}))
`,
    { image },
  );
  assert.equal(out.provider, 'OAPIF');
  assert.equal(out.features, 1);
  assert.equal(out.geometry, 2, 'a polygon footprint');
  assert.equal(out.cogs, 1);
  assert.match(String(out.cog_source), /^\/vsicurl\/http:\/\/127\.0\.0\.1:\d+\/collections\/qgiscat\/items\/[^/]+\/data$/);
  assert.ok((out.cog_size as number[])[0] > 0);
  assert.ok((out.valid as number) > 64 * 64 * 0.2, `the COG's pixels are read (${out.valid} valid of a 64² block)`);
  // The same catalog from the browser entry: footprints and each COG addable as layers.
  const browser = out.browser as { label: string; layers: Array<{ name: string; provider: string; valid: boolean; count: number }> };
  assert.match(browser.label, /^qgiscat \(RASTER-CATALOG\)$/);
  assert.deepEqual(
    browser.layers.map((l) => [l.provider, l.valid]),
    [
      ['OAPIF', true],
      ['gdal', true],
    ],
    JSON.stringify(browser.layers),
  );
  assert.equal(browser.layers[0].count, 1, 'the footprints layer has the catalog’s one item');
  assert.deepEqual(browser.layers[1].count, (out.cog_size as number[])[0], 'the COG item is the same COG');
});

test('a raster the server cannot read by href travels as an upload: declared, sent, closed, checked, then read by the job', {
  skip,
  timeout: 300_000,
}, async () => {
  // A file outside the server's input roots, as on another machine.
  const outside = path.join(s.dir, 'outside');
  await mkdir(outside, { recursive: true });
  await copyFile(image, path.join(outside, 'remote.tif'));
  const out = await qgis(
    `
feedback = Feedback()
r = processing.run('dallage:raster-to-pyramid', {'images': [QgsRasterLayer(args['image'], 'remote')], 'name': 'REMOTE', 'tms': 'PM'},
                   feedback=feedback)
print(json.dumps({'job': r['JOB_ID'], 'results': json.loads(r['RESULTS']), 'infos': feedback.infos}))
`,
    { image: path.join(outside, 'remote.tif') },
  );
  assert.ok(
    (out.infos as string[]).some((i) => /sending them as an upload/.test(i)),
    'the plugin said why it uploads',
  );
  const record = (out.results as { pyramid: { status: string; name: string } }).pyramid;
  assert.deepEqual([record.name, record.status], ['REMOTE', 'READY']);
  const job = (await (await fetch(`${s.url}/jobs/${out.job}`)).json()) as { inputs?: { upload?: string[] } };
  const [uploadId] = job.inputs?.upload ?? [];
  assert.ok(uploadId, `the job read an upload: ${JSON.stringify(job)}`);
  const upload = (await (await fetch(`${s.url}/uploads/${uploadId}`)).json()) as { status: string; type: string; srs?: string };
  assert.equal(upload.status, 'CLOSED');
  assert.equal(upload.type, 'RASTER');
  const tree = JSON.stringify(await (await fetch(`${s.url}/uploads/${uploadId}/tree`)).json());
  assert.match(tree, /remote\.tif/);
});

test('cancel in QGIS dismisses the job: the server says dismissed and the partial pyramid is removed', {
  skip,
  timeout: 300_000,
}, async () => {
  // A raster big enough that the job still runs when the plugin's next poll sends the dismiss: with the
  // shared small map the 30-slab pyramid could end first on an idle machine, and a dismiss after success
  // leaves the READY pyramid, a stored data outliving its job (the test then failed by timing alone).
  const big = (await makeInput(s, 'cancelled.tif', { width: 4000, height: 4000, pixelSize: 50 })).path;
  const out = await qgis(
    `
feedback = Feedback(cancel_at=1)
error = None
try:
    processing.run('dallage:raster-to-pyramid', {'images': [QgsRasterLayer(args['image'], 'map')], 'name': 'CANCELLED',
                   'tms': 'PM', 'width': 2, 'height': 2}, feedback=feedback)
except QgsProcessingException as err:
    error = str(err)
print(json.dumps({'error': error, 'infos': feedback.infos}))
`,
    { image: big },
  );
  assert.match(String(out.error), /cancelled: job \S+ dismissed/);
  const jobId = /job (\S+) dismissed/.exec(String(out.error))![1];
  const job = (await (await fetch(`${s.url}/jobs/${jobId}`)).json()) as { status: string };
  assert.equal(job.status, 'dismissed');
  const [record] = await storedData(s, '?name=CANCELLED&status=DELETED');
  assert.equal(record?.status, 'DELETED');
  for (let k = 0; k < 100 && (await keysUnder(s, 'pyramids/CANCELLED/')).length > 0; k++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(await keysUnder(s, 'pyramids/CANCELLED/'), [], 'the partial pyramid is removed');
});

test('bad cases: a 400 names its input; a server down gives a clear message at once, no hang and no algorithm', { skip }, async () => {
  const out = await qgis(
    `
errors = {}
try:
    processing.run('dallage:raster-to-pyramid', {'images': [QgsRasterLayer(args['image'], 'map')], 'name': 'bad name!'})
except QgsProcessingException as err:
    errors['invalid'] = str(err)
try:
    processing.run('dallage:raster-to-pyramid', {'images': [QgsRasterLayer(args['image'], 'map')], 'name': 'OK', 'nodata': '[255,'})
except QgsProcessingException as err:
    errors['json'] = str(err)
import os, time
os.environ['DALLAGE_SERVER_URL'] = args['down']
t0 = time.time()
try:
    processing.run('dallage:hello-world', {'name': 'x'})
except QgsProcessingException as err:
    errors['down'] = str(err)
errors['down_s'] = time.time() - t0
provider.refreshAlgorithms()
errors['algorithms_when_down'] = len(provider.algorithms())
print(json.dumps(errors))
`,
    { image, down: 'http://127.0.0.1:9' },
  );
  assert.match(String(out.invalid), /400/);
  assert.match(String(out.invalid), /input 'name'/);
  assert.match(String(out.json), /input 'nodata': not valid JSON/);
  assert.match(String(out.down), /cannot reach the dallage server at http:\/\/127\.0\.0\.1:9/);
  assert.ok((out.down_s as number) < 15, 'no hang');
  assert.equal(out.algorithms_when_down, 0);
});

test('qgis_process runs dallage:hello-world from the shell', { skip, timeout: 120_000 }, async () => {
  const env = {
    ...process.env,
    QT_QPA_PLATFORM: 'offscreen',
    HOME: home,
    XDG_RUNTIME_DIR: home,
    QGIS_PLUGINPATH: PLUGINS,
    DALLAGE_SERVER_URL: s.url,
  };
  // The /usr/bin/qgis_process wrapper of Debian passes an option qgis_process rejects: the binary is called.
  await run('/usr/bin/qgis_process.bin', ['plugins', 'enable', 'dallage'], { env });
  const { stdout } = await run('/usr/bin/qgis_process.bin', ['--json', 'run', 'dallage:hello-world', '--', 'name=shell'], {
    env,
    maxBuffer: 1 << 22,
  });
  const result = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { results: { RESULTS: string; JOB_ID: string } };
  assert.deepEqual(JSON.parse(result.results.RESULTS), { greeting: { id: 'greeting', value: 'Hello shell!' } });
  const job = (await (await fetch(`${s.url}/jobs/${result.results.JOB_ID}`)).json()) as { status: string };
  assert.equal(job.status, 'successful');
});

test('npm run build:qgis-plugin packs an archive QGIS installs: Python reads it whole, QGIS loads the plugin extracted from it', {
  skip,
  timeout: 120_000,
}, async () => {
  const target = await mkdtemp(path.join(os.tmpdir(), 'dallage-qgis-zip-'));
  try {
    const zip = path.join(target, 'dallage-qgis-plugin.zip');
    const names = buildPluginZip(undefined, zip);
    assert.ok(names.includes('dallage/metadata.txt') && names.includes('dallage/__init__.py'));
    const extracted = path.join(target, 'plugins');
    const check = `import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nz.extractall(sys.argv[2])\nprint(len(z.namelist()))`;
    const { stdout } = await run('/usr/bin/python3', ['-c', check, zip, extracted]);
    assert.equal(Number(stdout.trim()), names.length);
    const env = { ...process.env, QT_QPA_PLATFORM: 'offscreen', HOME: home, XDG_RUNTIME_DIR: home, QGIS_PLUGINPATH: extracted };
    const plugins = await run('/usr/bin/qgis_process.bin', ['plugins'], { env });
    assert.match(plugins.stdout, /dallage/);
  } finally {
    await rm(target, { recursive: true, force: true });
  }
});
