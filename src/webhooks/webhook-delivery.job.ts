import { eq } from 'drizzle-orm';
import { Type } from '../vendor/typebox.ts';
import type { WebhooksConfig } from '../config/config.ts';
import type { Db } from '../db/database.ts';
import { defineJob, PermanentJobError, type JobContext, type JobDefinition, type RetryPolicy } from '../jobs/job-definition.ts';
import type { JobRegistry } from '../jobs/job-registry.ts';
import { OutboundGuard, OutboundRequestError } from '../net/safe-http.ts';
import { VERSION } from '../version.ts';
import { loadSecretBox, SIGNATURE_HEADER, signatureHeader } from './webhook-signature.ts';
import { webhookDeliveries, webhookDeliveryAttempts, webhookEndpoints, type DeliveryStatus } from './webhook.schema.ts';

const DeliverPayload = Type.Object({ delivery_id: Type.String({ format: 'uuid' }) });
type DeliverPayload = typeof DeliverPayload;

export interface DeliveryResult {
  status_code: number | null;
  skipped?: string;
}

/** Jitter on webhook retries: small, so the schedule an owner reads in the docs holds. */
const RETRY_JITTER = 0.2;

/**
 * Exponential backoff (base, doubled, capped) for as many retries as fit in the window: the
 * last retry happens no later than `retryWindowMs` after the first failure (jitter only shortens).
 */
export function webhookRetryPolicy(
  settings: Pick<WebhooksConfig, 'retryBaseMs' | 'retryMaxDelayMs' | 'retryWindowMs'>,
): RetryPolicy {
  let attempts = 1;
  let total = 0;
  while (attempts < 100) {
    const delay = Math.min(settings.retryMaxDelayMs, settings.retryBaseMs * 2 ** (attempts - 1));
    if (total + delay > settings.retryWindowMs) break;
    total += delay;
    attempts += 1;
  }
  return { maxAttempts: attempts, backoffMs: settings.retryBaseMs, maxBackoffMs: settings.retryMaxDelayMs, jitter: RETRY_JITTER };
}

const definitions = new Map<string, JobDefinition<DeliverPayload, DeliveryResult>>();

/**
 * The delivery job's definition. Its retry policy comes from configuration, so it is built from
 * it (the same on the enqueueing and the running side, both reading the same variables).
 */
export function webhookDeliveryJob(settings: WebhooksConfig): JobDefinition<DeliverPayload, DeliveryResult> {
  const retry = webhookRetryPolicy(settings);
  const key = `${retry.maxAttempts}:${retry.backoffMs}:${retry.maxBackoffMs}:${settings.timeoutMs}`;
  let definition = definitions.get(key);
  if (!definition) {
    definition = defineJob<DeliverPayload, DeliveryResult>({
      name: 'webhooks.deliver',
      queue: 'notifications',
      version: 1,
      payload: DeliverPayload,
      retry,
      softTimeLimitMs: settings.timeoutMs + 5_000,
    });
    definitions.set(key, definition);
  }
  return definition;
}

const guards = new WeakMap<WebhooksConfig, OutboundGuard>();

/** The outbound policy of this configuration (one per config object). */
export function outboundGuardFor(settings: WebhooksConfig): OutboundGuard {
  let guard = guards.get(settings);
  if (!guard) {
    guard = new OutboundGuard({
      allowPrivateNetworks: settings.allowPrivateNetworks,
      allowedCidrs: settings.allowedCidrs,
      connectTimeoutMs: settings.connectTimeoutMs,
      totalTimeoutMs: settings.timeoutMs,
      maxResponseBytes: settings.maxResponseBytes,
    });
    guards.set(settings, guard);
  }
  return guard;
}

export interface WebhookJobDependencies {
  db: Db;
  settings: WebhooksConfig;
}

export function registerWebhookJobs(registry: JobRegistry, deps: WebhookJobDependencies): void {
  const { settings } = deps;
  registry.register(webhookDeliveryJob(settings), (payload, context) => deliver(deps.db, settings, payload.delivery_id, context));
}

