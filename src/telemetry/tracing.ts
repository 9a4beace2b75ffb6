import type { TraceCarrier } from '../jobs/job-definition.ts';

export type SpanKindName = 'server' | 'producer' | 'consumer' | 'internal';
export type SpanAttributes = Record<string, string | number | boolean>;

export interface SpanOptions {
  name: string;
  kind: SpanKindName;
  /** W3C headers of the parent (an incoming request's, a job's); absent: the active span is the parent. */
  parent?: TraceCarrier;
  attributes?: SpanAttributes;
}

/** A span this process started; nothing here exposes OpenTelemetry's own types. */
export interface StartedSpan {
  /** Runs `work` with this span as the active one, so spans started inside are its children. */
  run<T>(work: () => T): T;
  setAttributes(attributes: SpanAttributes): void;
  /** Marks the span failed; `errorType` is a bounded name (an error code or class), never a message. */
  fail(errorType: string): void;
  /** The W3C headers naming this span, to carry it to another process (a job, a thread). */
  carrier(): TraceCarrier;
  end(): void;
}

/**
 * OpenTelemetry tracing, when OTEL_EXPORTER_OTLP_ENDPOINT is set. The port keeps the SDK out of
 * every module that uses it: the SDK is loaded by `startTracing` (telemetry.ts) only, so a process with tracing
 * off (and `intake --version`) never reads it.
 */
export interface Tracing {
  startSpan(options: SpanOptions): StartedSpan;
  /** Exports what is still buffered; called when the process closes. */
  close(): Promise<void>;
}

/** Runs `work` inside a new span that ends when it settles (failed when it throws). */
export async function inSpan<T>(tracing: Tracing, options: SpanOptions, work: (span: StartedSpan) => Promise<T>): Promise<T> {
  const span = tracing.startSpan(options);
  try {
    return await span.run(() => work(span));
  } catch (error) {
    span.fail(error instanceof Error ? error.name : 'Error');
    throw error;
  } finally {
    span.end();
  }
}
