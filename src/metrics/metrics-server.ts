import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { AppError } from '../errors/app-error.ts';
import { ERRORS } from '../errors/catalog.ts';
import { PROBLEM_CONTENT_TYPE, problemTypeFor } from '../http/error-handler.ts';
import type { IntakeMetrics } from './metrics.ts';
import { metricsTokenMatches } from './metrics-token.ts';

export interface MetricsServer {
  /** `http://host:port`, once listening. */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * The scrape endpoint of a process without an HTTP API (`intake worker`): `GET /metrics`, and
 * `GET /health` for container health checks. Plain node:http: a worker needs no router.
 */
export async function startMetricsServer(options: {
  metrics: IntakeMetrics;
  host: string;
  port: number;
  token: string | undefined;
}): Promise<MetricsServer> {
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://metrics');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      problem(response, url.pathname, ERRORS.methodNotAllowed(request.method ?? '', ['GET', 'HEAD']));
      return;
    }
    if (url.pathname === '/health') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (url.pathname !== '/metrics') {
      problem(response, url.pathname, ERRORS.routeNotFound(request.method, url.pathname));
      return;
    }
    if (!metricsTokenMatches(options.token, request.headers.authorization)) {
      problem(
        response,
        url.pathname,
        request.headers.authorization === undefined
          ? ERRORS.unauthenticated('The metrics need the METRICS_TOKEN as a bearer token.')
          : ERRORS.invalidToken('This is not the metrics token.'),
      );
      return;
    }
    options.metrics.exposition().then(
      ({ contentType, body }) => response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(body),
      (error: unknown) => problem(response, url.pathname, ERRORS.internal(error)),
    );
  });
  // Scrapers keep connections alive; shutting down must not wait for them.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    address: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The same RFC 9457 body the API sends, from the same catalog. */
function problem(response: http.ServerResponse, path: string, error: AppError): void {
  const body = {
    type: problemTypeFor(error.code),
    title: error.title,
    status: error.status,
    ...(error.detail === undefined ? {} : { detail: error.detail }),
    instance: path,
    code: error.code,
    request_id: randomUUID(),
  };
  response.writeHead(error.status, { ...error.headers, 'content-type': PROBLEM_CONTENT_TYPE }).end(JSON.stringify(body));
}
