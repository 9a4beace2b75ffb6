import { withTraceCarrier, type TraceCarrier } from '../jobs/job-definition.ts';
import type { JobExecutor } from '../jobs/job-executor.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import { inSpan, type Tracing } from './tracing.ts';

/**
 * The queue with each enqueue in a producer span, whose context the job carries (in its payload,
 * see TRACE_CARRIER_KEY) to the worker that runs it — whichever adapter, whenever it runs.
 */
export function tracedJobQueue(queue: JobQueue, tracing: Tracing): JobQueue {
  return {
    kind: queue.kind,
    enqueue: (definition, payload, options) =>
      inSpan(
        tracing,
        {
          name: `${definition.queue} publish`,
          kind: 'producer',
          attributes: messagingAttributes(queue.kind, definition.queue, definition.name, 'publish'),
        },
        async (span) => {
          const carried = withTraceCarrier(payload, span.carrier()) as typeof payload;
          const enqueued = await queue.enqueue(definition, carried, options);
          span.setAttributes({ 'messaging.message.id': enqueued.id, 'intake.job.created': enqueued.created });
          return enqueued;
        },
      ),
    cancel: (jobId) => queue.cancel(jobId),
    retry: (jobId) => queue.retry(jobId),
    discard: (jobId) => queue.discard(jobId),
    startWorkers: (options) => queue.startWorkers(options),
    sweep: () => queue.sweep(),
    readiness: () => queue.readiness(),
    close: () => queue.close(),
  };
}

/**
 * Runs each attempt in a consumer span, child of the span that enqueued the job (the context the
 * job carried, handed over as `context.traceparent`); the handler then sees the attempt's own.
 */
export function tracedExecutor(executor: JobExecutor, tracing: Tracing, queueKind: JobQueue['kind']): JobExecutor {
  return {
    ...(executor.ready ? { ready: () => executor.ready?.() ?? Promise.resolve() } : {}),
    execute(job, payload, context) {
      const parent: TraceCarrier | undefined = context.traceparent ? { traceparent: context.traceparent } : undefined;
      const { queue, name } = job.definition;
      return inSpan(
        tracing,
        {
          name: `${queue} process`,
          kind: 'consumer',
          ...(parent ? { parent } : {}),
          attributes: {
            ...messagingAttributes(queueKind, queue, name, 'process'),
            'messaging.message.id': context.jobId,
            'intake.job.attempt': context.attempt,
          },
        },
        (span) => {
          const { traceparent } = span.carrier();
          return executor.execute(job, payload, traceparent ? { ...context, traceparent } : context);
        },
      );
    },
    close: () => executor.close(),
  };
}

function messagingAttributes(kind: JobQueue['kind'], queue: string, type: string, operation: 'publish' | 'process') {
  return {
    'messaging.system': kind === 'bullmq' ? 'bullmq' : 'intake',
    'messaging.destination.name': queue,
    'messaging.operation.type': operation,
    'intake.job.type': type,
  };
}
