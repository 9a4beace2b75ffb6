import { and, count, desc, eq, inArray, lt } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { selectPage, type Page } from '../db/page.ts';
import { ERRORS } from '../errors/catalog.ts';
import { isUuid } from '../db/uuid.ts';
import { OutboundRequestError, type OutboundGuard } from '../net/safe-http.ts';
import { newEvent, type WebhookEvent, type WebhookPublisher } from './webhook-events.ts';
import { generateEndpointSecret, type SecretBox } from './webhook-signature.ts';
import {
  TEST_EVENT_TYPE,
  webhookDeliveries,
  webhookDeliveryAttempts,
  webhookEndpoints,
  type WebhookDeliveryAttemptRow,
  type WebhookDeliveryRow,
  type WebhookEndpointRow,
  type WebhookEventType,
} from './webhook.schema.ts';

/**
 * Endpoints one owner may have. Every event fans out to each of them, so the limit also bounds
 * how much outbound traffic one account can point at a third party.
 */
export const MAX_ENDPOINTS_PER_OWNER = 25;

export interface CreateEndpointInput {
  url: string;
  events: WebhookEventType[];
  description?: string | null;
}

export interface UpdateEndpointInput {
  url?: string;
  events?: WebhookEventType[];
  description?: string | null;
  active?: boolean;
}

export interface DeliveryWithAttempts {
  delivery: WebhookDeliveryRow;
  attempts: WebhookDeliveryAttemptRow[];
  /** When the next attempt is due, while one is queued. */
  nextAttemptAt: Date | null;
}

/** Webhook endpoints of one owner, their delivery log and manual (re)deliveries. Owner-only throughout. */
export class WebhookService {
  constructor(
    private readonly db: Db,
    private readonly guard: OutboundGuard,
    private readonly secrets: () => Promise<SecretBox>,
    private readonly publisher: WebhookPublisher,
    /** When queued delivery jobs run next: asked of the jobs service, never read from its table. */
    private readonly nextRuns: (jobIds: readonly string[]) => Promise<Map<string, Date>>,
  ) {}

  /** Creates an endpoint; the plain secret is returned here and never again. */
  async create(ownerId: string, input: CreateEndpointInput): Promise<{ endpoint: WebhookEndpointRow; secret: string }> {
    const url = await this.checkUrl(input.url);
    const [owned] = await this.db.select({ total: count() }).from(webhookEndpoints).where(eq(webhookEndpoints.ownerId, ownerId));
    if ((owned?.total ?? 0) >= MAX_ENDPOINTS_PER_OWNER) {
      throw ERRORS.conflict(`An account may have at most ${MAX_ENDPOINTS_PER_OWNER} webhook endpoints; delete one first.`);
    }
    const secret = generateEndpointSecret();
    const box = await this.secrets();
    const [endpoint] = await this.db
      .insert(webhookEndpoints)
      .values({
        ownerId,
        url,
        events: [...new Set(input.events)],
        description: input.description ?? null,
        secretCiphertext: box.seal(secret),
      })
      .returning();
    if (!endpoint) throw new Error('endpoint insert returned nothing');
    return { endpoint, secret };
  }

  async list(ownerId: string, page: { limit: number; offset: number }): Promise<Page<WebhookEndpointRow>> {
    const where = eq(webhookEndpoints.ownerId, ownerId);
    return selectPage(this.db, webhookEndpoints, where, [desc(webhookEndpoints.createdAt), desc(webhookEndpoints.id)], page);
  }

