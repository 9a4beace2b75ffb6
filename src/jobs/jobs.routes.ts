import { ERRORS } from '../errors/catalog.ts';
import type { App } from '../http/app-types.ts';
import { AUTH_SECURITY, requireUser } from '../http/caller.ts';
import type { JobService } from './job.service.ts';
import { JobIdParams, JobListQuery, JobListResponse, JobResponse, QueueCountsResponse, toJobResponse } from './job-responses.ts';

export interface JobsRoutesOptions {
  service: JobService;
}

/**
 * The owner's view of their jobs. Every route authenticates (`app.authenticate`, decorated by
 * the composition root); these handlers only authorize: owner-only, admins for queue counts.
 */
export async function jobsRoutes(app: App, options: JobsRoutesOptions): Promise<void> {
  const { service } = options;
  app.addHook('preHandler', app.authenticate);

  app.get(
    '/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        security: AUTH_SECURITY,
        summary: 'A job of mine: status, progress, attempts, result or error.',
        params: JobIdParams,
        response: { 200: JobResponse },
      },
    },
    async (request) => {
      const user = requireUser(request);
      return toJobResponse(await service.getJob(request.params.id, user.id));
    },
  );

  app.get(
    '/jobs',
    {
      schema: {
        tags: ['jobs'],
        security: AUTH_SECURITY,
        summary: 'My jobs, newest first, optionally filtered by status or file.',
        querystring: JobListQuery,
        response: { 200: JobListResponse },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const page = await service.listJobs(user.id, request.query);
      return { ...page, items: page.items.map(toJobResponse) };
    },
  );

  app.post(
    '/jobs/:id/cancel',
    {
      schema: {
        tags: ['jobs'],
        security: AUTH_SECURITY,
        summary: 'Cancel a job: 200 when it had not started, 202 while a running task stops; 409 when it has finished.',
        params: JobIdParams,
        response: { 200: JobResponse, 202: JobResponse },
      },
    },
    async (request, reply) => {
      const user = requireUser(request);
      const { job, outcome } = await service.cancelJob(request.params.id, user.id);
      return reply.code(outcome === 'cancelled' ? 200 : 202).send(toJobResponse(job));
    },
  );

  app.get(
    '/admin/queues',
    {
      schema: {
        tags: ['admin'],
        security: AUTH_SECURITY,
        summary: 'Job counts per queue and state (admins only).',
        response: { 200: QueueCountsResponse },
      },
    },
    async (request) => {
      const user = requireUser(request);
      if (user.role !== 'admin') throw ERRORS.forbidden('Only administrators can see the queues.');
      return { queues: await service.queueCounts() };
    },
  );
}
