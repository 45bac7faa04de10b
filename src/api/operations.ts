import type { ProcessDescription, JsonSchema } from '../process/types.js';
import { isBinarySchema } from '../process/execute-request.js';
import { ERROR_TABLE } from '../errors.js';
import { MEDIA } from './conformance.js';
import { ref, toOasSchema } from './openapi-schemas.js';

/**
 * The operations of the OpenAPI document: what each (route, method) of the route table takes and
 * answers. Status codes are those the handlers and the adapter can send (conformance class oas30:
 * "all status codes documented"); error bodies are RFC 7807 with the OGC exception types.
 */

type Obj = Record<string, unknown>;

/** Parameters shared by several operations (components/parameters). */
export const COMPONENT_PARAMETERS: Record<string, Obj> = {
  f: {
    name: 'f',
    in: 'query',
    required: false,
    description: 'The representation: `json` or `html` (wins over the Accept header; `application/json` and `text/html` are accepted too).',
    schema: { type: 'string', enum: ['json', 'html', 'application/json', 'text/html'] },
  },
  limit: {
    name: 'limit',
    in: 'query',
    required: false,
    description: 'At most this many items (values above 10000 are treated as 10000; /per/core/limit-default-minimum-maximum).',
    schema: { type: 'integer', minimum: 1, maximum: 10000, default: 10 },
  },
  offset: {
    name: 'offset',
    in: 'query',
    required: false,
    description: 'Items to skip (paging; `next`/`prev` links carry it).',
    schema: { type: 'integer', minimum: 0, default: 0 },
  },
  processIdPathParam: { name: 'processId', in: 'path', required: true, description: 'The process identifier.', schema: { type: 'string' } },
  jobId: { name: 'jobId', in: 'path', required: true, description: 'The job identifier.', schema: { type: 'string' } },
  outputId: { name: 'outputId', in: 'path', required: true, description: 'The output identifier.', schema: { type: 'string' } },
  executionId: {
    name: 'executionId',
    in: 'path',
    required: true,
    description: 'The identifier of a synchronous execution whose outputs were asked by reference.',
    schema: { type: 'string', format: 'uuid' },
  },
  apiConsoleFile: {
    name: 'file',
    in: 'path',
    required: true,
    description: 'The file name.',
    schema: { type: 'string', enum: ['swagger-ui.css', 'swagger-ui-bundle.js', 'console.js'] },
  },
  storedDataId: { name: 'id', in: 'path', required: true, description: 'The stored data identifier (`_id`).', schema: { type: 'string' } },
  type: {
    name: 'type',
    in: 'query',
    required: false,
    style: 'form',
    explode: false,
    description: 'Only jobs of these types (comma-separated; only `process` exists).',
    schema: { type: 'array', items: { type: 'string', enum: ['process'] } },
  },
  processIdQueryParam: {
    name: 'processID',
    in: 'query',
    required: false,
    style: 'form',
    explode: false,
    description: 'Only jobs of these processes (comma-separated; `processId` is accepted too).',
    schema: { type: 'array', items: { type: 'string' } },
  },
  status: {
    name: 'status',
    in: 'query',
    required: false,
    style: 'form',
    explode: false,
    description: 'Only jobs in these states (comma-separated).',
    schema: { type: 'array', items: ref('statusCode') },
  },
  datetime: {
    name: 'datetime',
    in: 'query',
    required: false,
    description: 'Only jobs created at this instant or in this interval (RFC 3339, `start/end`, `..` for an open end).',
    schema: { type: 'string' },
    example: '2024-01-01T00:00:00Z/..',
  },
  minDuration: {
    name: 'minDuration',
    in: 'query',
    required: false,
    description: 'Only jobs that ran at least this many seconds (running: since started; finished: finished − started).',
    schema: { type: 'number', minimum: 0 },
  },
  maxDuration: {
    name: 'maxDuration',
    in: 'query',
    required: false,
    description: 'Only jobs that ran at most this many seconds.',
    schema: { type: 'number', minimum: 0 },
  },
  storedDataType: { name: 'type', in: 'query', required: false, description: 'Only stored data of this type.', schema: { type: 'string' } },
  storedDataStatus: {
    name: 'status',
    in: 'query',
    required: false,
    description: 'Only stored data in this state (DELETED records are listed only when asked for).',
    schema: { type: 'string', enum: ['GENERATING', 'READY', 'FAILED', 'DELETED'] },
  },
  storedDataName: {
    name: 'name',
    in: 'query',
    required: false,
    description: 'Only stored data with this name.',
    schema: { type: 'string' },
  },
  prefer: {
    name: 'Prefer',
    in: 'header',
    required: false,
    description:
      '`respond-async` asks for an asynchronous execution (201 + Location) when the process offers both modes; other preferences are ignored (RFC 7240).',
    schema: { type: 'string' },
    example: 'respond-async',
  },
};