  async get(ownerId: string, id: string): Promise<WebhookEndpointRow> {
    if (!isUuid(id)) throw ERRORS.webhookNotFound();
    const [endpoint] = await this.db
      .select()
      .from(webhookEndpoints)
      .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.ownerId, ownerId)));
    if (!endpoint) throw ERRORS.webhookNotFound();
    return endpoint;
  }

  async update(ownerId: string, id: string, input: UpdateEndpointInput): Promise<WebhookEndpointRow> {
    await this.get(ownerId, id);
    const url = input.url === undefined ? undefined : await this.checkUrl(input.url);
    const [endpoint] = await this.db
      .update(webhookEndpoints)
      .set({
        ...(url === undefined ? {} : { url }),
        ...(input.events === undefined ? {} : { events: [...new Set(input.events)] }),
        ...(input.description === undefined ? {} : { description: input.description }),
        ...(input.active === undefined ? {} : { active: input.active }),
        updatedAt: new Date(),
      })
      .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.ownerId, ownerId)))
      .returning();
    if (!endpoint) throw ERRORS.webhookNotFound();
    return endpoint;
  }

  /** Deletes the endpoint and its delivery log; queued attempts find nothing and end. */
  async delete(ownerId: string, id: string): Promise<void> {
    if (!isUuid(id)) throw ERRORS.webhookNotFound();
    const deleted = await this.db
      .delete(webhookEndpoints)
      .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.ownerId, ownerId)))
      .returning({ id: webhookEndpoints.id });
    if (deleted.length === 0) throw ERRORS.webhookNotFound();
  }

  /** Queues a `webhook.test` event to this endpoint, whatever it subscribes to (a disabled endpoint logs it as failed). */
  async sendTest(ownerId: string, id: string): Promise<WebhookDeliveryRow> {
    const endpoint = await this.get(ownerId, id);
    const event = newEvent(TEST_EVENT_TYPE, { endpoint_id: endpoint.id, message: 'This is a test delivery from Intake.' });
    return this.db.transaction((tx) => this.publisher.deliver(tx, endpoint.id, event));
  }

  async listDeliveries(
    ownerId: string,
    endpointId: string,
    page: { limit: number; offset: number },
  ): Promise<Page<DeliveryWithAttempts>> {
    await this.get(ownerId, endpointId);
    const where = eq(webhookDeliveries.endpointId, endpointId);
    const [rows, totals] = await Promise.all([
      this.db
        .select({ delivery: webhookDeliveries })
        .from(webhookDeliveries)
        .where(where)
        .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
        .limit(page.limit)
        .offset(page.offset),
      this.db.select({ total: count() }).from(webhookDeliveries).where(where),
    ]);
    const ids = rows.map((row) => row.delivery.id);
    const pendingJobs = rows.flatMap((row) =>
      row.delivery.status === 'pending' && row.delivery.jobId ? [row.delivery.jobId] : [],
    );
    const runs = await this.nextRuns(pendingJobs);
    const attempts =
      ids.length === 0
        ? []
        : await this.db
            .select()
            .from(webhookDeliveryAttempts)
            .where(inArray(webhookDeliveryAttempts.deliveryId, ids))
            .orderBy(webhookDeliveryAttempts.attempt);
    const items = rows.map((row) => ({
      delivery: row.delivery,
      attempts: attempts.filter((attempt) => attempt.deliveryId === row.delivery.id),
      nextAttemptAt: row.delivery.status === 'pending' && row.delivery.jobId ? (runs.get(row.delivery.jobId) ?? null) : null,
    }));
    return { items, total: totals[0]?.total ?? 0, ...page };
  }

  /** Sends the same event (same id and body) again as a new delivery with its own attempts. */
  async redeliver(ownerId: string, endpointId: string, deliveryId: string): Promise<WebhookDeliveryRow> {
    await this.get(ownerId, endpointId);
    if (!isUuid(deliveryId)) throw ERRORS.webhookDeliveryNotFound();
    const [original] = await this.db
      .select()
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.endpointId, endpointId)));
    if (!original) throw ERRORS.webhookDeliveryNotFound();
    const event = original.payload as unknown as WebhookEvent;
    return this.db.transaction((tx) => this.publisher.deliver(tx, endpointId, event, original.id));
  }

  /** Deletes finished deliveries (and their attempts) created before `before`; returns how many. */
  async sweepLog(before: Date): Promise<number> {
    const removed = await this.db
      .delete(webhookDeliveries)
      .where(and(inArray(webhookDeliveries.status, ['succeeded', 'failed']), lt(webhookDeliveries.createdAt, before)))
      .returning({ id: webhookDeliveries.id });
    return removed.length;
  }

  /** The policy's verdict on a URL, as a 422 the owner can act on. */
  private async checkUrl(raw: string): Promise<string> {
    try {
      return (await this.guard.check(raw)).toString();
    } catch (error) {
      if (error instanceof OutboundRequestError) throw ERRORS.webhookUrlRefused(error.message);
      throw error;
    }
  }
}
