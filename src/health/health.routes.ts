import { Type } from 'typebox';
import type { App } from '../http/app-types.ts';
import { checkComponents, type ReadinessCheck } from './readiness.ts';

const HealthResponse = Type.Object({ status: Type.Literal('ok') });

const ComponentState = Type.Object({
  name: Type.String(),
  status: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  target: Type.String(),
  latency_ms: Type.Number(),
  error: Type.Optional(Type.String()),
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
        response: { 200: ReadyResponse, 503: ReadyResponse },
      },
    },
    async (_request, reply) => {
      const components = await checkComponents(options.checks);
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
