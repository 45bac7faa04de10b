/**
 * bench:tiles — tile and map serving of a published pyramid (issue 10, "Benchmark"), in one run:
 *  1. random GetTile requests inside the tile limits of the M pyramid (PM, jpg90), 16 connections, against
 *     our server and against a bare node:http server sending the same tile bytes from memory (this machine's
 *     limit); then 100,000 GetTile requests with the server's RSS sampled (flat?);
 *  2. WMS GetMap 512×512 PNG in EPSG:4326 at random places over M;
 *  3. the peer: MapProxy (Debian python3-mapproxy under gunicorn, 2 workers) serving the same tiles from its
 *     file cache, seeded from our server with mapproxy-seed, and its WMS GetMap from that cache.
 * Prints req/s, p50, p99, RSS, the ratios and the goals (never asserted: this is a measurement).
 *
 * Usage: npm run bench:tiles [-- --seconds 10] (M is made in $DALLAGE_BENCH_DIR or .bench/ when absent).
 * MapProxy is skipped, saying how to install it, when `python3 -c "import mapproxy"` or gunicorn fail.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { hasWrk, load, type LoadClient, type LoadResult } from './http-load.js';
import { makeSyntheticMap, SYNTHETIC_SIZES } from '../test/fixtures/synthetic-raster.js';

const require = createRequire(import.meta.url);
// autocannon ships no types; only the members used here are declared. It sends the 100,000 requests of the
// RSS check (a count, which wrk has no option for); the timed runs use bench/http-load.ts.
const autocannon = require('autocannon') as (opts: Record<string, unknown>) => Promise<unknown>;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const option = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const SECONDS = Number(option('--seconds') ?? 10);
/** The load generator of the timed runs (bench/http-load.ts says why wrk by default). */
const CLIENT: LoadClient = option('--client') === 'autocannon' || !hasWrk() ? 'autocannon' : 'wrk';
const CONNECTIONS = 16;
const SAMPLE = 3000;
const GOALS = { tileVsBare: 0.5, p99Ms: 20, mapsPerS: 50, tileVsMapProxy: 3, mapVsMapProxy: 2 };

// ---------------------------------------------------------------- child: our server
async function serve(dir: string, inputs: string): Promise<void> {
  const { parseConfig } = await import('../src/config.js');
  const { startServer } = await import('../src/server.js');
  const config = parseConfig(
    JSON.stringify({
      server: { host: '127.0.0.1', port: 0 },
      manager: { name: 'lowdb', connection: path.join(dir, 'jobs') },
      storage: { type: 'file', path: path.join(dir, 'store') },
      processes: { 'raster-to-pyramid': 'raster-to-pyramid' },
      pool: { threads: 2 },
      security: { input_roots: [inputs] },
      logging: { enabled: false },
    }),
    {},
    'bench config',
  );
  const server = await startServer(config);
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
  process.send!({ url: server.url });
}

