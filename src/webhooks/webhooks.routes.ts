import type { AuditRecorder } from '../audit/audit.service.ts';
import { Type, type Static } from '../vendor/typebox.ts';
import { PageOf, pageQueryFields, Text } from '../http/schema-types.ts';
import { AUTH_SECURITY, requireUser } from '../http/caller.ts';
import type { App } from '../http/app-types.ts';
import type { DeliveryWithAttempts, WebhookService } from './webhook.service.ts';
import { TEST_EVENT_TYPE, WEBHOOK_EVENT_TYPES, type WebhookDeliveryRow, type WebhookEndpointRow } from './webhook.schema.ts';

export interface WebhooksRoutesOptions {
  webhooks: WebhookService;
  audit?: AuditRecorder;
}

const EventType = Type.Union(WEBHOOK_EVENT_TYPES.map((type) => Type.Literal(type)));
const Url = Text({ minLength: 1, maxLength: 2048, description: 'http(s) URL that receives the POSTed events.' });
// Null first: with type coercion on, a string branch first would turn null into "".
const Description = Type.Union([Type.Null(), Text({ maxLength: 500, multiline: true })]);
const Events = Type.Array(EventType, { minItems: 1, maxItems: WEBHOOK_EVENT_TYPES.length, uniqueItems: true });