/** Path parameter name → its entry in components/parameters (others get a plain string parameter). */
export const PATH_PARAMETERS: Record<string, string> = {
  processId: 'processIdPathParam',
  jobId: 'jobId',
  outputId: 'outputId',
  executionId: 'executionId',
  id: 'storedDataId',
  file: 'apiConsoleFile',
};

/** Response headers (components/headers). */
export const COMPONENT_HEADERS: Record<string, Obj> = {
  Location: { description: 'URL of the job status (GET /jobs/{jobId}).', required: true, schema: { type: 'string', format: 'uri' } },
  PreferenceApplied: { description: 'The preference honoured (`respond-async`), when the request had one.', schema: { type: 'string' } },
  Link: {
    description: 'One link per output sent by reference: `<url>; rel="related"; type="…"; title="<output id>"`.',
    schema: { type: 'string' },
  },
  Allow: { description: 'The methods the path accepts.', schema: { type: 'string' } },
};

const pref = (name: string): Obj => ({ $ref: `#/components/parameters/${name}` });
const header = (name: string): Obj => ({ $ref: `#/components/headers/${name}` });

/** Why each error status can happen, per kind, from the one error table (src/api/errors.ts). */
function errorDescription(status: number, extra = ''): string {
  const kinds = Object.entries(ERROR_TABLE)
    .filter(([, row]) => row.status === status)
    .map(([kind]) => kind);
  return `${ERROR_TABLE[kinds[0] as keyof typeof ERROR_TABLE]?.title ?? 'Error'}${extra ? `: ${extra}` : ''}`;
}

/** An error response; execute errors are application/json (the ETS wants it, ogcapi-processes.md §3.4). */
export function errorResponse(status: number, why: string, mediaType: string = MEDIA.problem): Obj {
  const res: Obj = { description: errorDescription(status, why), content: { [mediaType]: { schema: ref('exception') } } };
  if (status === 405) res.headers = { Allow: header('Allow') };
  return res;
}

/** 200 with a JSON document, also offered as HTML. */
function jsonOrHtml(description: string, schemaName: string): Obj {
  return {
    description,
    content: {
      [MEDIA.json]: { schema: ref(schemaName) },
      [MEDIA.html]: { schema: { type: 'string' } },
    },
  };
}

const NOT_ACCEPTABLE = (): Obj =>
  errorResponse(406, 'the f parameter or the Accept header asks for a representation not offered (json, html)');
const NOT_ALLOWED = (): Obj => errorResponse(405, 'another method than those documented for this path (see the Allow header)');
const SERVER_ERROR = (): Obj => errorResponse(500, 'an unexpected error on the server');
const BAD_PAGING = (): Obj => errorResponse(400, 'a query parameter is invalid (limit, offset…)');

/**
 * The operations of the route table (src/api/routes.ts), by operationId. Path parameters come from the
 * route path and query parameters from its `query` list (the OpenAPI generator adds both).
 */
