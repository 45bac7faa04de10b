/**
 * Handlers of /uploads (issue 11): deliveries in the platform's shapes. Files are streamed to the
 * Storage by src/uploads/upload-files.ts; these handlers hold the rules (status, limits, locks).
 */
import { randomUUID } from 'node:crypto';
import Busboy from 'busboy';
import { ApiError } from '../errors.js';
import { UPLOAD_STATUSES, UPLOADS, type CheckExecution, type Upload } from '../records/uploads.js';
import type { Runtime } from '../runtime.js';
import { UPLOAD_CHECKS } from '../uploads/checks.js';
import { checkUploadPath } from '../uploads/upload-path.js';
import { respond } from './landing.js';
import { linkTo, negotiate, parseLimit, parseOffset, single, type ApiRequest, type ApiResponse } from './request.js';

type Handler = (req: ApiRequest, rt: Runtime, signal?: AbortSignal) => Promise<ApiResponse>;

function uploadDoc(u: Upload, baseUrl: string): Record<string, unknown> {
  return {
    ...u,
    links: [
      { href: `${baseUrl}/uploads/${u._id}`, rel: 'self', type: 'application/json', title: u.name },
      { href: `${baseUrl}/uploads/${u._id}/tree`, rel: 'related', type: 'application/json', title: 'its files' },
      { href: `${baseUrl}/uploads/${u._id}/checks`, rel: 'related', type: 'application/json', title: 'its checks' },
    ],
  };
}

const collection = (rt: Runtime) => rt.records.collection(UPLOADS);

async function uploadOf(rt: Runtime, id: string): Promise<Upload> {
  const u = await collection(rt).get(id);
  if (!u || u.status === 'DELETED') throw new ApiError('not-found', `no upload with id '${id}'`);
  return u;
}

function event(title: string): Upload['last_event'] {
  return { title, date: new Date().toISOString() };
}

/** POST /uploads {name, description, type: RASTER, srs} → 201 OPEN. */
export const createUpload: Handler = async (req, rt) => {
  const body = req.body as Record<string, unknown> | undefined;
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApiError('invalid-body', 'the body must be a JSON object');
  const text = (field: string, required: boolean): string => {
    const v = body[field];
    if (v === undefined && !required) return '';
    if (typeof v !== 'string' || (required && v.trim() === '') || v.length > 1000)
      throw new ApiError('invalid-body', `'${field}' must be a non-empty string of at most 1000 characters`);
    return v;
  };
  const name = text('name', true);
  const description = text('description', false);
  if (body.type !== 'RASTER') throw new ApiError('invalid-body', `'type' must be RASTER, got ${JSON.stringify(body.type)}`);
  const srs = text('srs', true);
  if (!/^[A-Za-z]+:[0-9A-Za-z_.-]+$/.test(srs))
    throw new ApiError('invalid-body', `'srs' must be a CRS code such as EPSG:2154, got '${srs}'`);
  const known = new Set(['name', 'description', 'type', 'srs']);
  const extra = Object.keys(body).find((k) => !known.has(k));
  if (extra !== undefined) throw new ApiError('invalid-body', `unknown member '${extra}'; an upload has name, description, type, srs`);
  const now = new Date().toISOString();
  const upload: Upload = {
    _id: randomUUID(),
    name,
    description,
    type: 'RASTER',
    srs,
    status: 'OPEN',
    size: 0,
    last_event: event('creation'),
    type_infos: {},
    created: now,
    updated: now,
  };
  await collection(rt).create(upload);
  return { status: 201, headers: { Location: `${req.baseUrl}/uploads/${upload._id}` }, body: uploadDoc(upload, req.baseUrl) };
};

/** GET /uploads?name=&status=&type=&limit=&offset= */
export const listUploads: Handler = async (req, rt) => {
  const format = negotiate(req);
  const name = single(req.query.name);
  const status = single(req.query.status);
  const type = single(req.query.type);
  if (status !== undefined && !UPLOAD_STATUSES.includes(status as Upload['status']))
    throw new ApiError('invalid-parameter', `status must be one of ${UPLOAD_STATUSES.join(', ')}, got '${status}'`, {
      parameter: 'status',
    });
  const limit = parseLimit(req);
  const offset = parseOffset(req);
  const page = await collection(rt).list({
    where: (u) =>
      (status === undefined ? u.status !== 'DELETED' : u.status === status) &&
      (name === undefined || u.name.includes(name)) &&
      (type === undefined || u.type === type),
    offset,
    limit,
  });
  const links: Array<Record<string, string>> = [{ href: linkTo(req, '/uploads', {}), rel: 'self', type: 'application/json' }];
  if (page.more) links.push({ href: linkTo(req, '/uploads', { offset: offset + limit, limit }), rel: 'next', type: 'application/json' });
  return respond(req, format, 'uploads', { uploads: page.items.map((u) => uploadDoc(u, req.baseUrl)), links });
};

