import { Type } from '../vendor/typebox.ts';
import { AUTH_SECURITY } from '../http/caller.ts';
import type { App } from '../http/app-types.ts';
import { JobIdParams } from '../jobs/job-responses.ts';
import {
  AdminJobListQuery,
  AdminJobListResponse,
  AdminJobResponse,
  JobsSummaryResponse,
  toAdminJobResponse,
  toJobsSummaryResponse,
} from './admin-jobs.schema.ts';
import type { AdminJobsService } from './admin-jobs.service.ts';

export interface AdminJobsRoutesOptions {
  service: AdminJobsService;
}

/** The queue dashboard's API: every job of every user, for administrators only (403 otherwise). */
export async function adminJobsRoutes(app: App, { service }: AdminJobsRoutesOptions): Promise<void> {
  app.addHook('preHandler', app.requireAdmin);

  app.get(
    '/admin/jobs',
    {
      schema: {
        tags: ['admin'],
        summary: 'Every job, newest first, filtered by queue, type, status, owner or creation time (admins only).',
        security: AUTH_SECURITY,
        querystring: AdminJobListQuery,
        response: { 200: AdminJobListResponse },
      },
    },
    async (request) => {
      const { queue, type, status, owner, since, limit, offset } = request.query;
      const page = await service.list({
        limit,
        offset,
        ...(queue === undefined ? {} : { queue }),
        ...(type === undefined ? {} : { type }),
        ...(status === undefined ? {} : { status }),
        ...(owner === undefined ? {} : { ownerId: owner }),
        ...(since === undefined ? {} : { since: new Date(since) }),
      });
      return { ...page, items: page.items.map(toAdminJobResponse) };
    },
  );

  app.get(
    '/admin/jobs/summary',
    {
      schema: {
        tags: ['admin'],
        summary: 'Counts per queue and state, the oldest waiting job, recent throughput and busy workers (admins only).',
        security: AUTH_SECURITY,
        response: { 200: JobsSummaryResponse },
      },
    },
    async () => toJobsSummaryResponse(await service.summary(), new Date()),
  );

  app.get(
    '/admin/jobs/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'Any job, with its queue, owner and worker (admins only).',
        security: AUTH_SECURITY,
        params: JobIdParams,
        response: { 200: AdminJobResponse },
      },
    },
    async (request) => toAdminJobResponse(await service.get(request.params.id)),
  );

  app.post(
    '/admin/jobs/:id/retry',
    {
      schema: {
        tags: ['admin'],
        summary: 'Runs a failed or timed-out job again with fresh attempts; 409 `job_not_failed` otherwise (admins only).',
        security: AUTH_SECURITY,
        params: JobIdParams,
        response: { 202: AdminJobResponse },
      },
    },
    async (request, reply) => reply.code(202).send(toAdminJobResponse(await service.retry(request.params.id))),
  );

  app.post(
    '/admin/jobs/:id/discard',
    {
      schema: {
        tags: ['admin'],
        summary: 'Deletes a failed or timed-out job; 409 `job_not_failed` otherwise (admins only).',
        security: AUTH_SECURITY,
        params: JobIdParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await service.discard(request.params.id);
      return reply.code(204).send(null);
    },
  );
}
