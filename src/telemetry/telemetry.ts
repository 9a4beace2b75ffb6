import type { TelemetryConfig } from '../config/config.ts';
import { JobInterruptedError } from '../jobs/job-definition.ts';
import { classifyFailure } from '../jobs/job-error.ts';
import type { JobExecutor } from '../jobs/job-executor.ts';
import type { JobLogger, JobQueue } from '../jobs/job-queue.ts';
import { sentryReporter, type ErrorReporter } from './error-reporter.ts';
import { tracedExecutor, tracedJobQueue } from './job-tracing.ts';
import type { Tracing } from './tracing.ts';

/** What this process exports to an operator's observability stack: each part only when configured. */
export interface Telemetry {
  readonly tracing: Tracing | undefined;
  readonly errors: ErrorReporter | undefined;
  /** Sends what is still buffered (spans, reports); closed after everything that feeds it. */
  close(): Promise<void>;
}

export async function startTelemetry(config: TelemetryConfig, log: JobLogger): Promise<Telemetry> {
  const tracing = await startTracing(config);
  const errors = config.sentryDsn ? sentryReporter({ ...config, dsn: config.sentryDsn }, log) : undefined;
  return {
    tracing,
    errors,
    async close() {
      await Promise.all([
        tracing?.close().catch((error: unknown) => log.warn({ err: error }, 'could not export the last traces')),
        errors?.close(),
      ]);
    },
  };
}

/** The queue as the API and the workers use it: enqueues traced when tracing is on. */
export function observedJobQueue(queue: JobQueue, telemetry: Telemetry | undefined): JobQueue {
  return telemetry?.tracing ? tracedJobQueue(queue, telemetry.tracing) : queue;
}

/** The executor with each attempt traced, and its unexpected failures reported, as configured. */
export function observedExecutor(
  executor: JobExecutor,
  telemetry: Telemetry | undefined,
  queueKind: JobQueue['kind'],
): JobExecutor {
  let observed = executor;
  if (telemetry?.errors) observed = reportingExecutor(observed, telemetry.errors);
  if (telemetry?.tracing) observed = tracedExecutor(observed, telemetry.tracing, queueKind);
  return observed;
}

/**
 * Reports attempts that failed on an internal error. Interruptions (cancel, time limits, shutdown)
 * and bad data (a permanent failure, the owner's to fix) are outcomes, not bugs: not reported.
 */
function reportingExecutor(executor: JobExecutor, errors: ErrorReporter): JobExecutor {
  return {
    ...(executor.ready ? { ready: () => executor.ready?.() ?? Promise.resolve() } : {}),
    async execute(job, payload, context) {
      try {
        return await executor.execute(job, payload, context);
      } catch (error) {
        if (!(error instanceof JobInterruptedError) && !classifyFailure(error).permanent) {
          errors.report(error, {
            kind: 'job',
            queue: job.definition.queue,
            type: job.definition.name,
            jobId: context.jobId,
            attempt: context.attempt,
          });
        }
        throw error;
      }
    },
    close: () => executor.close(),
  };
}

export async function startTracing(config: TelemetryConfig): Promise<Tracing | undefined> {
  if (config.otlpEndpoint === undefined) return undefined;
  const { openTelemetryTracing } = await import('./otel-tracing.ts');
  return openTelemetryTracing({ endpoint: config.otlpEndpoint, serviceName: config.serviceName });
}
