import type { JobEvent, JobEventSink } from '../jobs/job-queue.ts';
import type { IntakeMetrics } from './metrics.ts';

/** Attempts whose start this process saw; bounded so attempts finished elsewhere cannot grow it forever. */
const MAX_TRACKED_ATTEMPTS = 10_000;
const UNKNOWN = 'unknown';

/**
 * The queue's job-event hook, counted: an attempt starts when its row turns `running` here and
 * ends with the status this process writes next. Events are emitted once the write committed,
 * so a count never includes a rolled-back outcome. `webhookJobType` names the job whose outcomes
 * are webhook deliveries.
 */
export function jobMetricsSink(metrics: IntakeMetrics, options: { webhookJobType?: string; now?: () => number } = {}): JobEventSink {
  const now = options.now ?? (() => performance.now());
  const started = new Map<string, number>();

  const ended = (event: Extract<JobEvent, { kind: 'status' }>, outcome: string): void => {
    const labels = labelsOf(event);
    const start = started.get(event.job.id);
    if (start !== undefined) {
      started.delete(event.job.id);
      metrics.jobDuration.observe({ ...labels, outcome }, (now() - start) / 1000);
    }
    if (options.webhookJobType === event.job.type) {
      const delivery = outcome === 'succeeded' ? 'delivered' : outcome === 'retried' ? 'retrying' : outcome === 'failed' ? 'failed' : undefined;
      if (delivery) metrics.webhookDeliveries.inc({ outcome: delivery });
    }
  };

  return (event) => {
    if (event.kind !== 'status') return;
    const labels = labelsOf(event);
    switch (event.status) {
      case 'running':
        metrics.jobsStarted.inc(labels);
        if (started.size >= MAX_TRACKED_ATTEMPTS) {
          const oldest = started.keys().next();
          if (!oldest.done) started.delete(oldest.value);
        }
        started.set(event.job.id, now());
        return;
      case 'succeeded':
        metrics.jobsSucceeded.inc(labels);
        ended(event, 'succeeded');
        return;
      case 'failed':
      case 'timed_out': {
        // A code from JOB_ERROR_CODES (a bounded label), or the status when none was stored.
        const kind = event.error?.code ?? event.status;
        if (kind === 'stalled') metrics.jobsStalled.inc(labels);
        metrics.jobsFailed.inc({ ...labels, error_kind: kind });
        ended(event, 'failed');
        return;
      }
      case 'cancelled':
        metrics.jobsCancelled.inc(labels);
        ended(event, 'cancelled');
        return;
      case 'queued':
        // Back in the queue after an attempt: recovered from a dead worker, or a retry.
        if (event.error?.code === 'stalled') {
          metrics.jobsStalled.inc(labels);
          started.delete(event.job.id);
        } else if (started.has(event.job.id) && event.error?.code === 'internal_error') {
          metrics.jobsRetried.inc(labels);
          ended(event, 'retried');
        } else if (started.has(event.job.id)) {
          ended(event, 'released');
        }
        return;
    }
  };
}

function labelsOf(event: JobEvent): { queue: string; type: string } {
  return { queue: event.job.queue ?? UNKNOWN, type: event.job.type };
}

/**
 * Several sinks behind one: each hears every event, and one that throws does not silence the
 * rest; the failures are thrown afterwards, together, for the caller (the job store) to log.
 */
export function allOf(...sinks: (JobEventSink | undefined)[]): JobEventSink {
  const present = sinks.filter((sink): sink is JobEventSink => sink !== undefined);
  return (event) => {
    const failures: unknown[] = [];
    for (const sink of present) {
      try {
        sink(event);
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, 'job event sinks failed');
  };
}