/** GET /uploads/{id} */
export const getUpload: Handler = async (req, rt) => {
  const format = negotiate(req);
  const u = await uploadOf(rt, req.params.id);
  const doc = uploadDoc(u, req.baseUrl);
  // The page shows the files too.
  if (format === 'html') doc.tree = await rt.uploadFiles.tree(u._id);
  return respond(req, format, 'upload', doc);
};

/** DELETE /uploads/{id}: removes its files; 409 while a job reads it or its checks run. */
export const deleteUpload: Handler = async (req, rt) => {
  const u = await uploadOf(rt, req.params.id);
  const lock = await rt.records.locks.write(u._id);
  if (!lock) throw new ApiError('conflict', `the upload '${u._id}' is read by a running job; delete it once the job has ended`);
  try {
    if (u.status === 'CHECKING') throw new ApiError('conflict', `the upload '${u._id}' is being checked; delete it once its checks end`);
    await rt.uploadFiles.deleteAll(u._id);
    await collection(rt).delete(u._id);
  } finally {
    lock();
  }
  return { status: 204 };
};

/** GET /uploads/{id}/tree */
export const uploadTree: Handler = async (req, rt) => {
  negotiate(req, ['json']);
  const u = await uploadOf(rt, req.params.id);
  return { status: 200, body: await rt.uploadFiles.tree(u._id) };
};

/** Content-MD5 is base64 (RFC 1864); `md5` (query) is hex, as `md5sum` prints it. */
function expectedMd5(req: ApiRequest): string | undefined {
  const query = single(req.query.md5);
  if (query !== undefined) {
    if (!/^[0-9a-fA-F]{32}$/.test(query))
      throw new ApiError('invalid-parameter', `md5 must be 32 hexadecimal digits, got '${query}'`, { parameter: 'md5' });
    return query.toLowerCase();
  }
  const header = req.headers['content-md5'];
  if (header === undefined) return undefined;
  const bytes = Buffer.from(header, 'base64');
  if (bytes.length !== 16)
    throw new ApiError('invalid-parameter', 'Content-MD5 must be the base64 of 16 bytes (RFC 1864)', { parameter: 'Content-MD5' });
  return bytes.toString('hex');
}

/**
 * What a new file at `relPath` may weigh given the limits (config `uploads`): per file, per upload
 * (the file it replaces does not count), quota of all uploads. A new path beyond `max_files` → 400.
 */
async function room(rt: Runtime, u: Upload, relPath: string): Promise<{ maxBytes: number; limitName: string }> {
  const limits = rt.config.uploads;
  const files = await rt.uploadFiles.files(u._id);
  if (!files.has(relPath) && files.size >= limits.max_files)
    throw new ApiError('invalid-parameter', `the upload already holds ${files.size} files: uploads.max_files is ${limits.max_files}`, {
      parameter: 'path',
    });
  let uploadBytes = 0;
  for (const [p, s] of files) if (p !== relPath) uploadBytes += s;
  let allBytes = 0;
  for (const other of (await collection(rt).list({ where: (x) => x.status !== 'DELETED' && x._id !== u._id })).items)
    allBytes += other.size;
  const candidates = [
    { maxBytes: limits.max_file_size, limitName: 'uploads.max_file_size' },
    { maxBytes: limits.max_upload_size - uploadBytes, limitName: 'uploads.max_upload_size' },
    { maxBytes: limits.quota - allBytes - uploadBytes, limitName: 'uploads.quota' },
  ];
  return candidates.reduce((a, b) => (b.maxBytes < a.maxBytes ? b : a));
}

/** An OPEN upload and the checked `path` of a file request. */
async function openUploadAndPath(req: ApiRequest, rt: Runtime): Promise<{ u: Upload; relPath: string }> {
  const u = await uploadOf(rt, req.params.id);
  const relPath = checkUploadPath(single(req.query.path));
  if (u.status !== 'OPEN') throw new ApiError('conflict', `the upload '${u._id}' is ${u.status}: files change only while it is OPEN`);
  return { u, relPath };
}

