import type { JobError } from '../jobs/job-error.ts';
import type { JobStatus } from '../jobs/jobs.schema.ts';
import { parseJsonObject } from '../net/json-object.ts';

/**
 * The version of the event shapes below. Consumers (API processes relaying to sockets) drop
 * events of a version they do not know, so a rolling deploy never sends half-understood frames.
 */
export const EVENT_VERSION = 1;

export interface ProgressView {
  current: number;
  total: number | null;
  /** 0–100 when the total is known. */
  percent: number | null;
  message: string | null;
}

interface EventBase {
  $version: typeof EVENT_VERSION;
  /** Whose job or file it is: routes `user` subscriptions and keeps events inside one account. */
  owner_id: string;
}

export interface JobProgressEvent extends EventBase {
  type: 'job.progress';
  job_id: string;
  file_id: string | null;
  progress: ProgressView;
}

export interface JobStatusEvent extends EventBase {
  type: 'job.status';
  job_id: string;
  file_id: string | null;
  status: JobStatus;
  /** The job's stored error: a code and a bounded message, nothing more. */
  error?: JobError;
}

export interface FileStatusEvent extends EventBase {
  type: 'file.status';
  file_id: string;
  /** The file's status as files/ names it (FILE_STATUSES); this layer only carries it. */
  status: string;
}

export type RealtimeEvent = JobProgressEvent | JobStatusEvent | FileStatusEvent;

/** What clients receive: the event without its routing and version fields. */
export type ClientEvent = DistributiveOmit<RealtimeEvent, '$version' | 'owner_id'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export function toClientEvent(event: RealtimeEvent): ClientEvent {
  const { $version: _version, owner_id: _owner, ...rest } = event;
  return rest;
}

/** Events travel on one bus channel per owner: an API process listens only for the users it holds sockets for. */
export function ownerChannel(ownerId: string): string {
  return `user:${ownerId}`;
}

export function percentOf(current: number, total: number | null): number | null {
  return total && total > 0 ? Math.min(100, Math.round((current / total) * 1000) / 10) : null;
}

/** Checks an event that came over the wire (another process, maybe another version). */
export function parseRealtimeEvent(text: string): RealtimeEvent | undefined {
  const value = parseJsonObject(text);
  if (value === undefined) return undefined;
  const event = value as Partial<RealtimeEvent>;
  if (event.$version !== EVENT_VERSION || typeof event.owner_id !== 'string') return undefined;
  if (event.type !== 'job.progress' && event.type !== 'job.status' && event.type !== 'file.status') return undefined;
  return event as RealtimeEvent;
}
