import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '../vendor/typebox.ts';
import type { App } from '../http/app-types.ts';
import { checkComponents, type ReadinessCheck } from './readiness.ts';

const HealthResponse = Type.Object({ status: Type.Literal('ok') });

const ComponentState = Type.Object({
  name: Type.String(),
  status: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  target: Type.Optional(Type.String({ description: 'Where the component lives; shown to administrators only.' })),
  latency_ms: Type.Number(),
  error: Type.Optional(Type.String({ description: 'Why the check failed; shown to administrators only.' })),
});

const ReadyResponse = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
  components: Type.Array(ComponentState),
});

const RETRY_AFTER_SECONDS = 5;

export async function healthRoutes(app: App, options: { checks: readonly ReadinessCheck[] }): Promise<void> {
  app.get(
    '/health',
    {
      schema: {
        tags: ['service'],
        summary: 'Liveness: the process is up and answering. Touches no dependency.',
        response: { 200: HealthResponse },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      schema: {
        tags: ['service'],
        summary: 'Readiness: every configured component answers. 503 with Retry-After when one does not.',
        description:
          "Anyone sees each component's name and state; administrators (signed in) also see where it lives and why a check failed.",
        response: { 200: ReadyResponse, 503: ReadyResponse },
      },
    },
    async (request, reply) => {
      const checked = await checkComponents(options.checks);
      // Targets and driver messages name hosts, ports and paths: operators need them, visitors do not.
      const components = (await viewerIsAdmin(app, request, reply))
        ? checked
        : checked.map(({ name, status, latency_ms }) => ({ name, status, latency_ms }));
      const ready = components.every((component) => component.status === 'up');
      reply.header('Cache-Control', 'no-store');
      if (!ready) {
        reply.header('Retry-After', String(RETRY_AFTER_SECONDS));
        return reply.code(503).send({ status: 'unavailable' as const, components });
      }
      return { status: 'ready' as const, components };
    },
  );
}

/** Whether the caller, if they sent credentials at all, is a signed-in administrator. */
async function viewerIsAdmin(app: App, request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
  if (request.headers.authorization === undefined && request.headers.cookie === undefined) return false;
  try {
    await app.authenticate(request, reply);
  } catch {
    // A bad or expired credential sees what anyone sees; readiness never answers 401.
    return false;
  }
  return request.user?.role === 'admin';
}
