import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { TraceCarrier } from '../jobs/job-definition.ts';
import { VERSION } from '../version.ts';
import type { SpanKindName, SpanOptions, StartedSpan, Tracing } from './tracing.ts';

const KINDS: Record<SpanKindName, SpanKind> = {
  server: SpanKind.SERVER,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
  internal: SpanKind.INTERNAL,
};

const propagator = new W3CTraceContextPropagator();
const carrierSetter = { set: (carrier: TraceCarrier, key: string, value: string) => void (carrier[key] = value) };
const carrierGetter = {
  keys: (carrier: TraceCarrier) => Object.keys(carrier),
  get: (carrier: TraceCarrier, key: string) => carrier[key],
};

let contextManagerSet = false;

/**
 * The active span follows async work through AsyncLocalStorage. The context manager is the one
 * process-wide piece (the API's `context` has a single global one); the provider stays this
 * instance's own, never registered globally, so two services in one process (a test) keep their
 * spans and exporters apart.
 */
function ensureContextManager(): void {
  if (contextManagerSet) return;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  contextManagerSet = true;
}

export function openTelemetryTracing(options: { endpoint: string; serviceName: string }): Tracing {
  ensureContextManager();
  const exporter = new OTLPTraceExporter({ url: `${options.endpoint}/v1/traces` });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName, 'service.version': VERSION }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('intake', VERSION);

  const wrap = (span: Span, spanContext: Context): StartedSpan => ({
    run: (work) => context.with(spanContext, work),
    setAttributes: (attributes) => void span.setAttributes(attributes),
    fail(errorType) {
      span.setAttribute('error.type', errorType);
      span.setStatus({ code: SpanStatusCode.ERROR });
    },
    carrier() {
      const carrier: TraceCarrier = {};
      propagator.inject(spanContext, carrier, carrierSetter);
      return carrier;
    },
    end: () => span.end(),
  });

  return {
    startSpan(spanOptions: SpanOptions): StartedSpan {
      const parent = spanOptions.parent ? propagator.extract(ROOT_CONTEXT, spanOptions.parent, carrierGetter) : context.active();
      const span = tracer.startSpan(
        spanOptions.name,
        { kind: KINDS[spanOptions.kind], ...(spanOptions.attributes ? { attributes: spanOptions.attributes } : {}) },
        parent,
      );
      return wrap(span, trace.setSpan(parent, span));
    },
    close: () => provider.shutdown(),
  };
}
