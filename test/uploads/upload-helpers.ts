/**
 * What the upload tests share: the platform's flows over HTTP (create, send files by multipart and by
 * PUT, close and wait for the checks) against a real test server.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { TestServer } from '../helpers/server.js';

export type Doc = Record<string, unknown>;

export async function createUpload(s: TestServer, name: string, srs = 'EPSG:2154'): Promise<string> {
  const r = await fetch(`${s.url}/uploads`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, description: `${name} delivery`, type: 'RASTER', srs }),
  });
  assert.equal(r.status, 201, await r.clone().text());
  return ((await r.json()) as Doc)._id as string;
}

/** Sends a local file by multipart/form-data (field `file`), as a browser form does. */
export async function sendMultipart(s: TestServer, id: string, relPath: string, file: string): Promise<Doc> {
  const form = new FormData();
  form.append('file', new Blob([await readFile(file)]), path.basename(file));
  const r = await fetch(`${s.url}/uploads/${id}/data?path=${encodeURIComponent(relPath)}`, { method: 'POST', body: form });
  assert.equal(r.status, 200, await r.clone().text());
  return (await r.json()) as Doc;
}

/** Sends a local file's raw bytes by PUT, as `curl -T` does. */
export async function sendPut(s: TestServer, id: string, relPath: string, file: string): Promise<Doc> {
  const r = await fetch(`${s.url}/uploads/${id}/data?path=${encodeURIComponent(relPath)}`, {
    method: 'PUT',
    body: new Uint8Array(await readFile(file)),
  });
  assert.equal(r.status, 200, await r.clone().text());
  return (await r.json()) as Doc;
}

export async function getUpload(s: TestServer, id: string): Promise<Doc> {
  const r = await fetch(`${s.url}/uploads/${id}`);
  assert.equal(r.status, 200);
  return (await r.json()) as Doc;
}

/** POST /close, then waits until the checks settled the upload (CLOSED or UNSTABLE); returns it. */
export async function closeAndWait(s: TestServer, id: string, timeoutMs = 60_000): Promise<Doc> {
  const r = await fetch(`${s.url}/uploads/${id}/close`, { method: 'POST' });
  assert.equal(r.status, 202, await r.clone().text());
  assert.equal(r.headers.get('location'), `${s.url}/uploads/${id}/checks`);
  const end = Date.now() + timeoutMs;
  for (;;) {
    const u = await getUpload(s, id);
    if (u.status === 'CLOSED' || u.status === 'UNSTABLE') return u;
    assert.equal(u.status, 'CHECKING');
    if (Date.now() > end) throw new Error(`upload ${id} still ${u.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface ChecksDoc {
  asked: CheckRef[];
  in_progress: CheckRef[];
  passed: CheckRef[];
  failed: CheckRef[];
}
export interface CheckRef {
  check: { name: string; _id: string };
  _id: string;
}

export async function checksOf(s: TestServer, id: string): Promise<ChecksDoc> {
  const r = await fetch(`${s.url}/uploads/${id}/checks`);
  assert.equal(r.status, 200);
  return (await r.json()) as ChecksDoc;
}

export async function checkExecution(s: TestServer, id: string, execution: string): Promise<Doc & { logs: string[] }> {
  const r = await fetch(`${s.url}/uploads/${id}/checks/${execution}`);
  assert.equal(r.status, 200, await r.clone().text());
  return (await r.json()) as Doc & { logs: string[] };
}
