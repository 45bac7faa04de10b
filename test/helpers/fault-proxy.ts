/**
 * An HTTP proxy on 127.0.0.1 in front of a real server that can be told to fail the next requests the
 * way an S3 service does under load or in a network cut: a 503 SlowDown answer, or a connection reset
 * before any answer. Requests that are not failed reach the real server unchanged (the Host header is
 * kept, so AWS signatures made for the proxy's address stay valid).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = '503' | 'reset';

export interface FaultProxy {
  endpoint: string;
  /** Fails the next requests, one fault each, in order. */
  failNext(...faults: Fault[]): void;
  /** Requests received so far (failed ones included). */
  requests: number;
  /** `METHOD /path?query` of every request received. */
  log: string[];
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const to = new URL(target);
  const faults: Fault[] = [];
  const state = { requests: 0 };
  const log: string[] = [];
  const server = http.createServer((req, res) => {
    state.requests++;
    log.push(`${req.method} ${req.url}`);
    const fault = faults.shift();
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === '503') {
      req.resume();
      res.writeHead(503, { 'Content-Type': 'application/xml' });
      res.end(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
      );
      return;
    }
    const upstream = http.request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => req.socket.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    failNext: (...f) => faults.push(...f),
    log,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