/**
 * One attempt: sign the stored payload, POST it under the outbound policy, log the attempt and
 * bring the delivery up to date. Non-2xx answers and network errors are retried by the queue;
 * a URL the policy refuses is not (it would be refused again).
 */
async function deliver(db: Db, settings: WebhooksConfig, deliveryId: string, context: JobContext): Promise<DeliveryResult> {
  const [row] = await db
    .select({ delivery: webhookDeliveries, endpoint: webhookEndpoints })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookDeliveries.endpointId, webhookEndpoints.id))
    .where(eq(webhookDeliveries.id, deliveryId))
    .limit(1);
  // The endpoint (and its deliveries) were deleted meanwhile.
  if (!row) return { status_code: null, skipped: 'deleted' };
  const { delivery, endpoint } = row;
  if (!endpoint.active) {
    await db
      .update(webhookDeliveries)
      .set({ status: 'failed', lastError: 'the endpoint is disabled', updatedAt: new Date() })
      .where(eq(webhookDeliveries.id, delivery.id));
    return { status_code: null, skipped: 'disabled' };
  }

  const secrets: string[] = [];
  try {
    const box = await loadSecretBox(settings);
    secrets.push(box.open(endpoint.secretCiphertext));
    // The old secret of a rotation signs too until its overlap ends.
    if (endpoint.previousSecretCiphertext && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > new Date()) {
      secrets.push(box.open(endpoint.previousSecretCiphertext));
    }
  } catch (error) {
    // Not the receiver's fault, and retrying cannot help: this process has another key.
    throw new PermanentJobError(
      'The endpoint secret cannot be decrypted here: set the same WEBHOOK_SECRET_KEY on every API and worker process.',
      { cause: error },
    );
  }
  // The documented member order (JSONB storage does not keep it); the signature covers these exact bytes.
  const { id, type, created_at, data, ...rest } = delivery.payload;
  const body = JSON.stringify({ id, type, created_at, data, ...rest });
  const startedAt = new Date();
  const timestamp = Math.floor(startedAt.getTime() / 1000);
  let statusCode: number | null = null;
  let error: string | null = null;
  let refused = false;
  let durationMs: number;
  try {
    const response = await outboundGuardFor(settings).request(endpoint.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': `Intake-Webhooks/${VERSION}`,
        [SIGNATURE_HEADER]: signatureHeader(secrets, body, timestamp),
        'Intake-Event-Id': delivery.eventId,
        'Intake-Event-Type': delivery.eventType,
        'Intake-Delivery-Id': delivery.id,
        'Intake-Delivery-Attempt': String(context.attempt),
      },
      body,
      signal: context.signal,
    });
    statusCode = response.status;
    durationMs = response.durationMs;
    if (response.status >= 300 && response.status < 400) {
      const location = typeof response.headers.location === 'string' ? ` to ${response.headers.location.slice(0, 200)}` : '';
      error = `HTTP ${response.status}: redirects are not followed (redirect${location})`;
    } else if (response.status < 200 || response.status >= 300) {
      error = `HTTP ${response.status}`;
    }
  } catch (cause) {
    durationMs = Date.now() - startedAt.getTime();
    if (cause instanceof OutboundRequestError) {
      error = cause.message;
      refused = cause.refused;
    } else {
      error = cause instanceof Error ? cause.message : String(cause);
    }
  }

  const succeeded = error === null;
  const last = succeeded || refused || context.attempt >= context.maxAttempts;
  const status: DeliveryStatus = succeeded ? 'succeeded' : last ? 'failed' : 'pending';
  await db.insert(webhookDeliveryAttempts).values({
    deliveryId: delivery.id,
    attempt: context.attempt,
    statusCode,
    durationMs: Math.max(0, Math.round(durationMs)),
    error,
    startedAt,
  });
  await db
    .update(webhookDeliveries)
    .set({ status, attempts: context.attempt, lastStatusCode: statusCode, lastError: error, updatedAt: new Date() })
    .where(eq(webhookDeliveries.id, delivery.id));
  if (succeeded) return { status_code: statusCode };
  if (refused) throw new PermanentJobError(error ?? 'refused');
  throw new Error(error ?? 'delivery failed');
}
