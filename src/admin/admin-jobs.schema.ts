import { Type, type Static } from '../vendor/typebox.ts';
import { Id, Nullable, PageOf, pageQueryFields, Text } from '../http/schema-types.ts';
import { JobResponse, JobStatusCounts, JobStatusSchema, toJobResponse } from '../jobs/job-responses.ts';
import type { JobRow } from '../jobs/jobs.schema.ts';
import type { JobsSummary } from './admin-jobs.service.ts';

export const AdminJobListQuery = Type.Object({
  queue: Type.Optional(Text({ minLength: 1, maxLength: 100, description: 'Queue name, e.g. `files`.' })),
  type: Type.Optional(Text({ minLength: 1, maxLength: 100, description: 'Job type, e.g. `files.process`.' })),
  status: Type.Optional(JobStatusSchema),
  owner: Type.Optional(Id({ description: 'Only the jobs of this user id.' })),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'Only jobs created at or after this instant.' })),
  ...pageQueryFields(),
});

export const AdminJobResponse = Type.Object(
  {
    ...JobResponse.properties,
    queue: Type.String(),
    owner_id: Nullable(Type.String({ format: 'uuid' })),
    run_at: Type.String({ format: 'date-time', description: 'When the job may next run (a retry waits for its backoff).' }),
    worker: Nullable(Type.String({ description: 'The worker running it now.' })),
  },
  { $id: 'AdminJobResponse' },
);
export type AdminJobResponse = Static<typeof AdminJobResponse>;

export const AdminJobListResponse = PageOf(AdminJobResponse);

export const JobsSummaryResponse = Type.Object(
  {
    queues: Type.Array(
      Type.Object({
        name: Type.String(),
        counts: JobStatusCounts,
        oldest_waiting_seconds: Nullable(
          Type.Integer({ description: 'Age of the longest-waiting due job; null when none waits.' }),
        ),
        finished_recently: Type.Object(
          { succeeded: Type.Integer(), failed: Type.Integer() },
          { description: 'Jobs finished within `throughput_window_seconds` (failed includes timed out).' },
        ),
      }),
    ),
    throughput_window_seconds: Type.Integer(),
    workers: Type.Array(
      Type.Object({
        id: Type.String(),
        running: Type.Integer(),
        last_heartbeat_at: Nullable(Type.String({ format: 'date-time' })),
      }),
      { description: 'Workers running at least one job right now (idle workers are not listed).' },
    ),
    generated_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'JobsSummaryResponse' },
);

export function toAdminJobResponse(row: JobRow): AdminJobResponse {
  return {
    ...toJobResponse(row),
    queue: row.queue,
    owner_id: row.ownerId,
    run_at: row.runAt.toISOString(),
    worker: row.status === 'running' ? row.lockedBy : null,
  };
}

export function toJobsSummaryResponse(summary: JobsSummary, now: Date): Static<typeof JobsSummaryResponse> {
  return {
    queues: summary.queues.map((queue) => ({
      name: queue.name,
      counts: queue.counts,
      oldest_waiting_seconds: queue.oldestWaitingSeconds,
      finished_recently: queue.finishedRecently,
    })),
    throughput_window_seconds: summary.throughputWindowSeconds,
    workers: summary.workers.map((worker) => ({
      id: worker.id,
      running: worker.running,
      last_heartbeat_at: worker.lastHeartbeatAt?.toISOString() ?? null,
    })),
    generated_at: now.toISOString(),
  };
}
