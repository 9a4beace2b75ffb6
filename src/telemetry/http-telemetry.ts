import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Telemetry } from './telemetry.ts';
import type { StartedSpan } from './tracing.ts';

const requestSpans = new WeakMap<FastifyRequest, StartedSpan>();
const requestErrors = new WeakMap<FastifyRequest, unknown>();

/**
 * A server span per request (the incoming `traceparent` honoured as its parent), active while the
 * request is handled so that what it enqueues joins the trace; and a report for each unexpected
 * 500. Both name the route template, never the URL, and carry no header or body.
 */
export function registerHttpTelemetry(app: FastifyInstance, telemetry: Telemetry): void {
  const { tracing, errors } = telemetry;
  if (tracing) {
    app.addHook('onRequest', (request, _reply, done) => {
      const route = request.routeOptions.url;
      const traceparent = request.headers.traceparent;
      const span = tracing.startSpan({
        name: route ? `${request.method} ${route}` : request.method,
        kind: 'server',
        ...(typeof traceparent === 'string' ? { parent: { traceparent } } : {}),
        attributes: { 'http.request.method': request.method, ...(route ? { 'http.route': route } : {}) },
      });
      requestSpans.set(request, span);
      // The rest of the request runs from inside `done`: the span stays active through it.
      span.run(done);
    });
  }
  if (errors) {
    app.addHook('onError', (request, _reply, error, done) => {
      requestErrors.set(request, error);
      done();
    });
  }
  app.addHook('onResponse', (request, reply, done) => {
    const span = requestSpans.get(request);
    if (span) {
      span.setAttributes({ 'http.response.status_code': reply.statusCode });
      if (reply.statusCode >= 500) span.fail(String(reply.statusCode));
      span.end();
    }
    const error = requestErrors.get(request);
    // 503s (a dependency down) are answered on purpose; a 500 is the unexpected kind.
    if (errors && error !== undefined && reply.statusCode === 500) {
      errors.report(error, {
        kind: 'http',
        method: request.method,
        route: request.routeOptions.url ?? null,
        status: reply.statusCode,
        requestId: request.id,
      });
    }
    done();
  });
}
