import { Type, type Static } from '../vendor/typebox.ts';
import { Id, Nullable, PageOf, pageQueryFields } from '../http/schema-types.ts';
import { JOB_ERROR_CODES, storedJobError, type JobErrorCode } from './job-error.ts';
import type { JobRow } from './jobs.schema.ts';

export const JobStatusSchema = Type.Union([
  Type.Literal('queued'),
  Type.Literal('running'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
  Type.Literal('timed_out'),
]);

const Timestamp = Type.String({ format: 'date-time' });

export const JobProgressResponse = Type.Object({
  current: Type.Number(),
  total: Nullable(Type.Number()),
  /** 0–100 when the total is known. */
  percent: Nullable(Type.Number()),
  message: Nullable(Type.String()),
});

export const JobErrorResponse = Type.Object({
  code: Type.Unsafe<JobErrorCode>({
    type: 'string',
    enum: [...JOB_ERROR_CODES],
    description: 'Why the job failed: a stable code from a fixed set, to branch on.',
  }),
  message: Type.String({ maxLength: 1024, description: 'For people: says what happened, never how the service is built.' }),
});

export const JobResponse = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    type: Type.String(),
    status: JobStatusSchema,
    progress: JobProgressResponse,
    attempts: Type.Integer(),
    max_attempts: Type.Integer(),
    result: Type.Unknown({ description: 'What the job produced; null until it succeeds.' }),
    error: Nullable(JobErrorResponse),
    created_at: Timestamp,
    started_at: Nullable(Timestamp),
    finished_at: Nullable(Timestamp),
    file_id: Nullable(Type.String({ format: 'uuid' })),
  },
  { $id: 'JobResponse' },
);
export type JobResponse = Static<typeof JobResponse>;

export const JobListResponse = PageOf(JobResponse);

export const JobListQuery = Type.Object({
  status: Type.Optional(JobStatusSchema),
  file_id: Type.Optional(Id({ description: 'Only the jobs of this file.' })),
  ...pageQueryFields(),
});

export const JobIdParams = Type.Object({ id: Id() });

/** How many jobs of a queue are in each status. */
export const JobStatusCounts = Type.Object({
  queued: Type.Integer(),
  running: Type.Integer(),
  succeeded: Type.Integer(),
  failed: Type.Integer(),
  cancelled: Type.Integer(),
  timed_out: Type.Integer(),
});

export const QueueCountsResponse = Type.Object({
  queues: Type.Array(Type.Object({ name: Type.String(), counts: JobStatusCounts })),
});

export function toJobResponse(row: JobRow): JobResponse {
  const { current, total, message } = row.progress;
  return {
    id: row.id,
    type: row.type,
    status: row.status,
    progress: {
      current,
      total,
      percent: total && total > 0 ? Math.min(100, Math.round((current / total) * 1000) / 10) : null,
      message,
    },
    attempts: row.attempts,
    max_attempts: row.maxAttempts,
    result: row.result ?? null,
    error: storedJobError(row.error),
    created_at: row.createdAt.toISOString(),
    started_at: row.startedAt?.toISOString() ?? null,
    finished_at: row.finishedAt?.toISOString() ?? null,
    file_id: row.fileId,
  };
}
