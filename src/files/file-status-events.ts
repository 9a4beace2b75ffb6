import { publishQuietly, type HandlerEventTranslator } from '../events/job-event-relay.ts';
import type { EventBus } from '../events/event-bus.ts';
import { EVENT_VERSION } from '../events/realtime-events.ts';
import type { JobLogger } from '../jobs/job-queue.ts';
import { FILE_STATUSES, type FileStatus } from './file.schema.ts';
import type { FileStatusListener } from './file-ports.ts';

/** The file service's status listener, publishing `file.status` to realtime subscribers. */
export function fileStatusPublisher(bus: EventBus, log: JobLogger): FileStatusListener {
  return (file) =>
    publishQuietly(bus, log, {
      type: 'file.status',
      $version: EVENT_VERSION,
      owner_id: file.ownerId,
      file_id: file.id,
      status: file.status,
    });
}

/** The `file.status` events the processing job raises (`context.emit`), as realtime events. */
export const fileStatusFromJob: HandlerEventTranslator = (job, event) => {
  const { type, file_id: fileId, status } = event;
  if (type !== 'file.status' || typeof fileId !== 'string' || !FILE_STATUSES.includes(status as FileStatus)) return undefined;
  return { type: 'file.status', $version: EVENT_VERSION, owner_id: job.ownerId, file_id: fileId, status: status as FileStatus };
};
