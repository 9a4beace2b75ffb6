import { observeAttempts } from './attempt-observer.ts';
import type { JobEventSink, JobLogger } from './job-queue.ts';

/**
 * One structured line when an attempt starts and one when it ends (job id, type, queue, attempt,
 * duration, outcome, error code), and a warning when this process takes back a job whose worker
 * stopped responding. `workerId` names this process's worker once it has started.
 */
export function jobAttemptLog(log: JobLogger, workerId: () => string | undefined, now?: () => number): JobEventSink {
  return observeAttempts((observation) => {
    const { job } = observation;
    const fields = { job_id: job.id, type: job.type, queue: job.queue, attempt: job.attempt, worker_id: workerId() };
    switch (observation.kind) {
      case 'started':
        log.info(fields, 'job attempt started');
        return;
      case 'ended': {
        const line = {
          ...fields,
          duration_ms: Math.round(observation.durationMs),
          outcome: observation.outcome,
          error_code: observation.errorCode,
        };
        if (observation.outcome === 'failed' || observation.outcome === 'timed_out') log.warn(line, 'job attempt ended');
        else log.info(line, 'job attempt ended');
        return;
      }
      case 'stalled':
        log.warn(
          { ...fields, recovered_by: workerId() ?? 'this process', requeued: observation.requeued },
          observation.requeued
            ? 'recovered a stalled job: its worker stopped responding; it is queued again'
            : 'recovered a stalled job: its worker stopped responding and no attempt is left; it failed',
        );
        return;
    }
  }, now);
}