/** The record's size follows its files (recounted: two writers of one upload cannot lose an update). */
async function refreshSize(rt: Runtime, u: Upload, title: string): Promise<Upload> {
  let size = 0;
  for (const s of (await rt.uploadFiles.files(u._id)).values()) size += s;
  const now = new Date().toISOString();
  return (await collection(rt).update(u._id, { size, last_event: event(title), updated: now })) ?? u;
}

/** `Content-Range: bytes start-end/total` (a chunk) or `bytes *\/total` (where does it stand?), RFC 9110 §14.4. */
function contentRange(req: ApiRequest): { start: number; end: number; total: number } | { total: number } | undefined {
  const raw = req.headers['content-range'];
  if (raw === undefined) return undefined;
  const m = /^bytes (?:(\d{1,15})-(\d{1,15})|\*)\/(\d{1,15})$/.exec(raw.trim());
  const bad = (): never => {
    throw new ApiError('invalid-parameter', `Content-Range must be 'bytes start-end/total' or 'bytes */total', got '${raw}'`, {
      parameter: 'Content-Range',
    });
  };
  if (!m) return bad();
  const total = Number(m[3]);
  if (m[1] === undefined) return { total };
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start || end >= total) bad();
  return { start, end, total };
}

/**
 * PUT /uploads/{id}/data?path=… with the raw bytes (curl -T). With Content-Range, a resumable
 * transfer (README "Uploads"): 202 {received} until the last byte, then 200 like a whole PUT.
 */
export const putUploadFile: Handler = async (req, rt, signal) => {
  const { u, relPath } = await openUploadAndPath(req, rt);
  if (!req.stream) throw new ApiError('invalid-body', 'the file bytes are missing');
  const limit = await room(rt, u, relPath);
  const range = contentRange(req);
  if (range && !('start' in range)) {
    const received = await rt.uploadFiles.received(u._id, relPath, range.total);
    return { status: 200, body: { path: relPath, received, total: range.total } };
  }
  if (range) {
    const r = await rt.uploadFiles.resume(u._id, relPath, req.stream, range, { ...limit, md5: expectedMd5(req), signal });
    if (!r.done) return { status: 202, body: { path: relPath, received: r.received, total: range.total } };
    await refreshSize(rt, u, `file ${relPath} received`);
    return { status: 200, body: { path: relPath, size: r.size, md5: r.md5 } };
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit.maxBytes)
    throw new ApiError(
      'payload-too-large',
      `the file ${relPath} (${declared} bytes) is larger than ${limit.limitName} (${limit.maxBytes} bytes)`,
    );
  const { size, md5 } = await rt.uploadFiles.receive(u._id, relPath, req.stream, { ...limit, md5: expectedMd5(req), signal });
  await refreshSize(rt, u, `file ${relPath} received`);
  return { status: 200, body: { path: relPath, size, md5 } };
};

/** POST /uploads/{id}/data?path=… with a multipart/form-data body whose field `file` holds the bytes. */
export const postUploadFile: Handler = async (req, rt, signal) => {
  const { u, relPath } = await openUploadAndPath(req, rt);
  const stream = req.stream;
  if (!stream) throw new ApiError('invalid-body', 'the file bytes are missing');
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data/i.test(type))
    throw new ApiError(
      'unsupported-media-type',
      `send the file as multipart/form-data (field 'file'), or PUT its raw bytes; got '${type || 'no Content-Type'}'`,
    );
  const limit = await room(rt, u, relPath);
  const md5 = expectedMd5(req);
  let parser: Busboy.Busboy;
  try {
    parser = Busboy({ headers: { 'content-type': type }, limits: { files: 1, fields: 10, fieldSize: 1024 } });
  } catch (err) {
    throw new ApiError('invalid-body', `the multipart body cannot be read: ${(err as Error).message}`);
  }
  const received = await new Promise<{ size: number; md5: string }>((resolve, reject) => {
    let pending: Promise<{ size: number; md5: string }> | undefined;
    parser.on('file', (field, file) => {
      if (field !== 'file' || pending) {
        file.resume();
        return;
      }
      pending = rt.uploadFiles.receive(u._id, relPath, file, { ...limit, md5, signal });
      pending.catch(reject);
    });
    parser.on('error', (err) => reject(new ApiError('invalid-body', `the multipart body cannot be read: ${(err as Error).message}`)));
    parser.on('close', () => {
      if (!pending) reject(new ApiError('invalid-body', "the multipart body has no field 'file'"));
      else pending.then(resolve, reject);
    });
    stream.pipe(parser);
  });
  await refreshSize(rt, u, `file ${relPath} received`);
  return { status: 200, body: { path: relPath, ...received } };
};

