import type { EventBus, Unsubscribe } from '../events/event-bus.ts';
import { EVENT_VERSION, ownerChannel, percentOf, type RealtimeEvent } from '../events/realtime-events.ts';
import { isAppError } from '../errors/app-error.ts';
import type { FileService } from '../files/file.service.ts';
import type { JobService } from '../jobs/job.service.ts';
import { storedJobError } from '../jobs/job-error.ts';
import { FINISHED_STATUSES, type JobRow } from '../jobs/jobs.schema.ts';
import { isUuid } from '../db/uuid.ts';

/** A channel a client may subscribe to: one job, one file, or everything of its own. */
export type Channel = { kind: 'user' } | { kind: 'job'; id: string } | { kind: 'file'; id: string };

export function parseChannel(text: string): Channel | undefined {
  if (text === 'user') return { kind: 'user' };
  const match = /^(job|file):(.+)$/.exec(text);
  if (!match?.[2] || !isUuid(match[2])) return undefined;
  return { kind: match[1] as 'job' | 'file', id: match[2].toLowerCase() };
}

export function channelName(channel: Channel): string {
  return channel.kind === 'user' ? 'user' : `${channel.kind}:${channel.id}`;
}

/** Whether an event of the caller's own belongs to a channel: `file:<id>` also carries the file's job events. */
export function eventMatches(channel: Channel, event: RealtimeEvent): boolean {
  switch (channel.kind) {
    case 'user':
      return true;
    case 'job':
      return event.type !== 'file.status' && event.job_id === channel.id;
    case 'file':
      return event.file_id === channel.id;
  }
}

export class SubjectNotFound extends Error {
  constructor() {
    super('No such job or file.');
    this.name = 'SubjectNotFound';
  }
}

/**
 * What realtime clients may watch. Every channel is inside the caller's own account: events
 * travel on the owner's bus channel, and a job or file of someone else is not found, exactly
 * like one that does not exist.
 */
export class RealtimeService {
  constructor(
    private readonly bus: EventBus,
    private readonly jobs: Pick<JobService, 'getJob'>,
    private readonly files: Pick<FileService, 'get'>,
  ) {}

  /** Listens to everything of one user; resolves once events published afterwards arrive. */
  listen(userId: string, listener: (event: RealtimeEvent) => void): Promise<Unsubscribe> {
    return this.bus.subscribe(ownerChannel(userId), listener);
  }

  /**
   * Checks that the caller may watch the channel and answers the subject's current state, so
   * that a client subscribing after a job finished still learns how it ended.
   */
  async snapshot(channel: Channel, userId: string): Promise<RealtimeEvent[]> {
    switch (channel.kind) {
      case 'user':
        return [];
      case 'job':
        return jobSnapshot(await this.job(channel.id, userId));
      case 'file': {
        const file = await this.files.get({ id: userId, role: 'user' }, channel.id).catch(notFoundAsSubject);
        return [{ type: 'file.status', $version: EVENT_VERSION, owner_id: file.ownerId, file_id: file.id, status: file.status }];
      }
    }
  }

  async job(jobId: string, userId: string): Promise<JobRow> {
    if (!isUuid(jobId)) throw new SubjectNotFound();
    return this.jobs.getJob(jobId, userId).catch(notFoundAsSubject);
  }
}

/**
 * A 404 from the owning service (missing, or someone else's) is a subject the caller cannot
 * watch; anything else (the database is down) is not the caller's doing and goes on as a 500.
 */
function notFoundAsSubject(error: unknown): never {
  if (isAppError(error) && error.status === 404) throw new SubjectNotFound();
  throw error;
}

/** A job's current state as events: its progress (while it has any) and its status. */
export function jobSnapshot(row: JobRow): RealtimeEvent[] {
  if (!row.ownerId) return [];
  const base = { $version: EVENT_VERSION, owner_id: row.ownerId, job_id: row.id, file_id: row.fileId } as const;
  const events: RealtimeEvent[] = [];
  const { current, total, message } = row.progress;
  if (!FINISHED_STATUSES.includes(row.status) && (current > 0 || message !== null)) {
    events.push({ type: 'job.progress', ...base, progress: { current, total, percent: percentOf(current, total), message } });
  }
  const stored = storedJobError(row.error);
  const error = stored && ['failed', 'timed_out', 'cancelled'].includes(row.status) ? { error: stored } : {};
  events.push({ type: 'job.status', ...base, status: row.status, ...error });
  return events;
}

export function isFinalJobStatus(event: RealtimeEvent): boolean {
  return event.type === 'job.status' && FINISHED_STATUSES.includes(event.status);
}