const EndpointResponse = Type.Object({
  id: Type.String({ format: 'uuid' }),
  url: Type.String(),
  events: Type.Array(Type.String()),
  description: Description,
  active: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
const CreatedEndpointResponse = Type.Object({
  ...EndpointResponse.properties,
  secret: Type.String({ description: 'Signs every delivery (see Intake-Signature). Shown only in this answer: store it now.' }),
});
const AttemptResponse = Type.Object({
  attempt: Type.Integer(),
  status_code: Type.Union([Type.Integer(), Type.Null()]),
  duration_ms: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()]),
  started_at: Type.String({ format: 'date-time' }),
});
const DeliveryResponse = Type.Object({
  id: Type.String({ format: 'uuid' }),
  endpoint_id: Type.String({ format: 'uuid' }),
  event_id: Type.String({ format: 'uuid' }),
  event_type: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
  attempt: Type.Integer({ description: 'Attempts made so far.' }),
  status_code: Type.Union([Type.Integer(), Type.Null()], { description: 'Of the last attempt.' }),
  duration_ms: Type.Union([Type.Integer(), Type.Null()], { description: 'Of the last attempt.' }),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Of the last attempt.' }),
  next_attempt_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  redelivery_of: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  payload: Type.Record(Type.String(), Type.Unknown()),
  attempts: Type.Array(AttemptResponse),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
const QueuedDeliveryResponse = Type.Object({
  delivery_id: Type.String({ format: 'uuid' }),
  event_id: Type.String({ format: 'uuid' }),
  event_type: Type.String(),
  status_url: Type.String(),
});
const IdParams = Type.Object({ id: Text({ maxLength: 64 }) });
const Page = Type.Object(pageQueryFields());

function toEndpoint(row: WebhookEndpointRow): Static<typeof EndpointResponse> {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    description: row.description,
    active: row.active,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function toDelivery({ delivery, attempts, nextAttemptAt }: DeliveryWithAttempts): Static<typeof DeliveryResponse> {
  const last = attempts.at(-1);
  return {
    id: delivery.id,
    endpoint_id: delivery.endpointId,
    event_id: delivery.eventId,
    event_type: delivery.eventType,
    status: delivery.status,
    attempt: delivery.attempts,
    status_code: delivery.lastStatusCode,
    duration_ms: last?.durationMs ?? null,
    error: delivery.lastError,
    next_attempt_at: nextAttemptAt?.toISOString() ?? null,
    redelivery_of: delivery.redeliveryOf,
    payload: delivery.payload,
    attempts: attempts.map((attempt) => ({
      attempt: attempt.attempt,
      status_code: attempt.statusCode,
      duration_ms: attempt.durationMs,
      error: attempt.error,
      started_at: attempt.startedAt.toISOString(),
    })),
    created_at: delivery.createdAt.toISOString(),
    updated_at: delivery.updatedAt.toISOString(),
  };
}

function queued(delivery: WebhookDeliveryRow): Static<typeof QueuedDeliveryResponse> {
  return {
    delivery_id: delivery.id,
    event_id: delivery.eventId,
    event_type: delivery.eventType,
    status_url: `/api/v1/webhooks/${delivery.endpointId}/deliveries`,
  };
}

export async function webhooksRoutes(app: App, options: WebhooksRoutesOptions): Promise<void> {
  const { webhooks, audit } = options;
  const common = { tags: ['webhooks'], security: AUTH_SECURITY };

  app.post(
    '/webhooks',
    {
      preHandler: app.authenticate,
      schema: {
        ...common,
        summary: 'Registers a webhook endpoint; the answer holds its signing secret, shown only once.',
        body: Type.Object({ url: Url, events: Events, description: Type.Optional(Description) }),
        response: { 201: CreatedEndpointResponse },
      },
    },
    async (request, reply) => {
      const { endpoint, secret } = await webhooks.create(requireUser(request).id, request.body);
      return reply
        .code(201)
        .header('location', `/api/v1/webhooks/${endpoint.id}`)
        .send({ ...toEndpoint(endpoint), secret });
    },
  );

  app.get(
    '/webhooks',
    {
      preHandler: app.authenticate,
      schema: {
        ...common,
        summary: 'My webhook endpoints, newest first.',
        querystring: Page,
        response: { 200: PageOf(EndpointResponse) },
      },
    },
    async (request) => {
      const page = await webhooks.list(requireUser(request).id, request.query);
      return { ...page, items: page.items.map(toEndpoint) };
    },
  );

  app.get(
    '/webhooks/:id',
    {
      preHandler: app.authenticate,
      schema: {
        ...common,
        summary: 'One of my webhook endpoints (never its secret).',
        params: IdParams,
        response: { 200: EndpointResponse },
      },
    },
    async (request) => toEndpoint(await webhooks.get(requireUser(request).id, request.params.id)),
  );

  app.patch(
    '/webhooks/:id',
    {
      preHandler: app.authenticate,
      schema: {
        ...common,
        summary: 'Changes the URL, events, description or active flag of an endpoint.',
        params: IdParams,
        body: Type.Object(
          {
            url: Type.Optional(Url),
            events: Type.Optional(Events),
            description: Type.Optional(Description),
            active: Type.Optional(Type.Boolean()),
          },
          { minProperties: 1 },
        ),
        response: { 200: EndpointResponse },
      },
    },
    async (request) => toEndpoint(await webhooks.update(requireUser(request).id, request.params.id, request.body)),
  );

  app.delete(
    '/webhooks/:id',
    {
      preHandler: app.authenticate,
      schema: {
        ...common,
        summary: 'Deletes an endpoint and its delivery log.',
        params: IdParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await webhooks.delete(requireUser(request).id, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/webhooks/:id/rotate-secret',
    {
      preHandler: app.authenticate,
      schema: {
        ...common,
        summary:
          'Replaces the signing secret; the old one keeps signing beside it (a second `v1` in Intake-Signature) for `overlap_seconds`.',
        params: IdParams,
        body: Type.Object({
          overlap_seconds: Type.Optional(
            Type.Integer({ minimum: 0, maximum: 7 * 86_400, default: 86_400, description: '0 ends the old secret at once.' }),
          ),
        }),
        response: {
          200: Type.Object({
            ...CreatedEndpointResponse.properties,
            previous_secret_expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
          }),
        },
      },
    },
    async (request, reply) => {
      const caller = requireUser(request);
      const { endpoint, secret } = await webhooks.rotateSecret(
        caller.id,
        request.params.id,
        request.body.overlap_seconds ?? 86_400,
      );
      await audit?.record({
        action: 'webhook.secret_rotated',
        actorId: caller.id,
        targetUserId: caller.id,
        ip: request.ip,
        details: { webhook_id: endpoint.id },
      });
      reply.header('Cache-Control', 'no-store');
      return {
        ...toEndpoint(endpoint),
        secret,
        previous_secret_expires_at: endpoint.previousSecretExpiresAt?.toISOString() ?? null,
      };
    },
  );

  app.post(
    '/webhooks/:id/test',
    {
      preHandler: app.authenticate,
      schema: {
        ...common,
        summary: `Queues a \`${TEST_EVENT_TYPE}\` event to this endpoint.`,
        params: IdParams,
        response: { 202: QueuedDeliveryResponse },
      },
    },
    async (request, reply) => reply.code(202).send(queued(await webhooks.sendTest(requireUser(request).id, request.params.id))),
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      preHandler: app.authenticate,
      schema: {
        ...common,
        summary:
          'The delivery log of an endpoint, newest first: each delivery with every attempt (status code, duration, error).',
        params: IdParams,
        querystring: Page,
        response: { 200: PageOf(DeliveryResponse) },
      },
    },
    async (request) => {
      const page = await webhooks.listDeliveries(requireUser(request).id, request.params.id, request.query);
      return { ...page, items: page.items.map(toDelivery) };
    },
  );

  app.post(
    '/webhooks/:id/deliveries/:delivery_id/redeliver',
    {
      preHandler: app.authenticate,
      schema: {
        ...common,
        summary: 'Sends the same event (same id and body) again, as a new delivery.',
        params: Type.Object({ id: Type.String({ maxLength: 64 }), delivery_id: Type.String({ maxLength: 64 }) }),
        response: { 202: QueuedDeliveryResponse },
      },
    },
    async (request, reply) =>
      reply
        .code(202)
        .send(queued(await webhooks.redeliver(requireUser(request).id, request.params.id, request.params.delivery_id))),
  );
}
