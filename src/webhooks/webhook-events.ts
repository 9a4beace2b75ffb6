import { randomUUID } from 'node:crypto';
import { and, arrayContains, eq } from 'drizzle-orm';
import type { WebhooksConfig } from '../config/config.ts';
import type { Db } from '../db/database.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import { storedJobError } from '../jobs/job-error.ts';
import type { JobRow } from '../jobs/jobs.schema.ts';
import { webhookDeliveryJob } from './webhook-delivery.job.ts';
import { webhookDeliveries, webhookEndpoints, type WebhookDeliveryRow, type WebhookEventType } from './webhook.schema.ts';

/** What every delivery's body is. */
export interface WebhookEvent {
  id: string;
  type: WebhookEventType | 'webhook.test';
  created_at: string;
  data: Record<string, unknown>;
}

export function newEvent(type: WebhookEvent['type'], data: Record<string, unknown>): WebhookEvent {
  return { id: randomUUID(), type, created_at: new Date().toISOString(), data };
}

export function jobEventData(job: JobRow): Record<string, unknown> {
  return {
    id: job.id,
    type: job.type,
    status: job.status,
    file_id: job.fileId,
    attempts: job.attempts,
    result: job.status === 'succeeded' ? (job.result ?? null) : null,
    // The stored code and bounded message only: never what the handler threw.
    error: job.status === 'succeeded' ? null : storedJobError(job.error),
    finished_at: job.finishedAt?.toISOString() ?? null,
  };
}

/**
 * Turns an event into deliveries: one row and one queued job per subscribed, active endpoint of
 * the owner, written in the caller's transaction so an event exists exactly when the fact it
 * reports was committed.
 */
export class WebhookPublisher {
  constructor(
    private readonly queue: Pick<JobQueue, 'enqueue'>,
    private readonly settings: WebhooksConfig,
  ) {}

  async publish(tx: Db, ownerId: string, type: WebhookEventType, data: Record<string, unknown>): Promise<number> {
    const endpoints = await tx
      .select({ id: webhookEndpoints.id })
      .from(webhookEndpoints)
      .where(
        and(
          eq(webhookEndpoints.ownerId, ownerId),
          eq(webhookEndpoints.active, true),
          arrayContains(webhookEndpoints.events, [type]),
        ),
      );
    if (endpoints.length === 0) return 0;
    const event = newEvent(type, data);
    for (const endpoint of endpoints) await this.deliver(tx, endpoint.id, event);
    return endpoints.length;
  }

  /** Queues one delivery of `event` to one endpoint. */
  async deliver(
    tx: Db,
    endpointId: string,
    event: WebhookEvent,
    redeliveryOf: string | null = null,
  ): Promise<WebhookDeliveryRow> {
    const id = randomUUID();
    const job = await this.queue.enqueue(webhookDeliveryJob(this.settings), { delivery_id: id }, { tx });
    const [row] = await tx
      .insert(webhookDeliveries)
      .values({
        id,
        endpointId,
        eventId: event.id,
        eventType: event.type,
        payload: { ...event },
        jobId: job.id,
        redeliveryOf,
      })
      .returning();
    if (!row) throw new Error('delivery insert returned nothing');
    return row;
  }
}
