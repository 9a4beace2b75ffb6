import { observeAttempts } from '../jobs/attempt-observer.ts';
import type { JobEventSink } from '../jobs/job-queue.ts';
import type { IntakeMetrics } from './metrics.ts';

const UNKNOWN = 'unknown';

/**
 * The queue's job-event hook, counted per attempt this process runs (started, succeeded, failed,
 * retried, cancelled, with their durations) and per stalled job it takes back. `webhookJobType`
 * names the job whose outcomes are webhook deliveries.
 */
export function jobMetricsSink(
  metrics: IntakeMetrics,
  options: { webhookJobType?: string; now?: () => number } = {},
): JobEventSink {
  return observeAttempts((observation) => {
    const labels = { queue: observation.job.queue ?? UNKNOWN, type: observation.job.type };
    switch (observation.kind) {
      case 'started':
        metrics.jobsStarted.inc(labels);
        return;
      case 'stalled':
        metrics.jobsStalled.inc(labels);
        if (!observation.requeued) metrics.jobsFailed.inc({ ...labels, error_code: 'stalled' });
        return;
      case 'ended': {
        const { outcome } = observation;
        metrics.jobDuration.observe({ ...labels, outcome }, observation.durationMs / 1000);
        if (outcome === 'succeeded') metrics.jobsSucceeded.inc(labels);
        else if (outcome === 'failed' || outcome === 'timed_out')
          metrics.jobsFailed.inc({ ...labels, error_code: observation.errorCode ?? outcome });
        else if (outcome === 'retry') metrics.jobsRetried.inc(labels);
        else if (outcome === 'cancelled') metrics.jobsCancelled.inc(labels);
        if (options.webhookJobType === observation.job.type) {
          const delivery =
            outcome === 'succeeded'
              ? 'delivered'
              : outcome === 'retry'
                ? 'retrying'
                : outcome === 'failed' || outcome === 'timed_out'
                  ? 'failed'
                  : undefined;
          if (delivery) metrics.webhookDeliveries.inc({ outcome: delivery });
        }
        return;
      }
    }
  }, options.now);
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
