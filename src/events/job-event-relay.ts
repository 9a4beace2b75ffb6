import { FILE_STATUSES, type FileStatus } from '../files/file.schema.ts';
import type { FileStatusListener } from '../files/file.service.ts';
import type { JobEvent, JobEventSink, JobLogger } from '../jobs/job-queue.ts';
import type { EventBus } from './event-bus.ts';
import { EVENT_VERSION, percentOf, type RealtimeEvent } from './realtime-events.ts';

/**
 * The queue's `onJobEvent` hook: turns what the jobs layer reports into realtime events and
 * publishes them. Jobs without an owner (system jobs) have no audience and are not published.
 */
export function jobEventPublisher(bus: EventBus, log: JobLogger): JobEventSink {
  return (event) => {
    const realtime = toRealtimeEvent(event);
    if (realtime) publishQuietly(bus, log, realtime);
  };
}

/** The file service's status listener, publishing `file.status`. */
export function fileStatusPublisher(bus: EventBus, log: JobLogger): FileStatusListener {
  return (file) => publishQuietly(bus, log, { type: 'file.status', $version: EVENT_VERSION, owner_id: file.ownerId, file_id: file.id, status: file.status });
}

function publishQuietly(bus: EventBus, log: JobLogger, event: RealtimeEvent): void {
  bus.publish(event).catch((error: unknown) => log.warn({ err: error, event: event.type }, 'could not publish a realtime event'));
}

export function toRealtimeEvent(event: JobEvent): RealtimeEvent | undefined {
  const { job } = event;
  if (!job.ownerId) return undefined;
  const base = { $version: EVENT_VERSION, owner_id: job.ownerId } as const;
  switch (event.kind) {
    case 'progress': {
      const { current, total, message } = event.progress;
      return { type: 'job.progress', ...base, job_id: job.id, file_id: job.fileId, progress: { current, total, percent: percentOf(current, total), message } };
    }
    case 'status':
      return {
        type: 'job.status',
        ...base,
        job_id: job.id,
        file_id: job.fileId,
        status: event.status,
        // Only the kind and the message: details are for the job's API answer, not every socket.
        ...(event.error && ['failed', 'timed_out', 'cancelled'].includes(event.status)
          ? { error: { kind: event.error.kind, message: event.error.message } }
          : {}),
      };
    case 'handler': {
      const { type, file_id: fileId, status } = event.event;
      if (type !== 'file.status' || typeof fileId !== 'string' || !FILE_STATUSES.includes(status as FileStatus)) return undefined;
      return { type: 'file.status', ...base, file_id: fileId, status: status as FileStatus };
    }
  }
}
