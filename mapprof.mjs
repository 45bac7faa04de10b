import path from 'node:path';
import { existsSync } from 'node:fs';
const { parseConfig } = await import('./dist/src/config.js');
const { startServer } = await import('./dist/src/server.js');
const dir = '/work/prof/mapdata';
const made = existsSync(path.join(dir, 'made'));
const config = parseConfig(JSON.stringify({
  server: { host: '127.0.0.1', port: 0 }, manager: { name: 'lowdb', connection: path.join(dir, 'jobs') },
  storage: { type: 'file', path: path.join(dir, 'store') }, processes: { 'raster-to-pyramid': 'raster-to-pyramid' },
  pool: { threads: 2 }, security: { input_roots: ['/work/bench/rasters'] }, logging: { enabled: false } }), {}, 'cfg');
const server = await startServer(config);
const url = server.url;
const json = async (u, init) => { const r = await fetch(url + u, init); const b = await r.json(); if (!r.ok) throw new Error(JSON.stringify(b)); return b; };
if (!made) {
  const job = await json('/processes/raster-to-pyramid/execution', { method: 'POST', headers: { 'Content-Type': 'application/json', Prefer: 'respond-async' },
    body: JSON.stringify({ inputs: { images: [{ href: 'file:///work/bench/rasters/M.tif' }], name: 'M', tms: 'PM', compression: 'jpg90', mask: true, nodata: 255 } }) });
  let st; do { await new Promise((r) => setTimeout(r, 500)); st = await json(`/jobs/${job.jobID}`); } while (st.status === 'accepted' || st.status === 'running');
  const rec = await json(`/jobs/${job.jobID}/results/pyramid`);
  const c = await json('/configurations', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ type: 'WMTS-TMS', name: 'M', layer_name: 'm', type_infos: { title: 'M', used_data: [{ stored_data: rec._id }] } }) });
  await json(`/configurations/${c._id}/offerings`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  (await import('node:fs')).writeFileSync(path.join(dir, 'made'), '1');
  console.log('made');
} else {
  let seed = 7; const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const maps = []; for (let k = 0; k < Number(process.env.N ?? 300); k++) { const lon = 8.4 + rnd() * 1.2, lat = 41.3 + rnd() * 1.7; maps.push(`/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=m&STYLES=&CRS=EPSG:4326&BBOX=${lat},${lon},${lat + 0.1},${lon + 0.1}&WIDTH=512&HEIGHT=512&FORMAT=image/png`); }
  const c0 = process.cpuUsage(); const t0 = performance.now(); let i = 0;
  await Promise.all([0, 1, 2, 3].map(async () => { while (i < maps.length) { const r = await fetch(url + maps[i++]); if (!r.ok) throw new Error(await r.text()); await r.arrayBuffer(); } }));
  const wall = (performance.now() - t0) / 1000, c = process.cpuUsage(c0);
  console.log(maps.length, 'maps', (maps.length / wall).toFixed(1), 'maps/s', ((c.user + c.system) / 1000 / maps.length).toFixed(1), 'ms CPU per map (incl. client)');
}
await server.close(); process.exit(0);
