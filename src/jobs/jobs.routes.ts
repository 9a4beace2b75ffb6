import type { FastifyRequest } from 'fastify';
import { ERRORS } from '../errors/catalog.ts';
import type { App } from '../http/app-types.ts';
import { SIGNED_IN_SECURITY } from '../http/openapi.ts';
import type { JobService } from './job.service.ts';
import { JobIdParams, JobListQuery, JobListResponse, JobResponse, QueueCountsResponse, toJobResponse } from './job-responses.ts';

export interface RequestUser {
  id: string;
  role: string;
}

export interface JobsRoutesOptions {
  service: JobService;
  /**
   * Who is calling; null when nobody is signed in. Authentication lives in its own domain and
   * is passed in, so these routes only authorize (owner-only, admin for queue counts).
   */
  resolveUser(request: FastifyRequest): RequestUser | null | Promise<RequestUser | null>;
}

export async function jobsRoutes(app: App, options: JobsRoutesOptions): Promise<void> {
  const { service } = options;

  async function currentUser(request: FastifyRequest): Promise<RequestUser> {
    const user = await options.resolveUser(request);
    if (!user) throw ERRORS.unauthenticated();
    return user;
  }

  app.get(
    '/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        security: SIGNED_IN_SECURITY,
        summary: 'A job of mine: status, progress, attempts, result or error.',
        params: JobIdParams,
        response: { 200: JobResponse },
      },
    },
    async (request) => {
      const user = await currentUser(request);
      return toJobResponse(await service.getJob(request.params.id, user.id));
    },
  );

  app.get(
    '/jobs',
    {
      schema: {
        tags: ['jobs'],
        security: SIGNED_IN_SECURITY,
        summary: 'My jobs, newest first, optionally filtered by status or file.',
        querystring: JobListQuery,
        response: { 200: JobListResponse },
      },
    },
    async (request) => {
      const user = await currentUser(request);
      const page = await service.listJobs(user.id, request.query);
      return { ...page, items: page.items.map(toJobResponse) };
    },
  );

  app.post(
    '/jobs/:id/cancel',
    {
      schema: {
        tags: ['jobs'],
        security: SIGNED_IN_SECURITY,
        summary: 'Cancel a job: 200 when it had not started, 202 while a running task stops; 409 when it has finished.',
        params: JobIdParams,
        response: { 200: JobResponse, 202: JobResponse },
      },
    },
    async (request, reply) => {
      const user = await currentUser(request);
      const { job, outcome } = await service.cancelJob(request.params.id, user.id);
      return reply.code(outcome === 'cancelled' ? 200 : 202).send(toJobResponse(job));
    },
  );

  app.get(
    '/admin/queues',
    {
      schema: {
        tags: ['admin'],
        security: SIGNED_IN_SECURITY,
        summary: 'Job counts per queue and state (admins only).',
        response: { 200: QueueCountsResponse },
      },
    },
    async (request) => {
      const user = await currentUser(request);
      if (user.role !== 'admin') throw ERRORS.forbidden('Only administrators can see the queues.');
      return { queues: await service.queueCounts() };
    },
  );
}
