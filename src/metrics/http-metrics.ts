import { ERRORS } from '../errors/catalog.ts';
import type { App } from '../http/app-types.ts';
import type { IntakeMetrics } from './metrics.ts';
import { metricsTokenMatches } from './metrics-token.ts';

/** The route label of a request no route matched: raw URLs would make label values unbounded. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Times every request by method, route template and status class, and counts those in flight.
 * Measured until the response closes, so a client that goes away mid-answer is still counted
 * (and leaves the in-flight gauge). WebSocket upgrades are left out: their "duration" is the
 * session's, which the WebSocket gauges describe instead.
 */
export function registerHttpMetrics(app: App, metrics: IntakeMetrics): void {
  app.addHook('onRequest', (request, reply, done) => {
    if (request.headers.upgrade !== undefined) return done();
    const started = process.hrtime.bigint();
    metrics.httpInFlight.inc();
    reply.raw.once('close', () => {
      metrics.httpInFlight.dec();
      metrics.httpDuration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? UNMATCHED_ROUTE,
          status_class: `${Math.floor(reply.statusCode / 100)}xx`,
        },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    });
    done();
  });
}

/** `GET /metrics` in the Prometheus text format; with METRICS_TOKEN set, only for its bearer. */
export async function metricsRoutes(app: App, options: { metrics: IntakeMetrics; token: string | undefined }): Promise<void> {
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (!metricsTokenMatches(options.token, request.headers.authorization)) {
      throw request.headers.authorization === undefined
        ? ERRORS.unauthenticated('The metrics need the METRICS_TOKEN as a bearer token.')
        : ERRORS.invalidToken('This is not the metrics token.');
    }
    const { contentType, body } = await options.metrics.exposition();
    return reply.header('Content-Type', contentType).header('Cache-Control', 'no-store').send(body);
  });
}
