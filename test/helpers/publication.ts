/**
 * Publishing through the API, as a user does (issue 10): a configuration of one pyramid, then its
 * offering. Tests of the services and of their clients start from a published layer.
 */
import assert from 'node:assert/strict';
import type { TestServer } from './server.js';

async function post(s: TestServer, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${s.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 201, JSON.stringify(json));
  return json;
}

/** Publishes a stored data as layer `layer`; returns the configuration and offering ids. */
export async function publishLayer(
  s: TestServer,
  layer: string,
  storedData: string,
  typeInfos: { title?: string; keywords?: string[] } = {},
): Promise<{ configuration: string; offering: string }> {
  const c = await post(s, '/configurations', {
    type: 'WMTS-TMS',
    name: layer,
    layer_name: layer,
    type_infos: {
      title: typeInfos.title ?? `Layer ${layer}`,
      ...(typeInfos.keywords ? { keywords: typeInfos.keywords } : {}),
      used_data: [{ stored_data: storedData }],
    },
  });
  const o = await post(s, `/configurations/${c._id}/offerings`, { open: true });
  return { configuration: c._id as string, offering: o._id as string };
}