export const OPERATIONS = {
  getLandingPage: {
    tags: ['Capabilities'],
    operationId: 'getLandingPage',
    summary: 'Landing page',
    description: 'Links to the API definition, the conformance declaration, the processes, the jobs and the stored data.',
    responses: {
      200: jsonOrHtml('The landing page (landingPage.yaml).', 'landingPage'),
      405: NOT_ALLOWED(),
      406: NOT_ACCEPTABLE(),
      500: SERVER_ERROR(),
    },
  },
  getConformance: {
    tags: ['Capabilities'],
    operationId: 'getConformance',
    summary: 'Conformance declaration',
    description: 'The conformance classes of OGC API – Processes – Part 1 this server implements.',
    responses: {
      200: jsonOrHtml('The conformance classes (confClasses.yaml).', 'confClasses'),
      405: NOT_ALLOWED(),
      406: NOT_ACCEPTABLE(),
      500: SERVER_ERROR(),
    },
  },
  getWorkers: {
    tags: ['Capabilities'],
    operationId: 'getWorkers',
    summary: 'Workers and queue',
    description:
      'Who runs the jobs: with the bullmq manager, the worker processes alive (their heartbeats) and the depth of the queue; with the embedded managers, this server’s own queue (dallage extension).',
    responses: {
      200: jsonOrHtml('The workers and the queue.', 'workerList'),
      400: BAD_PAGING(),
      405: NOT_ALLOWED(),
      406: NOT_ACCEPTABLE(),
      500: SERVER_ERROR(),
    },
  },
  getApi: {
    tags: ['Capabilities'],
    operationId: 'getApi',
    summary: 'API definition (this document)',
    description: 'The OpenAPI 3.0 definition of this server, generated from its routes and its process descriptions.',
    responses: {
      200: { description: 'The OpenAPI 3.0 document.', content: { [MEDIA.openapi]: { schema: { type: 'object' } } } },
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getApiDocumentation: {
    tags: ['Capabilities'],
    operationId: 'getApiDocumentation',
    summary: 'API documentation',
    description: 'An interactive console for this definition (Swagger UI, served by this server): read each operation, try it out.',
    responses: {
      200: { description: 'The documentation page.', content: { [MEDIA.html]: { schema: { type: 'string' } } } },
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getProcesses: {
    tags: ['Processes'],
    operationId: 'getProcesses',
    summary: 'List the processes',
    description: 'Summaries of the processes, `limit` at a time, with `next`/`prev` links.',
    responses: {
      200: jsonOrHtml('The process list (processList.yaml).', 'processList'),
      400: BAD_PAGING(),
      405: NOT_ALLOWED(),
      406: NOT_ACCEPTABLE(),
      500: SERVER_ERROR(),
    },
  },
  getProcessDescription: {
    tags: ['Processes'],
    operationId: 'getProcessDescription',
    summary: 'Describe a process',
    description: 'The process description: inputs and outputs with their JSON Schemas, execution modes, an example execute request.',
    responses: {
      200: jsonOrHtml('The process description (process.yaml).', 'process'),
      404: errorResponse(404, 'no such process (type …/no-such-process)'),
      405: NOT_ALLOWED(),
      406: NOT_ACCEPTABLE(),
      500: SERVER_ERROR(),
    },
  },
  getJobs: {
    tags: ['Jobs'],
    operationId: 'getJobs',
    summary: 'List the jobs',
    description:
      'Status documents of the jobs, newest first, filtered by the job-list parameters, `limit` at a time with `next`/`prev` links.',
    responses: {
      200: jsonOrHtml('The job list (jobList.yaml).', 'jobList'),
      400: errorResponse(400, 'a filter or paging parameter is invalid (type …/invalid-parameter-value)'),
      405: NOT_ALLOWED(),
      406: NOT_ACCEPTABLE(),
      500: SERVER_ERROR(),
    },
  },
  getStatus: {
    tags: ['Jobs'],
    operationId: 'getStatus',
    summary: 'Status of a job',
    description: 'The job status: `monitor` link while it runs, `results` links once successful.',
    responses: {
      200: jsonOrHtml('The status (statusInfo.yaml).', 'statusInfo'),
      404: errorResponse(404, 'no such job (type …/no-such-job)'),
      405: NOT_ALLOWED(),
      406: NOT_ACCEPTABLE(),
      500: SERVER_ERROR(),
    },
  },
  dismiss: {
    tags: ['Jobs'],
    operationId: 'dismiss',
    summary: 'Dismiss a job',
    description:
      'Stops a queued or running job and removes its results (conformance class dismiss). Dismissing a dismissed job answers its status again.',
    responses: {
      200: jsonOrHtml('The status of the dismissed job (`status: dismissed`).', 'statusInfo'),
      404: errorResponse(404, 'no such job (type …/no-such-job)'),
      405: NOT_ALLOWED(),
      406: NOT_ACCEPTABLE(),
      500: SERVER_ERROR(),
    },
  },
  getResult: {
    tags: ['Jobs'],
    operationId: 'getResult',
    summary: 'Results of a job',
    description:
      'The results in the shape the execute request asked for (`response`, `transmissionMode`): one raw value, multipart/related, 204 with Link headers, or a results document. `f=html` (or an Accept preferring text/html) gives an HTML view.',
    responses: {
      200: {
        description:
          'The results: a results document (results.yaml), one output raw in its media type, or multipart/related (one part per output, Content-ID = output id).',
        content: {
          // A results document, or one JSON output raw (any JSON value): the job decides.
          [MEDIA.json]: { schema: { anyOf: [ref('results'), { description: 'One output, raw.' }] } },
          'multipart/related': { schema: { type: 'string', format: 'binary' } },
          '*/*': { schema: { type: 'string', format: 'binary' } },
        },
      },
      204: { description: 'Raw response with every output by reference: one Link header per output.', headers: { Link: header('Link') } },
      400: errorResponse(400, 'the job failed because of its inputs', MEDIA.json),
      404: errorResponse(404, 'no such job (…/no-such-job) or the job has not finished (…/result-not-ready)'),
      405: NOT_ALLOWED(),
      410: errorResponse(410, 'the job was dismissed; it has no results'),
      500: errorResponse(500, 'the job failed (…/job-failed; the detail says why) or a server error', MEDIA.json),
    },
  },
  getResultOutput: {
    tags: ['Jobs'],
    operationId: 'getResultOutput',
    summary: 'One output of a job',
    description: 'One output, raw, in its media type (the target of the links of reference outputs).',
    responses: {
      200: { description: 'The output value.', content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
      404: errorResponse(404, 'no such job, results not ready, or no such output'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getSyncOutput: {
    tags: ['Processes'],
    operationId: 'getSyncOutput',
    summary: 'One output of a synchronous execution',
    description: 'An output of a synchronous execution that asked for it by reference (the target of its Link header or document link).',
    responses: {
      200: { description: 'The output value.', content: { '*/*': { schema: { type: 'string', format: 'binary' } } } },
      404: errorResponse(404, 'no such execution or output'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getStoredData: {
    tags: ['Stored data'],
    operationId: 'getStoredData',
    summary: 'List the stored data',
    description: 'The products kept by the server (pyramids, COG catalogs).',
    responses: { 200: jsonOrHtml('The stored data.', 'storedDataList'), 405: NOT_ALLOWED(), 406: NOT_ACCEPTABLE(), 500: SERVER_ERROR() },
  },
  getStoredDataItem: {
    tags: ['Stored data'],
    operationId: 'getStoredDataItem',
    summary: 'One stored data',
    responses: {
      200: jsonOrHtml('The stored data record.', 'storedData'),
      404: errorResponse(404, 'no such stored data'),
      405: NOT_ALLOWED(),
      406: NOT_ACCEPTABLE(),
      500: SERVER_ERROR(),
    },
  },
  deleteStoredData: {
    tags: ['Stored data'],
    operationId: 'deleteStoredData',
    summary: 'Delete a stored data',
    description: 'Removes its files; refused while another stored data uses it or a job reads or writes it.',
    responses: {
      204: { description: 'Deleted (the record stays with status DELETED).' },
      404: errorResponse(404, 'no such stored data'),
      405: NOT_ALLOWED(),
      409: errorResponse(409, 'used by another stored data or by a running job'),
      500: SERVER_ERROR(),
    },
  },
  getStoredDataDependencies: {
    tags: ['Stored data'],
    operationId: 'getStoredDataDependencies',
    summary: 'Dependencies of a stored data',
    description: 'The stored data it uses and those that use it.',
    responses: {
      200: jsonOrHtml('What it uses and what uses it.', 'storedDataDependencies'),
      404: errorResponse(404, 'no such stored data'),
      405: NOT_ALLOWED(),
      406: NOT_ACCEPTABLE(),
      500: SERVER_ERROR(),
    },
  },
  getStoredDataDescriptor: {
    tags: ['Stored data'],
    operationId: 'getStoredDataDescriptor',
    summary: 'ROK4 descriptor of a pyramid',
    description: 'The descriptor of a READY pyramid as stored (ROK4 pyramid descriptor, JSON): what a ROK4 server or a client reads.',
    responses: {
      200: { description: 'The descriptor.', content: { [MEDIA.json]: { schema: { type: 'object' } } } },
      404: errorResponse(404, 'no such stored data, not a pyramid, or not READY'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getStoredDataList: {
    tags: ['Stored data'],
    operationId: 'getStoredDataList',
    summary: 'ROK4 list of a pyramid',
    description: 'The list of a READY pyramid as stored: its roots, then one slab per line (references to other pyramids included).',
    responses: {
      200: { description: 'The list.', content: { 'text/plain': { schema: { type: 'string' } } } },
      404: errorResponse(404, 'no such stored data, not a pyramid, or not READY'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getMapViewerFile: {
    tags: ['Capabilities'],
    operationId: 'getMapViewerFile',
    summary: 'A file of the map viewer',
    description: 'OpenLayers (the ol package), proj4 and the start-up script of the map viewer shown on offering pages.',
    responses: {
      200: {
        description: 'The file.',
        content: { 'text/css': { schema: { type: 'string' } }, 'text/javascript': { schema: { type: 'string' } } },
      },
      404: errorResponse(404, 'no such file'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getApiConsoleFile: {
    tags: ['Capabilities'],
    operationId: 'getApiConsoleFile',
    summary: 'A file of the API console',
    description: 'The style sheet and scripts of the API console (Swagger UI from the swagger-ui-dist package, and its start-up script).',
    responses: {
      200: {
        description: 'The file.',
        content: { 'text/css': { schema: { type: 'string' } }, 'text/javascript': { schema: { type: 'string' } } },
      },
      404: errorResponse(404, 'no such file'),
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
  getFavicon: {
    tags: ['Capabilities'],
    operationId: 'getFavicon',
    summary: 'The site icon',
    responses: {
      200: { description: 'The icon (SVG).', content: { 'image/svg+xml': { schema: { type: 'string' } } } },
      405: NOT_ALLOWED(),
      500: SERVER_ERROR(),
    },
  },
} satisfies Record<string, Obj>;

/** Media type of an output value, as the results code serves it (raw responses). */
function outputMediaType(schema: JsonSchema): string {
  if (typeof schema.contentMediaType === 'string') return schema.contentMediaType;
  if (isBinarySchema(schema)) return 'application/octet-stream';
  return MEDIA.json;
}

/** The forms one input value may take (inlineOrRefData.yaml narrowed to the input's schema). */
function inputValueSchema(input: ProcessDescription['inputs'][string]): Obj {
  const valueSchema = toOasSchema(input.schema);
  const qualifiedValue = isBinarySchema(input.schema) ? { type: 'string', format: 'byte', description: 'base64' } : valueSchema;
  const one: Obj = {
    anyOf: [
      isBinarySchema(input.schema) ? { type: 'string', format: 'byte', description: 'The content, base64-encoded.' } : valueSchema,
      { allOf: [ref('format'), { type: 'object', required: ['value'], properties: { value: qualifiedValue } }] },
      ref('link'),
    ],
  };
  const max = input.maxOccurs === 'unbounded' ? Infinity : (input.maxOccurs ?? 1);
  const min = input.minOccurs ?? 1;
  const described: Obj = {
    ...(input.title ? { title: input.title } : {}),
    ...(input.description ? { description: input.description } : {}),
  };
  if (max <= 1) return { ...described, ...one };
  const array: Obj = {
    type: 'array',
    items: one,
    ...(min > 1 ? { minItems: min } : {}),
    ...(Number.isFinite(max) ? { maxItems: max } : {}),
  };
  return { ...described, anyOf: [one, array] };
}

/** The execute request body of one process (execute.yaml narrowed to its inputs and outputs). */
function executeBodySchema(d: ProcessDescription): Obj {
  const required = Object.entries(d.inputs)
    .filter(([, i]) => (i.minOccurs ?? 1) > 0)
    .map(([id]) => id);
  return {
    type: 'object',
    properties: {
      inputs: {
        type: 'object',
        properties: Object.fromEntries(Object.entries(d.inputs).map(([id, i]) => [id, inputValueSchema(i)])),
        ...(required.length ? { required } : {}),
        additionalProperties: false,
      },
      outputs: {
        type: 'object',
        description: 'The outputs wanted (all when absent or empty).',
        properties: Object.fromEntries(
          Object.keys(d.outputs).map((id) => [
            id,
            {
              allOf: [ref('output'), { type: 'object', properties: { transmissionMode: { type: 'string', enum: d.outputTransmission } } }],
            },
          ]),
        ),
        additionalProperties: false,
      },
      response: { type: 'string', enum: ['raw', 'document'], default: 'raw' },
      subscriber: ref('subscriber'),
    },
    ...(required.length ? { required: ['inputs'] } : {}),
  };
}

/** The results document of one process (results.yaml narrowed to its outputs). */
function resultsDocumentSchema(d: ProcessDescription): Obj {
  return {
    type: 'object',
    title: 'results document',
    description: `Results document of ${d.id}: output id → value, qualified value or link.`,
    properties: Object.fromEntries(Object.keys(d.outputs).map((id) => [id, ref('inlineOrRefData')])),
    additionalProperties: false,
  };
}

/**
 * POST /processes/{id}/execution: for one process (request and responses narrowed to its inputs
 * and outputs) or, with no description, the generic operation of the templated path.
 */
export function executeOperation(d: ProcessDescription | undefined): Obj {
  const errors = {
    400: errorResponse(
      400,
      'the execute request is invalid: body shape, unknown or missing input, a value not matching its schema, an unknown output (type …/invalid-input or …/invalid-parameter-value)',
      MEDIA.json,
    ),
    404: errorResponse(404, 'no such process (type …/no-such-process)', MEDIA.json),
    405: NOT_ALLOWED(),
    413: errorResponse(413, 'the body exceeds server.limits.body_size', MEDIA.json),
    415: errorResponse(415, 'the body is not application/json', MEDIA.json),
    500: errorResponse(500, 'the process failed (synchronous execution) or a server error', MEDIA.json),
  };
  const rawContent: Obj = {};
  const jsonRaw: Obj[] = [];
  if (d) {
    for (const o of Object.values(d.outputs)) {
      const type = outputMediaType(o.schema);
      if (type === MEDIA.json) jsonRaw.push(toOasSchema(o.schema));
      else rawContent[type] = { schema: isBinarySchema(o.schema) ? { type: 'string', format: 'binary' } : { type: 'string' } };
    }
  }
  const documentSchema = d ? resultsDocumentSchema(d) : ref('results');
  const modes = d ? d.jobControlOptions.filter((m) => m !== 'dismiss').join(' and ') : 'sync-execute and/or async-execute';
  const example = d?.example;
  return {
    tags: ['Processes'],
    operationId: d ? `execute-${d.id.replace(/[^A-Za-z0-9._-]/g, '_')}` : 'execute',
    summary: d ? `Execute ${d.title ?? d.id}` : 'Execute a process',
    description: `${d?.description ? `${d.description}\n\n` : ''}Execution modes: ${modes}. Without \`Prefer: respond-async\` a process offering sync-execute runs synchronously. \`response\` (raw by default) and each output's \`transmissionMode\` choose the shape of the answer (18-062r2 clause 7, "mapping execute responses").`,
    parameters: [pref('prefer')],
    requestBody: {
      required: true,
      description: 'The execute request (execute.yaml).',
      content: { [MEDIA.json]: { schema: d ? executeBodySchema(d) : ref('execute'), ...(example ? { example } : {}) } },
    },
    responses: {
      200: {
        description:
          'Synchronous execution: `response: document` → a results document; `raw` with one output by value → that output in its media type; `raw` with several → multipart/related (one part per output, Content-ID = output id; reference parts are empty with Content-Location).',
        headers: { 'Preference-Applied': header('PreferenceApplied') },
        content: {
          [MEDIA.json]: { schema: jsonRaw.length ? { anyOf: [documentSchema, ...jsonRaw] } : documentSchema },
          ...rawContent,
          'multipart/related': { schema: { type: 'string', format: 'binary' } },
        },
      },
      201: {
        description: 'Asynchronous execution: the job was created; Location is its status URL.',
        headers: { Location: header('Location'), 'Preference-Applied': header('PreferenceApplied') },
        content: { [MEDIA.json]: { schema: ref('statusInfo') } },
      },
      204: {
        description: 'Synchronous `raw` execution with every output by reference: one Link header per output, no body.',
        headers: { Link: header('Link'), 'Preference-Applied': header('PreferenceApplied') },
      },
      ...errors,
    },
    ...(d?.jobControlOptions.includes('async-execute') || !d
      ? {
          callbacks: {
            jobCompleted: {
              '{$request.body#/subscriber/successUri}': {
                post: {
                  summary: 'Results of a successful job (conformance class callback)',
                  requestBody: { content: { [MEDIA.json]: { schema: ref('results') } } },
                  responses: { 200: { description: 'Received.' }, 202: { description: 'Accepted.' } },
                },
              },
              '{$request.body#/subscriber/inProgressUri}': {
                post: {
                  summary: 'Status of the job while it runs',
                  requestBody: { content: { [MEDIA.json]: { schema: ref('statusInfo') } } },
                  responses: { 200: { description: 'Received.' }, 202: { description: 'Accepted.' } },
                },
              },
              '{$request.body#/subscriber/failedUri}': {
                post: {
                  summary: 'Why the job failed (problem details)',
                  requestBody: { content: { [MEDIA.json]: { schema: ref('exception') } } },
                  responses: { 200: { description: 'Received.' }, 202: { description: 'Accepted.' } },
                },
              },
            },
          },
        }
      : {}),
  };
}
