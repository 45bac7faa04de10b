import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { mountSmallDisk, skipUnlessMount } from '../helpers/small-disk.js';

const json = { 'Content-Type': 'application/json' };

async function createUpload(s: TestServer, name = 'delivery'): Promise<Record<string, unknown>> {
  const r = await fetch(`${s.url}/uploads`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ name, description: 'scans', type: 'RASTER', srs: 'EPSG:2154' }),
  });
  assert.equal(r.status, 201, await r.clone().text());
  const body = (await r.json()) as Record<string, unknown>;
  assert.equal(r.headers.get('location'), `${s.url}/uploads/${body._id}`);
  return body;
}

function put(s: TestServer, id: string, p: string, bytes: Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${s.url}/uploads/${id}/data?path=${encodeURIComponent(p)}`, { method: 'PUT', body: new Uint8Array(bytes), headers });
}

function md5(b: Uint8Array): string {
  return createHash('md5').update(b).digest('hex');
}

/** Parts left in the storage's part folder (a finished or failed file leaves none). */
async function parts(s: TestServer): Promise<string[]> {
  return readdir(path.join(s.runtime.storage.root, '.upload-parts')).catch(() => []);
}

test('uploads: create, list with filters and paging, get, files by PUT and multipart, tree, delete (issue 11)', async () => {
  const s = await startTestServer();
  try {
    const u = await createUpload(s, 'first');
    assert.deepEqual(
      { name: u.name, description: u.description, type: u.type, srs: u.srs, status: u.status, size: u.size, type_infos: u.type_infos },
      { name: 'first', description: 'scans', type: 'RASTER', srs: 'EPSG:2154', status: 'OPEN', size: 0, type_infos: {} },
    );
    assert.equal(typeof (u.last_event as { title: string }).title, 'string');
    assert.ok(Date.parse((u.last_event as { date: string }).date));
    await createUpload(s, 'second');
    const id = u._id as string;

    const list = (await (await fetch(`${s.url}/uploads?status=OPEN&limit=1`)).json()) as {
      uploads: Array<{ name: string }>;
      links: Array<{ rel: string; href: string }>;
    };
    assert.deepEqual(
      list.uploads.map((x) => x.name),
      ['first'],
    );
    const next = list.links.find((l) => l.rel === 'next');
    assert.ok(next);
    const page2 = (await (await fetch(next.href)).json()) as { uploads: Array<{ name: string }> };
    assert.deepEqual(
      page2.uploads.map((x) => x.name),
      ['second'],
    );
    const byName = (await (await fetch(`${s.url}/uploads?name=sec`)).json()) as { uploads: Array<{ name: string }> };
    assert.deepEqual(
      byName.uploads.map((x) => x.name),
      ['second'],
    );
    assert.equal((await fetch(`${s.url}/uploads?status=WHATEVER`)).status, 400);

    // Raw PUT (curl -T), with its MD5 checked.
    const tif = randomBytes(3 * 1024 * 1024 + 17);
    const r1 = await put(s, id, 'data/scan.tif', tif, { 'Content-MD5': createHash('md5').update(tif).digest('base64') });
    assert.equal(r1.status, 200, await r1.clone().text());
    assert.deepEqual(await r1.json(), { path: 'data/scan.tif', size: tif.length, md5: md5(tif) });
    // Multipart, field `file`.
    const tfw = Buffer.from('0.5\n0\n0\n-0.5\n700000.25\n6600000.25\n');
    const form = new FormData();
    form.append('file', new Blob([tfw]), 'scan.tfw');
    const r2 = await fetch(`${s.url}/uploads/${id}/data?path=data/scan.tfw`, { method: 'POST', body: form });
    assert.equal(r2.status, 200, await r2.clone().text());
    assert.deepEqual(await r2.json(), { path: 'data/scan.tfw', size: tfw.length, md5: md5(tfw) });
    // The stored bytes are the sent ones.
    assert.equal(md5(await s.runtime.storage.read(`uploads/${id}/data/scan.tif`)), md5(tif));

    const tree = await (await fetch(`${s.url}/uploads/${id}/tree`)).json();
    assert.deepEqual(tree, [
      {
        type: 'DIRECTORY',
        name: 'data',
        size: tif.length + tfw.length,
        children: [
          { type: 'FILE', name: 'scan.tfw', size: tfw.length },
          { type: 'FILE', name: 'scan.tif', size: tif.length },
        ],
      },
    ]);
    assert.equal(((await (await fetch(`${s.url}/uploads/${id}`)).json()) as { size: number }).size, tif.length + tfw.length);

    // A wrong MD5: refused, and the file already there is unchanged.
    const wrong = await put(s, id, 'data/scan.tif', Buffer.from('other'), {
      'Content-MD5': createHash('md5').update('x').digest('base64'),
    });
    assert.equal(wrong.status, 400);
    assert.match(((await wrong.json()) as { detail: string }).detail, /MD5/);
    assert.equal(md5(await s.runtime.storage.read(`uploads/${id}/data/scan.tif`)), md5(tif));
    const wrongHex = await put(s, `${id}`, 'extra.bin', Buffer.from('abc'), {});
    assert.equal(wrongHex.status, 200);
    const badMd5 = await fetch(`${s.url}/uploads/${id}/data?path=more.bin&md5=${'0'.repeat(32)}`, { method: 'PUT', body: 'abc' });
    assert.equal(badMd5.status, 400);
    assert.equal(await s.runtime.storage.exists(`uploads/${id}/more.bin`), false);

    // Multipart without the field `file`; not multipart at all.
    const noFile = new FormData();
    noFile.append('other', 'x');
    assert.equal((await fetch(`${s.url}/uploads/${id}/data?path=a.bin`, { method: 'POST', body: noFile })).status, 400);
    assert.equal((await fetch(`${s.url}/uploads/${id}/data?path=a.bin`, { method: 'POST', body: 'raw', headers: json })).status, 415);

    // Delete a file, then the upload.
    assert.equal((await fetch(`${s.url}/uploads/${id}/data?path=extra.bin`, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(`${s.url}/uploads/${id}/data?path=extra.bin`, { method: 'DELETE' })).status, 404);
    assert.deepEqual(await parts(s), []);

    // A job reading the upload holds it: 409.
    const release = await s.runtime.records.locks.read([id]);
    const held = await fetch(`${s.url}/uploads/${id}`, { method: 'DELETE' });
    assert.equal(held.status, 409);
    release();
    assert.equal((await fetch(`${s.url}/uploads/${id}`, { method: 'DELETE' })).status, 204);
    assert.equal((await fetch(`${s.url}/uploads/${id}`)).status, 404);
    assert.equal(await s.runtime.storage.exists(`uploads/${id}/data/scan.tif`), false);
  } finally {
    await s.stop();
  }
});

test('uploads: unsafe paths are 400s naming path; bad bodies name the field', async () => {
  const s = await startTestServer();
  try {
    const id = (await createUpload(s))._id as string;
    for (const p of ['../x.tif', 'a/../../x.tif', '/etc/passwd', 'C:/x.tif', 'a\\b.tif', 'a\u0000b', 'a\u0007b', 'a//b', './a', '']) {
      const r = await fetch(`${s.url}/uploads/${id}/data?path=${encodeURIComponent(p)}`, { method: 'PUT', body: 'x' });
      assert.equal(r.status, 400, `path ${JSON.stringify(p)}`);
      assert.match(JSON.stringify(await r.json()), /path/);
    }
    assert.deepEqual(await (await fetch(`${s.url}/uploads/${id}/tree`)).json(), []);
    for (const body of [
      { name: 'x', type: 'VECTOR', srs: 'EPSG:2154' },
      { type: 'RASTER', srs: 'EPSG:2154' },
      { name: 'x', type: 'RASTER', srs: '2154' },
    ]) {
      const r = await fetch(`${s.url}/uploads`, { method: 'POST', headers: json, body: JSON.stringify(body) });
      assert.equal(r.status, 400, JSON.stringify(body));
    }
    assert.equal((await fetch(`${s.url}/uploads/nope`)).status, 404);
  } finally {
    await s.stop();
  }
});

test('uploads: limits name themselves (413/400); nothing of a refused or interrupted file stays', async () => {
  const s = await startTestServer();
  try {
    const limits = s.runtime.config.uploads;
    limits.max_file_size = 1000;
    limits.max_upload_size = 1500;
    limits.max_files = 3;
    const id = (await createUpload(s))._id as string;
    const big = await put(s, id, 'big.bin', randomBytes(1001));
    assert.equal(big.status, 413);
    assert.match(((await big.json()) as { detail: string }).detail, /uploads\.max_file_size/);
    // Chunked (no Content-Length): refused while streaming.
    const chunked = await fetch(`${s.url}/uploads/${id}/data?path=big.bin`, {
      method: 'PUT',
      body: new ReadableStream({
        start(c) {
          c.enqueue(randomBytes(800));
          c.enqueue(randomBytes(800));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(chunked.status, 413);
    assert.equal((await put(s, id, 'a.bin', randomBytes(900))).status, 200);
    const over = await put(s, id, 'b.bin', randomBytes(700));
    assert.equal(over.status, 413);
    assert.match(((await over.json()) as { detail: string }).detail, /uploads\.max_upload_size/);
    // Replacing a file does not count it twice.
    assert.equal((await put(s, id, 'a.bin', randomBytes(1000))).status, 200);
    limits.max_upload_size = 10_000;
    assert.equal((await put(s, id, 'b.bin', randomBytes(10))).status, 200);
    assert.equal((await put(s, id, 'c.bin', randomBytes(10))).status, 200);
    const count = await put(s, id, 'd.bin', randomBytes(10));
    assert.equal(count.status, 400);
    assert.match(((await count.json()) as { detail: string }).detail, /uploads\.max_files/);
    limits.quota = 1025;
    const quota = await put(s, id, 'c.bin', randomBytes(100));
    assert.equal(quota.status, 413);
    assert.match(((await quota.json()) as { detail: string }).detail, /uploads\.quota/);

    // A client gone mid-file: no file, no part left.
    limits.max_file_size = 1e9;
    limits.max_upload_size = 1e10;
    limits.quota = 1e11;
    await new Promise<void>((resolve) => {
      const req = http.request(`${s.url}/uploads/${id}/data?path=cut.bin`, {
        method: 'PUT',
        headers: { 'Content-Length': String(10_000_000) },
      });
      req.on('error', () => resolve());
      req.write(randomBytes(2_000_000), () => setTimeout(() => req.destroy(), 200));
      req.on('close', () => resolve());
    });
    for (let i = 0; i < 50 && (await parts(s)).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await parts(s), []);
    assert.equal(await s.runtime.storage.exists(`uploads/${id}/cut.bin`), false);
  } finally {
    await s.stop();
  }
});

test('uploads: two clients sending the same path end with one whole file; records survive a restart', async () => {
  const s = await startTestServer();
  const dir = s.dir;
  let id: string;
  try {
    id = (await createUpload(s))._id as string;
    const a = randomBytes(4 * 1024 * 1024);
    const b = randomBytes(4 * 1024 * 1024 + 5);
    const [ra, rb] = await Promise.all([put(s, id, 'same.bin', a), put(s, id, 'same.bin', b)]);
    assert.equal(ra.status, 200);
    assert.equal(rb.status, 200);
    const kept = md5(await s.runtime.storage.read(`uploads/${id}/same.bin`));
    assert.ok(kept === md5(a) || kept === md5(b));
    assert.deepEqual(await parts(s), []);
  } finally {
    await s.close();
  }
  const again = await startTestServer({ dir });
  try {
    const r = await fetch(`${again.url}/uploads/${id}`);
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { status: string }).status, 'OPEN');
  } finally {
    await again.stop();
  }
});

test('uploads: a transfer cut mid-file resumes with Content-Range where the server says it stands', async () => {
  const s = await startTestServer();
  try {
    const id = (await createUpload(s))._id as string;
    const whole = randomBytes(6 * 1024 * 1024 + 3);
    const total = whole.length;
    const url = `${s.url}/uploads/${id}/data?path=big/scan.tif`;
    // The first attempt dies after 2 MB.
    await new Promise<void>((resolve) => {
      const req = http.request(url, {
        method: 'PUT',
        headers: { 'Content-Length': String(total), 'Content-Range': `bytes 0-${total - 1}/${total}` },
      });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.write(whole.subarray(0, 2 * 1024 * 1024), () => setTimeout(() => req.destroy(), 300));
    });
    // Nothing is visible yet.
    assert.deepEqual(await (await fetch(`${s.url}/uploads/${id}/tree`)).json(), []);
    // Where does it stand? Then send the rest (409 while the cut request is still being wound up).
    for (let attempt = 0; ; attempt++) {
      const state = await fetch(url, { method: 'PUT', headers: { 'Content-Range': `bytes */${total}` }, body: '' });
      assert.equal(state.status, 200);
      const { received } = (await state.json()) as { received: number };
      assert.ok(received <= 2 * 1024 * 1024, `received ${received}`);
      // A chunk that does not start there is refused, naming what was received.
      if (received > 0) {
        const wrongStart = await fetch(url, {
          method: 'PUT',
          headers: { 'Content-Range': `bytes ${received + 1}-${total - 1}/${total}` },
          body: new Uint8Array(whole.subarray(received + 1)),
        });
        assert.equal(wrongStart.status, 409);
      }
      const rest = await fetch(url, {
        method: 'PUT',
        headers: {
          'Content-Range': `bytes ${received}-${total - 1}/${total}`,
          'Content-MD5': createHash('md5').update(whole).digest('base64'),
        },
        body: new Uint8Array(whole.subarray(received)),
      });
      if (rest.status === 409 && attempt < 50) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      assert.equal(rest.status, 200, await rest.clone().text());
      assert.deepEqual(await rest.json(), { path: 'big/scan.tif', size: total, md5: md5(whole) });
      break;
    }
    assert.equal(md5(await s.runtime.storage.read(`uploads/${id}/big/scan.tif`)), md5(whole));
    // Two chunks in a row: 202 then 200.
    const a = await fetch(`${s.url}/uploads/${id}/data?path=two.bin`, {
      method: 'PUT',
      headers: { 'Content-Range': 'bytes 0-4/10' },
      body: 'hello',
    });
    assert.equal(a.status, 202);
    assert.deepEqual(await a.json(), { path: 'two.bin', received: 5, total: 10 });
    assert.equal(await s.runtime.storage.exists(`uploads/${id}/two.bin`), false);
    const b = await fetch(`${s.url}/uploads/${id}/data?path=two.bin`, {
      method: 'PUT',
      headers: { 'Content-Range': 'bytes 5-9/10' },
      body: 'world',
    });
    assert.equal(b.status, 200);
    assert.equal((await s.runtime.storage.read(`uploads/${id}/two.bin`)).toString(), 'helloworld');
    assert.equal(
      (await fetch(`${s.url}/uploads/${id}/data?path=x.bin`, { method: 'PUT', headers: { 'Content-Range': 'bytes 5-2/10' }, body: 'x' }))
        .status,
      400,
    );
    assert.deepEqual(await parts(s), []);
  } finally {
    await s.stop();
  }
});

test('uploads: a full disk is a 507 and leaves nothing half-visible', async (t) => {
  const skip = skipUnlessMount();
  if (skip) return t.skip(skip);
  const disk = mountSmallDisk(8 * 1024);
  const s = await startTestServer({ dir: disk.dir });
  try {
    const id = (await createUpload(s))._id as string;
    const r = await put(s, id, 'data/huge.tif', randomBytes(12 * 1024 * 1024));
    assert.equal(r.status, 507);
    assert.equal((await r.json()).type, 'https://www.rfc-editor.org/rfc/rfc4918.html#section-11.5');
    assert.deepEqual(await (await fetch(`${s.url}/uploads/${id}/tree`)).json(), []);
    assert.deepEqual(await parts(s), []);
    // Once there is room again the same file goes through.
    const small = randomBytes(1024 * 1024);
    const ok = await put(s, id, 'data/huge.tif', small);
    assert.equal(ok.status, 200);
    assert.equal(md5(await s.runtime.storage.read(`uploads/${id}/data/huge.tif`)), md5(small));
  } finally {
    await s.close();
    disk.unmount();
  }
});