// ---------------------------------------------------------------- child: the bare server
function serveBare(file: string): void {
  const tiles = new Map(
    Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
  );
  const server = http.createServer((req, res) => {
    const body = tiles.get(req.url ?? '');
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => process.send!({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  process.on('SIGTERM', () => process.exit(0));
}

// ---------------------------------------------------------------- parent
function start(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(fileURLToPath(import.meta.url), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { url: string }) => resolve({ child, url: m.url }));
    child.once('exit', (code) => reject(new Error(`child ${args[0]} exited with ${code}`)));
  });
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
  return line ? Number(line[1]) / 1024 : Number.NaN;
}

/** CPU seconds (user + system, every thread) a process has used: /proc/<pid>/stat fields 14 and 15, in ticks. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function json(url: string, init?: RequestInit): Promise<Record<string, unknown>> {
  const res = await fetch(url, init);
  const body = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** Scratch folder of the run (wrk's script and path lists). */
let scratch = os.tmpdir();

async function run(name: string, opts: { url: string; paths: readonly string[]; duration?: number }): Promise<LoadResult> {
  const r = await load(CLIENT, { url: opts.url, paths: opts.paths, seconds: opts.duration ?? SECONDS, connections: CONNECTIONS, scratch });
  const ms = (v: number) => (v < 10 ? v.toFixed(1) : v.toFixed(0)).padStart(4);
  console.log(
    `${name.padEnd(44)} ${r.rate.toFixed(0).padStart(7)} req/s  p50 ${ms(r.p50Ms)} ms  p99 ${ms(r.p99Ms)} ms  ` +
      `${(r.bytesPerAnswer / 1024).toFixed(0).padStart(3)} KiB/answer, client CPU ${r.clientCpuMs.toFixed(2)} ms/answer${r.bad ? `  (${r.bad} non-2xx/errors!)` : ''}`,
  );
  return r;
}

/**
 * Share of the pixels of these PNG maps that show data: neither transparent nor background white. Near-white
 * counts as background: MapProxy's cache holds our JPEG tiles, whose nodata white comes back as 253–255.
 */
async function drawnShare(urls: string[]): Promise<number> {
  let drawn = 0,
    total = 0;
  for (const url of urls) {
    const { data, info } = await sharp(Buffer.from(await (await fetch(url)).arrayBuffer()))
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    for (let p = 0; p < data.length; p += 4) {
      total++;
      if (data[p + 3] > 0 && !(data[p] >= 250 && data[p + 1] >= 250 && data[p + 2] >= 250)) drawn++;
    }
    if (info.channels !== 4) throw new Error(`${url}: not an image`);
  }
  return total ? drawn / total : 0;
}

/** autocannon requests drawing a random path from `paths` each time (the RSS check). */
function randomPaths(paths: readonly string[]): Array<Record<string, unknown>> {
  return [{ setupRequest: (req: Record<string, unknown>) => ({ ...req, path: paths[Math.floor(Math.random() * paths.length)] }) }];
}

function has(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const benchDir = process.env.DALLAGE_BENCH_DIR || path.join(ROOT, '.bench');
  mkdirSync(benchDir, { recursive: true });
  const input = path.join(benchDir, 'M.tif');
  if (!existsSync(input)) {
    console.log('making M (8,000 × 16,000 px) …');
    await makeSyntheticMap({ ...SYNTHETIC_SIZES.M, path: `${input}.tmp` });
    renameSync(`${input}.tmp`, input);
  }
  const work = await mkdtemp(path.join(os.tmpdir(), 'dallage-bench-tiles-'));
  scratch = work;
  const children: ChildProcess[] = [];
  try {
    const ours = await start(['--serve', work, benchDir]);
    children.push(ours.child);
    if (CLIENT === 'autocannon' && option('--client') !== 'autocannon')
      console.log('wrk is not installed (apt-get install wrk): the load comes from autocannon, whose own CPU weighs on the rates');
    console.log(
      `dallage tile benchmark: ${os.cpus().length} CPUs, node ${process.version}, ${SECONDS} s per run, ${CONNECTIONS} connections, load from ${CLIENT}`,
    );

    // The M pyramid (PM, jpg90, mask), published as layer m.
    const t0 = Date.now();
    const job = await json(`${ours.url}/processes/raster-to-pyramid/execution`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Prefer: 'respond-async' },
      body: JSON.stringify({
        inputs: { images: [{ href: pathToFileURL(input).href }], name: 'M', tms: 'PM', compression: 'jpg90', mask: true, nodata: 255 },
      }),
    });
    let status: Record<string, unknown>;
    do {
      await new Promise((r) => setTimeout(r, 500));
      status = await json(`${ours.url}/jobs/${job.jobID}`);
    } while (status.status === 'accepted' || status.status === 'running');
    if (status.status !== 'successful') throw new Error(`the pyramid failed: ${JSON.stringify(status)}`);
    const record = (await json(`${ours.url}/jobs/${job.jobID}/results/pyramid`)) as { _id: string };
    console.log(`pyramid M made in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const config = await json(`${ours.url}/configurations`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        type: 'WMTS-TMS',
        name: 'M',
        layer_name: 'm',
        type_infos: { title: 'M', used_data: [{ stored_data: record._id }] },
      }),
    });
    await json(`${ours.url}/configurations/${config._id}/offerings`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });

    // A sample of tiles inside the limits, every level weighted by its tile count; their bytes for the bare server.
    const tileset = await json(`${ours.url}/collections/m/map/tiles/PM`);
    const limits = tileset.tileMatrixSetLimits as Array<{
      tileMatrix: string;
      minTileRow: number;
      maxTileRow: number;
      minTileCol: number;
      maxTileCol: number;
    }>;
    const weights = limits.map((l) => (l.maxTileRow - l.minTileRow + 1) * (l.maxTileCol - l.minTileCol + 1));
    const total = weights.reduce((a, b) => a + b, 0);
    const paths: string[] = [];
    for (let k = 0; k < SAMPLE; k++) {
      let r = Math.random() * total;
      let i = 0;
      while (r >= weights[i]) r -= weights[i++];
      const l = limits[i];
      const row = l.minTileRow + Math.floor(Math.random() * (l.maxTileRow - l.minTileRow + 1));
      const col = l.minTileCol + Math.floor(Math.random() * (l.maxTileCol - l.minTileCol + 1));
      paths.push(`/wmts/1.0.0/m/normal/PM/${l.tileMatrix}/${row}/${col}.jpeg`);
    }
    const bytes: Record<string, string> = {};
    for (const p of new Set(paths)) bytes[p] = Buffer.from(await (await fetch(`${ours.url}${p}`)).arrayBuffer()).toString('base64');
    const sampleFile = path.join(work, 'tiles.json');
    writeFileSync(sampleFile, JSON.stringify(bytes));
    const bare = await start(['--bare', sampleFile]);
    children.push(bare.child);
    console.log(`${Object.keys(bytes).length} distinct tiles over ${limits.length} levels (${total} tiles in the limits)\n`);

    await run('warm-up (ours)', { url: ours.url, paths: paths, duration: 2 });
    const tile = await run('GetTile (WMTS REST), ours', { url: ours.url, paths: paths });
    await run('warm-up (bare)', { url: bare.url, paths: paths, duration: 2 });
    const floor = await run('bare node:http, same bytes from memory', { url: bare.url, paths: paths });

    // 100,000 requests with the server's RSS sampled every second.
    const rss: number[] = [rssMb(ours.child.pid!)];
    const sampler = setInterval(() => rss.push(rssMb(ours.child.pid!)), 1000);
    await autocannon({ url: ours.url, connections: CONNECTIONS, amount: 100_000, requests: randomPaths(paths) });
    clearInterval(sampler);
    rss.push(rssMb(ours.child.pid!));
    console.log(
      `100,000 GetTile: RSS ${rss[0].toFixed(0)} MB at the start, ${Math.max(...rss).toFixed(0)} MB peak, ${rss.at(-1)!.toFixed(0)} MB at the end`,
    );

    // WMS GetMap 512×512 PNG in EPSG:4326 at random places over M (bbox latitude first in 1.3.0).
    const [w, s, e, n] = (tileset.boundingBox as { lowerLeft: number[]; upperRight: number[] }).lowerLeft.concat(
      (tileset.boundingBox as { upperRight: number[] }).upperRight,
    );
    const merc = (x: number, y: number) => [
      (x / 6378137) * (180 / Math.PI),
      (2 * Math.atan(Math.exp(y / 6378137)) - Math.PI / 2) * (180 / Math.PI),
    ];
    const [lon0, lat0] = merc(w, s);
    const [lon1, lat1] = merc(e, n);
    // 0.1° over 512 px: about 22 m per pixel in Web Mercator, so both servers draw from level 13, M's finest
    // (19.1 m). At 0.05° (11 m) MapProxy (stretch factor 1.15) asks level 14, absent from its seeded cache,
    // and answers blank maps at once: a speed that draws nothing.
    const span = 0.1;
    const maps: string[] = [];
    const mapBboxes: number[][] = [];
    for (let k = 0; k < 500; k++) {
      const lon = lon0 + Math.random() * (lon1 - lon0 - span);
      const lat = lat0 + Math.random() * (lat1 - lat0 - span);
      mapBboxes.push([lat, lon, lat + span, lon + span]);
      maps.push(
        `/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=m&STYLES=&CRS=EPSG:4326&BBOX=${lat},${lon},${lat + span},${lon + span}` +
          '&WIDTH=512&HEIGHT=512&FORMAT=image/png',
      );
    }
    // Warmed up as the tile runs are: the first seconds of maps compile the drawing code in each worker thread
    // (2026-12-06: 53–58 maps/s in a first 3 s, 87–91 after; MapProxy, interpreted, gets the same warm-up).
    await run('warm-up (ours, GetMap)', { url: ours.url, paths: maps, duration: 2 });
    const cpu0 = cpuSeconds(ours.child.pid!);
    const map = await run('WMS GetMap 512² PNG EPSG:4326, ours', { url: ours.url, paths: maps });
    // CPU per map, every thread counted: what the machine's cores allow when nothing else runs on them.
    const cpuPerMap = (cpuSeconds(ours.child.pid!) - cpu0) / map.ok;
    console.log(
      `  CPU per map ${(1000 * cpuPerMap).toFixed(1)} ms: at most ${(os.availableParallelism() / cpuPerMap).toFixed(0)} maps/s on ${os.availableParallelism()} idle cores`,
    );

    // The peer: MapProxy from a file cache seeded from our tiles.
    let peerTile: LoadResult | undefined;
    let peerMap: LoadResult | undefined;
    if (!has('/usr/bin/python3', ['-c', 'import mapproxy']) || !has('sh', ['-c', 'command -v gunicorn'])) {
      console.log('\nMapProxy: not installed (apt-get install python3-mapproxy gunicorn), peer rows skipped');
    } else {
      const mp = path.join(work, 'mapproxy');
      mkdirSync(mp, { recursive: true });
      const levels = limits.map((l) => Number(l.tileMatrix));
      writeFileSync(
        path.join(mp, 'mapproxy.yaml'),
        `services:
  wmts:
    restful: true
    kvp: false
  wms:
    srs: ['EPSG:4326', 'EPSG:3857']
    versions: ['1.3.0']
layers:
  - name: m
    title: M
    sources: [m_cache]
caches:
  m_cache:
    grids: [pm]
    sources: [ours]
    format: image/jpeg
    request_format: image/jpeg
    cache:
      type: file
      directory_layout: tc
      directory: ${mp}/cache
sources:
  ours:
    type: tile
    url: ${ours.url}/xyz/m/%(z)s/%(x)s/%(y)s.jpeg
    grid: pm
    seed_only: true
    transparent: true
grids:
  pm:
    base: GLOBAL_WEBMERCATOR
    origin: nw
globals:
  image:
    resampling_method: bicubic
`,
      );
      writeFileSync(
        path.join(mp, 'seed.yaml'),
        `seeds:
  m:
    caches: [m_cache]
    grids: [pm]
    levels:
      from: ${Math.min(...levels)}
      to: ${Math.max(...levels)}
    coverages: [m]
coverages:
  m:
    bbox: [${w}, ${s}, ${e}, ${n}]
    srs: 'EPSG:3857'
`,
      );
      const t1 = Date.now();
      // Debian's python3-mapproxy has the seeder as a module, not as the mapproxy-seed command.
      const seeder = "import sys\nfrom mapproxy.seed.script import main\nsys.argv[0] = 'mapproxy-seed'\nsys.exit(main())";
      const seedArgs = ['-f', path.join(mp, 'mapproxy.yaml'), '-s', path.join(mp, 'seed.yaml'), '-c', '2', '--seed', 'm', '-q'];
      execFileSync('/usr/bin/python3', ['-c', seeder, ...seedArgs], { stdio: 'inherit' });
      console.log(`\nMapProxy cache seeded from our tiles in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
      writeFileSync(
        path.join(mp, 'app.py'),
        `from mapproxy.wsgiapp import make_wsgi_app\napplication = make_wsgi_app(${JSON.stringify(path.join(mp, 'mapproxy.yaml'))})\n`,
      );
      const port = await freePort();
      const gunicorn = spawn(
        'gunicorn',
        ['-w', '2', '-b', `127.0.0.1:${port}`, '--chdir', mp, '--log-level', 'warning', 'app:application'],
        { stdio: 'inherit' },
      );
      children.push(gunicorn);
      const peer = `http://127.0.0.1:${port}`;
      for (
        let k = 0;
        k < 100 &&
        !(await fetch(`${peer}/wmts/1.0.0/WMTSCapabilities.xml`).then(
          (r) => r.ok,
          () => false,
        ));
        k++
      ) {
        await new Promise((r) => setTimeout(r, 200));
      }
      // Its RESTful WMTS template: /wmts/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.{Format}.
      const peerPaths = paths.map((p) => {
        const [, , , , , , z, row, file] = p.split('/');
        return `/wmts/m/pm/${z}/${file.split('.')[0]}/${row}.jpeg`;
      });
      const check = await fetch(`${peer}${peerPaths[0]}`);
      if (!check.ok) throw new Error(`MapProxy answered ${check.status} for ${peerPaths[0]}`);
      await run('warm-up (MapProxy)', { url: peer, paths: peerPaths, duration: 2 });
      peerTile = await run('GetTile, MapProxy (gunicorn, 2 workers)', { url: peer, paths: peerPaths });
      const peerMaps = mapBboxes.map(
        ([a, b, c, d]) =>
          `/service?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=m&STYLES=&CRS=EPSG:4326&BBOX=${a},${b},${c},${d}&WIDTH=512&HEIGHT=512&FORMAT=image/png`,
      );
      const probe = await fetch(`${peer}${peerMaps[0]}`);
      const type = probe.headers.get('content-type') ?? '';
      if (!probe.ok || !type.startsWith('image/')) {
        throw new Error(`MapProxy's GetMap answered ${probe.status} ${type}: ${(await probe.text()).slice(0, 300)}`);
      }
      // Both draw the same maps: the share of pixels with data in a sample must agree.
      const oursDrawn = await drawnShare(maps.slice(0, 10).map((m) => `${ours.url}${m}`));
      const peerDrawn = await drawnShare(peerMaps.slice(0, 10).map((m) => `${peer}${m}`));
      console.log(`pixels with data in 10 sample maps: ours ${(100 * oursDrawn).toFixed(1)} %, MapProxy ${(100 * peerDrawn).toFixed(1)} %`);
      if (Math.abs(oursDrawn - peerDrawn) > 0.02)
        throw new Error('MapProxy and our server do not draw the same maps: the comparison would mean nothing');
      await run('warm-up (MapProxy, GetMap)', { url: peer, paths: peerMaps, duration: 2 });
      peerMap = await run('WMS GetMap 512² PNG EPSG:4326, MapProxy', { url: peer, paths: peerMaps });
    }

    const ratio = tile.rate / floor.rate;
    const grown = rss.at(-1)! - rss[1];
    console.log('');
    const goals: Array<[string, boolean, string]> = [
      [`GetTile ≥ ${GOALS.tileVsBare}x the bare server`, ratio >= GOALS.tileVsBare, `${ratio.toFixed(2)}x`],
      [`GetTile p99 ≤ ${GOALS.p99Ms} ms`, tile.p99Ms <= GOALS.p99Ms, `${tile.p99Ms.toFixed(1)} ms`],
      ['RSS flat over 100,000 GetTile', grown < 50, `${grown.toFixed(0)} MB after the first second`],
      [`GetMap ≥ ${GOALS.mapsPerS} maps/s`, map.rate >= GOALS.mapsPerS, `${map.rate.toFixed(0)} maps/s`],
    ];
    if (peerTile && peerMap) {
      const t = tile.rate / peerTile.rate;
      const m = map.rate / peerMap.rate;
      goals.push([`GetTile ≥ ${GOALS.tileVsMapProxy}x MapProxy`, t >= GOALS.tileVsMapProxy, `${t.toFixed(1)}x`]);
      goals.push([`GetMap ≥ ${GOALS.mapVsMapProxy}x MapProxy`, m >= GOALS.mapVsMapProxy, `${m.toFixed(1)}x`]);
    }
    for (const [goal, ok, detail] of goals) console.log(`${ok ? 'PASS' : 'MISS'}  ${goal}: ${detail}`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await rm(work, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

if (process.argv[2] === '--serve') void serve(process.argv[3], process.argv[4]);
else if (process.argv[2] === '--bare') serveBare(process.argv[3]);
else
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