/** DELETE /uploads/{id}/data?path=… */
export const deleteUploadFile: Handler = async (req, rt) => {
  const { u, relPath } = await openUploadAndPath(req, rt);
  if (!(await rt.uploadFiles.deleteFile(u._id, relPath))) throw new ApiError('not-found', `the upload '${u._id}' has no file ${relPath}`);
  await refreshSize(rt, u, `file ${relPath} deleted`);
  return { status: 204 };
};

/**
 * POST /uploads/{id}/close: OPEN → CHECKING, then each check runs as a job of its process (listed in
 * /jobs); the last to end settles the upload CLOSED (all passed) or UNSTABLE (src/uploads/uploads.ts).
 * 202 with the upload; its checks are at /uploads/{id}/checks.
 */
export const closeUpload: Handler = async (req, rt) => {
  const u = await rt.uploads.beginClose(req.params.id);
  for (const check of UPLOAD_CHECKS) {
    const process = rt.registry.get(check._id);
    try {
      if (!process) throw new Error(`the process '${check._id}' is not registered`);
      await rt.manager.execute(process, { inputs: { upload: u._id } }, { prefer: 'respond-async' });
    } catch (err) {
      // The close goes on: the check that could not start fails, so the upload ends UNSTABLE, saying why.
      rt.log.error('an upload check could not start', { upload: u._id, check: check._id, error: String(err) });
      await rt.uploads.checkEnded(u._id, { checkId: check._id }, false, [
        `ERROR the check could not start: ${err instanceof ApiError ? err.message : 'server error (see the server log)'}`,
      ]);
    }
  }
  const now = (await rt.uploads.get(u._id)) ?? u;
  return {
    status: 202,
    headers: { Location: `${req.baseUrl}/uploads/${u._id}/checks` },
    body: uploadDoc(now, req.baseUrl),
  };
};

/** POST /uploads/{id}/open: a CLOSED or UNSTABLE upload becomes OPEN again (409 while a job reads it). */
export const openUpload: Handler = async (req, rt) => {
  await uploadOf(rt, req.params.id);
  return { status: 200, body: uploadDoc(await rt.uploads.reopen(req.params.id), req.baseUrl) };
};

/** An entry of GET /uploads/{id}/checks, in the platform's shape. */
function checkEntry(c: CheckExecution): { check: { name: string; _id: string }; _id: string } {
  return { check: c.check, _id: c._id };
}

/** GET /uploads/{id}/checks → {asked, in_progress, passed, failed} of the last close. */
export const uploadChecks: Handler = async (req, rt) => {
  negotiate(req, ['json']);
  const u = await uploadOf(rt, req.params.id);
  const of = (state: CheckExecution['status']) => (u.checks ?? []).filter((c) => c.status === state).map(checkEntry);
  return { status: 200, body: { asked: of('asked'), in_progress: of('in_progress'), passed: of('passed'), failed: of('failed') } };
};

/** GET /uploads/{id}/checks/{execution}: one check execution, its state, progress and log lines. */
export const uploadCheck: Handler = async (req, rt) => {
  negotiate(req, ['json']);
  const u = await uploadOf(rt, req.params.id);
  const c = (u.checks ?? []).find((x) => x._id !== '' && x._id === req.params.execution);
  if (!c) throw new ApiError('not-found', `the upload '${u._id}' has no check execution '${req.params.execution}'`);
  const job = await rt.manager.get(c._id);
  const live = job?.statusMembers?.logs;
  return {
    status: 200,
    body: {
      _id: c._id,
      check: c.check,
      status: c.status,
      ...(job?.progress !== undefined ? { progress: Math.round(job.progress) } : {}),
      creation: c.created,
      ...(job?.started ? { start: job.started } : {}),
      ...(c.finished ? { finish: c.finished } : {}),
      // While it runs, the job's log lines so far; once ended, those kept with the upload.
      logs: c.logs.length || !Array.isArray(live) ? c.logs : live,
      links: [
        { href: `${req.baseUrl}/jobs/${c._id}`, rel: 'related', type: 'application/json', title: 'the job of this check' },
        { href: `${req.baseUrl}/uploads/${u._id}`, rel: 'up', type: 'application/json', title: 'the upload' },
      ],
    },
  };
};
