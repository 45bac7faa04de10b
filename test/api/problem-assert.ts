import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

export const OGC_EXCEPTION = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/';

/**
 * Asserts an RFC 7807 problem answer: the status, the media type (execute errors must be exactly
 * application/json for the ETS, ogcapi-processes.md §3.4), the members, and what the detail names.
 */
export async function assertProblem(
  res: Response,
  status: number,
  expect: { contentType?: 'application/json' | 'application/problem+json'; type?: string; detail?: RegExp } = {},
): Promise<Record<string, unknown>> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${text.slice(0, 300)}`);
  const ct = res.headers.get('content-type') ?? '';
  if (expect.contentType) assert.equal(ct.split(';')[0], expect.contentType);
  else assert.match(ct, /^application\/(problem\+)?json/);
  const body = JSON.parse(text) as Record<string, unknown>;
  assert.equal(typeof body.type, 'string');
  assert.equal(typeof body.title, 'string');
  assert.equal(body.status, status);
  assert.equal(typeof body.detail, 'string');
  assert.ok((body.detail as string).length > 0);
  if (expect.type) assert.equal(body.type, expect.type.startsWith('http') ? expect.type : OGC_EXCEPTION + expect.type);
  if (expect.detail) assert.match(body.detail as string, expect.detail);
  return body;
}

/**
 * Writes a process plugin module (plain JS, no imports) that fails after `delayMs`, for failed-job
 * tests; returns its path (config `processes: { fail: <path> }`).
 */
export async function writeFailingPlugin(dir: string, delayMs = 0): Promise<string> {
  const file = path.join(dir, 'fail-plugin.mjs');
  await writeFile(
    file,
    `export default {
  description: {
    id: 'fail', version: '1.0.0', title: 'Always fails',
    jobControlOptions: ['sync-execute', 'async-execute', 'dismiss'], outputTransmission: ['value'],
    inputs: { reason: { schema: { type: 'string' }, minOccurs: 0, maxOccurs: 1 } },
    outputs: { never: { schema: { type: 'string' } } },
  },
  async execute(inputs) {
    await new Promise((r) => setTimeout(r, ${delayMs}));
    throw new Error('failed on purpose: ' + (inputs.reason ?? 'no reason'));
  },
};
`,
  );
  return file;
}

/** Parts of a multipart/related body: headers (lower-case) and body text. */
export function multipartParts(contentType: string, body: Buffer): Array<{ headers: Record<string, string>; body: string }> {
  const boundary = /boundary=("?)([^";]+)\1/.exec(contentType)?.[2];
  assert.ok(boundary, `no boundary in ${contentType}`);
  const text = body.toString('latin1');
  const chunks = text.split(`--${boundary}`);
  assert.equal(chunks.at(-1)!.trim(), '--', 'the body ends with the closing boundary');
  return chunks.slice(1, -1).map((chunk) => {
    const [head, ...rest] = chunk.replace(/^\r\n/, '').split('\r\n\r\n');
    const headers: Record<string, string> = {};
    for (const line of head.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    return { headers, body: rest.join('\r\n\r\n').replace(/\r\n$/, '') };
  });
}

/** Number of jobs the server knows. */
export async function jobCount(baseUrl: string): Promise<number> {
  const res = await fetch(`${baseUrl}/jobs?limit=10000`);
  return ((await res.json()) as { jobs: unknown[] }).jobs.length;
}
