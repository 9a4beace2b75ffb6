import type { HandlerEvent } from '../jobs/job-definition.ts';
import { storedJobError } from '../jobs/job-error.ts';
import type { JobEvent, JobEventSink, JobEventSubject, JobLogger } from '../jobs/job-queue.ts';
import type { EventBus } from './event-bus.ts';
import { EVENT_VERSION, percentOf, type RealtimeEvent } from './realtime-events.ts';

/**
 * Turns an event a handler raised (`context.emit`) into a realtime event, or ignores it. Each
 * feature that raises handler events supplies its own; the composition root chains them.
 */
export type HandlerEventTranslator = (
  job: JobEventSubject & { ownerId: string },
  event: HandlerEvent,
) => RealtimeEvent | undefined;

/**
 * The queue's `onJobEvent` hook: turns what the jobs layer reports into realtime events and
 * publishes them. Jobs without an owner (system jobs) have no audience and are not published.
 */
export function jobEventPublisher(
  bus: EventBus,
  log: JobLogger,
  translators: readonly HandlerEventTranslator[] = [],
): JobEventSink {
  return (event) => {
    const realtime = toRealtimeEvent(event, translators);
    if (realtime) publishQuietly(bus, log, realtime);
  };
}

/** Publishes without waiting; a failure is logged (the row stays the record, clients re-read it). */
export function publishQuietly(bus: EventBus, log: JobLogger, event: RealtimeEvent): void {
  bus.publish(event).catch((error: unknown) => log.warn({ err: error, event: event.type }, 'could not publish a realtime event'));
}

export function toRealtimeEvent(event: JobEvent, translators: readonly HandlerEventTranslator[] = []): RealtimeEvent | undefined {
  const { job } = event;
  if (!job.ownerId) return undefined;
  const base = { $version: EVENT_VERSION, owner_id: job.ownerId } as const;
  switch (event.kind) {
    case 'progress': {
      const { current, total, message } = event.progress;
      return {
        type: 'job.progress',
        ...base,
        job_id: job.id,
        file_id: job.fileId,
        progress: { current, total, percent: percentOf(current, total), message },
      };
    }
    case 'status': {
      const error = storedJobError(event.error);
      return {
        type: 'job.status',
        ...base,
        job_id: job.id,
        file_id: job.fileId,
        status: event.status,
        ...(error && ['failed', 'timed_out', 'cancelled'].includes(event.status) ? { error } : {}),
      };
    }
    case 'stalled':
      // An operator's concern (log, metrics): the job's status events already told its owner.
      return undefined;
    case 'handler': {
      const owned = { ...job, ownerId: job.ownerId };
      for (const translate of translators) {
        const translated = translate(owned, event.event);
        if (translated) return translated;
      }
      return undefined;
    }
  }
}
