import { storedJobError, type JobErrorCode } from './job-error.ts';
import type { JobEvent, JobEventSink, JobEventSubject } from './job-queue.ts';

/** How an attempt ended, as an operator reads it. */
export type AttemptOutcome = 'succeeded' | 'failed' | 'timed_out' | 'cancelled' | 'retry' | 'released';

export type AttemptObservation =
  | { kind: 'started'; job: JobEventSubject }
  | { kind: 'ended'; job: JobEventSubject; outcome: AttemptOutcome; durationMs: number; errorCode: string | null }
  /** A job whose worker stopped responding, taken back by this process: queued again, or failed with no attempt left. */
  | { kind: 'stalled'; job: JobEventSubject; requeued: boolean };

/** Attempts whose start this process saw; bounded so attempts finished elsewhere cannot grow it forever. */
const MAX_TRACKED_ATTEMPTS = 10_000;

/**
 * The code of a stored job error, one of JOB_ERROR_CODES (rows written before codes existed are
 * read through `storedJobError`), so metric labels and log fields stay a bounded set.
 */
export function errorCodeOf(error: unknown): JobErrorCode | null {
  return storedJobError(error)?.code ?? null;
}

/**
 * Turns the queue's status events into attempts: one starts when its row turns `running` in this
 * process and ends with the next status this process writes for it. Events come after the write
 * committed, so nothing observed here was rolled back. A `queued` status after a start is a retry,
 * or the attempt handed back at shutdown (which does not count it).
 */
export function observeAttempts(
  observer: (observation: AttemptObservation) => void,
  now: () => number = () => performance.now(),
): JobEventSink {
  const started = new Map<string, { at: number; attempt: number | undefined }>();
  return (event: JobEvent) => {
    // The new attempt may be running here: only the stall is observed, the attempt stays tracked.
    if (event.kind === 'stalled') return observer({ kind: 'stalled', job: event.job, requeued: true });
    if (event.kind !== 'status') return;
    const { job } = event;
    const code = errorCodeOf(event.error);
    if (event.status === 'running') {
      if (started.size >= MAX_TRACKED_ATTEMPTS) {
        const oldest = started.keys().next();
        if (!oldest.done) started.delete(oldest.value);
      }
      started.set(job.id, { at: now(), attempt: job.attempt });
      observer({ kind: 'started', job });
      return;
    }
    if (code === 'stalled' && (event.status === 'queued' || event.status === 'failed')) {
      started.delete(job.id);
      observer({ kind: 'stalled', job, requeued: event.status === 'queued' });
      return;
    }
    const attempt = started.get(job.id);
    if (!attempt) return;
    started.delete(job.id);
    const durationMs = now() - attempt.at;
    if (event.status === 'queued') {
      // A hand-back (shutdown) gives the attempt back, so the count drops; a retry keeps it.
      const retried = job.attempt === undefined || attempt.attempt === undefined || job.attempt >= attempt.attempt;
      observer({ kind: 'ended', job, outcome: retried ? 'retry' : 'released', durationMs, errorCode: retried ? code : null });
      return;
    }
    observer({ kind: 'ended', job, outcome: event.status, durationMs, errorCode: event.status === 'succeeded' ? null : code });
  };
}
