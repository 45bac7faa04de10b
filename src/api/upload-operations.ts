/**
 * OpenAPI operations of /uploads (issue 11): deliveries, their files and tree. The route table
 * (routes.ts) reads them.
 */
import { MEDIA } from './conformance.js';
import { errorResponse } from './operations.js';

type Obj = Record<string, unknown>;

const TAG = ['Uploads'];
const NOT_ALLOWED = (): Obj => errorResponse(405, 'another method than those documented for this path (see the Allow header)');
const SERVER_ERROR = (): Obj => errorResponse(500, 'an unexpected error on the server');
const JSON_ANSWER = (description: string): Obj => ({ description, content: { [MEDIA.json]: { schema: { type: 'object' } } } });

const UPLOAD_BODY = {
  type: 'object',
  required: ['name', 'type', 'srs'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 1000 },
    description: { type: 'string', maxLength: 1000 },
    type: { type: 'string', enum: ['RASTER'] },
    srs: { type: 'string', example: 'EPSG:2154', description: 'The CRS of images that declare none (TIFF + TFW).' },
  },
};

/** Query parameters of the upload routes. */
export const UPLOAD_QUERY = {
  name: { name: 'name', in: 'query', required: false, description: 'Only uploads whose name contains this.', schema: { type: 'string' } },
  status: {
    name: 'status',
    in: 'query',
    required: false,
    description: 'Only uploads in this state (DELETED ones are listed only when asked).',
    schema: { type: 'string', enum: ['OPEN', 'CHECKING', 'CLOSED', 'UNSTABLE', 'DELETED'] },
  },
  type: { name: 'type', in: 'query', required: false, description: 'Only uploads of this type (RASTER).', schema: { type: 'string' } },
  path: {
    name: 'path',
    in: 'query',
    required: true,
    description: "The file's path inside the upload: relative, '/'-separated, without '..', backslashes or control characters.",
    schema: { type: 'string', example: 'data/scan.tif' },
  },
  md5: {
    name: 'md5',
    in: 'query',
    required: false,
    description: 'The MD5 of the file (hex): a file whose bytes differ is refused and not kept. Content-MD5 (base64) works too.',
    schema: { type: 'string', pattern: '^[0-9a-fA-F]{32}$' },
  },
} as const;

const FILE_ERRORS = (): Obj => ({
  400: errorResponse(400, 'path is unsafe, the MD5 differs, or uploads.max_files is reached (the limit is named)'),
  404: errorResponse(404, 'no such upload'),
  409: errorResponse(409, 'the upload is not OPEN'),
  413: errorResponse(413, 'the file is larger than uploads.max_file_size, max_upload_size or quota (the limit is named)'),
  507: errorResponse(507, 'the storage is full; nothing was kept'),
  405: NOT_ALLOWED(),
  500: SERVER_ERROR(),
});

export const UPLOAD_OPERATIONS: Record<string, Obj> = {
  createUpload: {
    tags: TAG,
    operationId: 'createUpload',
    summary: 'Declare an upload',
    description: 'A delivery: created OPEN, filled with files, then closed and checked before processes may read it.',
    requestBody: { required: true, content: { [MEDIA.json]: { schema: UPLOAD_BODY } } },
    responses: {
      201: JSON_ANSWER('Created OPEN; Location names it.'),
      400: errorResponse(400, 'a field is invalid (named)'),
      415: errorResponse(415, 'the body is not JSON'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getUploads: {
    tags: TAG,
    operationId: 'getUploads',
    summary: 'The uploads',
    responses: {
      200: JSON_ANSWER('{"uploads": [...], "links": [...]}, paged by limit/offset.'),
      400: errorResponse(400, 'a bad filter'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getUpload: {
    tags: TAG,
    operationId: 'getUpload',
    summary: 'An upload',
    responses: { 200: JSON_ANSWER('The upload.'), 404: errorResponse(404, 'no such upload'), 405: NOT_ALLOWED(), 500: SERVER_ERROR() },
  },
  deleteUpload: {
    tags: TAG,
    operationId: 'deleteUpload',
    summary: 'Delete an upload and its files',
    responses: {
      204: { description: 'Deleted.' },
      404: errorResponse(404, 'no such upload'),
      409: errorResponse(409, 'a running job reads it, or its checks run'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getUploadTree: {
    tags: TAG,
    operationId: 'getUploadTree',
    summary: 'The files of an upload',
    responses: {
      200: JSON_ANSWER('[{"type": "DIRECTORY", "name", "size", "children": [{"type": "FILE", "name", "size"}]}]'),
      404: errorResponse(404, 'no such upload'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  putUploadFile: {
    tags: TAG,
    operationId: 'putUploadFile',
    summary: 'Send a file (raw bytes, curl -T)',
    description: 'Streamed to the storage; visible only once whole. The same path again replaces the file at once.',
    requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
    responses: { 200: JSON_ANSWER('{"path", "size", "md5"}'), ...FILE_ERRORS() },
  },
  postUploadFile: {
    tags: TAG,
    operationId: 'postUploadFile',
    summary: 'Send a file (multipart/form-data, field file)',
    requestBody: {
      required: true,
      content: { 'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } } } } },
    },
    responses: { 200: JSON_ANSWER('{"path", "size", "md5"}'), 415: errorResponse(415, 'not multipart/form-data'), ...FILE_ERRORS() },
  },
  deleteUploadFile: {
    tags: TAG,
    operationId: 'deleteUploadFile',
    summary: 'Delete a file of an OPEN upload',
    responses: {
      204: { description: 'Deleted.' },
      400: errorResponse(400, 'path is unsafe'),
      404: errorResponse(404, 'no such upload or file'),
      409: errorResponse(409, 'the upload is not OPEN'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  closeUpload: {
    tags: TAG,
    operationId: 'closeUpload',
    summary: 'Close an upload: its checks run',
    description:
      'OPEN → CHECKING; the checks (standard, raster) run as jobs of the processes check-standard and check-raster, listed in /jobs. All passed → CLOSED; one failed → UNSTABLE, its last_event naming the reason.',
    responses: {
      202: JSON_ANSWER('The upload, CHECKING (or already settled); Location: its checks.'),
      404: errorResponse(404, 'no such upload'),
      409: errorResponse(409, 'the upload is not OPEN'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  openUpload: {
    tags: TAG,
    operationId: 'openUpload',
    summary: 'Reopen a CLOSED or UNSTABLE upload',
    responses: {
      200: JSON_ANSWER('The upload, OPEN.'),
      404: errorResponse(404, 'no such upload'),
      409: errorResponse(409, 'the upload is OPEN or CHECKING, or a running job reads it'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getUploadChecks: {
    tags: TAG,
    operationId: 'getUploadChecks',
    summary: 'The checks of the last close',
    responses: {
      200: JSON_ANSWER(
        '{"asked": [...], "in_progress": [...], "passed": [...], "failed": [...]}, each entry {"check": {"name", "_id"}, "_id"}.',
      ),
      404: errorResponse(404, 'no such upload'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getUploadCheck: {
    tags: TAG,
    operationId: 'getUploadCheck',
    summary: 'One check execution: state, progress, log lines',
    responses: {
      200: JSON_ANSWER('{"_id", "check", "status", "progress", "creation", "start", "finish", "logs": ["INFO …", "ERROR …"]}'),
      404: errorResponse(404, 'no such upload or check execution'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
};
