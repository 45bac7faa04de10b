import type { ApiResponse } from './request.js';

/**
 * GET /favicon.ico: browsers ask for it on every first visit (a 404 each time otherwise). Our own
 * icon — four tiles, as "dallage" means tiling — as SVG, which browsers accept at this path by its
 * media type.
 */
const ICON = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">' +
    '<rect width="32" height="32" rx="4" fill="#1d3557"/>' +
    '<rect x="4" y="4" width="11" height="11" fill="#a8dadc"/><rect x="17" y="4" width="11" height="11" fill="#457b9d"/>' +
    '<rect x="4" y="17" width="11" height="11" fill="#457b9d"/><rect x="17" y="17" width="11" height="11" fill="#e63946"/>' +
    '</svg>',
  'utf8',
);

export async function favicon(): Promise<ApiResponse> {
  return { status: 200, headers: { 'Content-Type': 'image/svg+xml', 'Cache-Control': 'public, max-age=604800' }, body: ICON };
}
