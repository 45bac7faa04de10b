import type { Runtime } from '../runtime.js';
import { storageOfRecord } from '../storage/of-record.js';
import type { StoredData } from '../records/stored-data.js';
import { ApiError } from '../errors.js';
import { CATALOG_TYPE, deleteCatalog } from '../catalog/catalog.js';
import { PYRAMID_TYPE } from '../records/pyramid-infos.js';
import { deletePyramidFiles, descriptorKey, listKey, locationOfRecord } from '../pyramid/location.js';
import { respond } from './landing.js';
import { namedOf } from './named-storages.js';
import { negotiate, selfLinks, single, type ApiRequest, type ApiResponse } from './request.js';

type Handler = (req: ApiRequest, rt: Runtime) => Promise<ApiResponse>;

function withLinks(s: StoredData, baseUrl: string): Record<string, unknown> {
  return {
    ...s,
    links: [
      { href: `${baseUrl}/stored_data/${s._id}`, rel: 'self', type: 'application/json', title: s.name },
      { href: `${baseUrl}/stored_data/${s._id}/dependencies`, rel: 'related', type: 'application/json', title: 'dependencies' },
      ...(isServedPyramid(s)
        ? [
            {
              href: `${baseUrl}/stored_data/${s._id}/descriptor`,
              rel: 'describedby',
              type: 'application/json',
              title: 'the ROK4 descriptor',
            },
            { href: `${baseUrl}/stored_data/${s._id}/list`, rel: 'related', type: 'text/plain', title: 'the ROK4 list of slabs' },
          ]
        : []),
      ...(s.jobId ? [{ href: `${baseUrl}/jobs/${s.jobId}`, rel: 'via', type: 'application/json', title: 'the job that made it' }] : []),
    ],
  };
}

/** A READY pyramid: its descriptor and list are there to serve. */
function isServedPyramid(s: StoredData): boolean {
  return s.type === PYRAMID_TYPE && s.status === 'READY';
}

/**
 * GET /stored_data?type=&status=&name=. DELETED records stay (their history, what used them) but
 * are listed only when `status` asks for them.
 */
export const listStoredData: Handler = async (req, rt) => {
  const format = negotiate(req);
  const status = single(req.query.status);
  const all = await rt.datastore.list({ type: single(req.query.type), status, name: single(req.query.name) });
  const items = status ? all : all.filter((s) => s.status !== 'DELETED');
  return respond(req, format, 'stored_data', {
    stored_data: items.map((s) => withLinks(s, req.baseUrl)),
    links: selfLinks(req, '/stored_data', format, 'stored data'),
  });
};

/** GET /stored_data/{id} */
export const getStoredData: Handler = async (req, rt) => {
  const format = negotiate(req);
  const s = await rt.datastore.get(req.params.id);
  if (!s) throw new ApiError('not-found', `no stored data with id '${req.params.id}'`);
  const doc = withLinks(s, req.baseUrl);
  if (format === 'html') {
    // The page links the layers that publish it ("View"), from the configurations that use it.
    const published = [];
    for (const c of await rt.publisher.configurationsUsing(s._id)) {
      const offering = await rt.publisher.offeringOf(c._id);
      published.push({ configuration: c._id, name: c.name, layer_name: c.layer_name, offering: offering?._id });
    }
    doc.published = published;
  }
  return respond(req, format, 'stored_data_item', doc);
};

/** GET /stored_data/{id}/dependencies */
export const storedDataDependencies: Handler = async (req, rt) => {
  const format = negotiate(req);
  if (!(await rt.datastore.get(req.params.id))) throw new ApiError('not-found', `no stored data with id '${req.params.id}'`);
  return respond(req, format, 'dependencies', await rt.datastore.dependencies(req.params.id));
};

/** DELETE /stored_data/{id}: removes its files; 409 while used by another stored data or a job. */
export const deleteStoredData: Handler = async (req, rt) => {
  const s = await rt.datastore.get(req.params.id);
  if (!s || s.status === 'DELETED') throw new ApiError('not-found', `no stored data with id '${req.params.id}'`);
  const blocker = await rt.datastore.deletionBlocker(s._id);
  if (blocker) throw new ApiError('conflict', `cannot delete: ${blocker}`);
  // Locking refuses (409) when a job took the record between the check above and now.
  const release = await rt.datastore.lockForWrite(s._id);
  try {
    // Only the record's own files: a pyramid's folder (or its three entries at the storage root, for one
    // written before pyramids had folders).
    // On the storage the record names (issue 13).
    const storage = storageOfRecord(s, namedOf(rt));
    if (s.type === PYRAMID_TYPE) await deletePyramidFiles(storage, locationOfRecord(s));
    else if (s.type === CATALOG_TYPE) await deleteCatalog(storage, rt.catalogItems, s);
    await rt.datastore.update(s._id, { status: 'DELETED', size: 0 });
  } finally {
    release();
  }
  return { status: 204 };
};

/** A pyramid file of a READY stored data, read through the storage (404 for anything else). */
async function pyramidFile(req: ApiRequest, rt: Runtime, which: 'descriptor' | 'list'): Promise<Buffer> {
  const s = await rt.datastore.get(req.params.id);
  if (!s) throw new ApiError('not-found', `no stored data with id '${req.params.id}'`);
  if (!isServedPyramid(s)) throw new ApiError('not-found', `stored data '${s.name}' is ${s.status}: it has no ${which} to serve`);
  const location = locationOfRecord(s);
  try {
    return await storageOfRecord(s, namedOf(rt)).read(which === 'descriptor' ? descriptorKey(location) : listKey(location));
  } catch {
    throw new ApiError('not-found', `the ${which} of stored data '${s.name}' cannot be read from the storage`);
  }
}

/** GET /stored_data/{id}/descriptor: the ROK4 pyramid descriptor (rok4.md §5), as stored. */
export const storedDataDescriptor: Handler = async (req, rt) => ({
  status: 200,
  headers: { 'Content-Type': 'application/json' },
  body: await pyramidFile(req, rt, 'descriptor'),
});

/** GET /stored_data/{id}/list: the ROK4 list of slabs (rok4.md §6), as stored. */
export const storedDataList: Handler = async (req, rt) => ({
  status: 200,
  headers: { 'Content-Type': 'text/plain; charset=utf-8' },
  body: await pyramidFile(req, rt, 'list'),
});
