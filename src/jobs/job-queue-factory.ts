import type { JobsConfig } from '../config/config.ts';
import type { Database } from '../db/database.ts';
import { createEmbeddedQueue } from './embedded-queue.ts';
import type { JobEventSink, JobLogger, JobQueue, QueueSettings } from './job-queue.ts';

export function queueSettingsFrom(config: JobsConfig): QueueSettings {
  return {
    leaseMs: config.leaseMs,
    heartbeatMs: config.heartbeatMs,
    pollIntervalMs: config.pollIntervalMs,
    stalledCheckMs: config.stalledCheckMs,
    sweepIntervalMs: config.sweepIntervalMs,
    retentionMs: config.retentionMs,
    concurrency: { files: config.concurrency.files, notifications: config.concurrency.notifications },
    defaultConcurrency: 1,
    shutdownGraceMs: config.shutdownGraceMs,
  };
}

/**
 * BullMQ when REDIS_URL is set, otherwise the durable queue on the database. `onJobEvent`
 * hears every progress write and status change (realtime fan-out). BullMQ and its Redis client
 * are loaded only when configured: they cost the embedded mode's start-up time and memory.
 */
export async function createJobQueue(
  config: JobsConfig,
  database: Database,
  log: JobLogger,
  onJobEvent?: JobEventSink,
): Promise<JobQueue> {
  const settings: QueueSettings = { ...queueSettingsFrom(config), ...(onJobEvent ? { onJobEvent } : {}) };
  if (config.redisUrl) {
    const { createBullmqQueue } = await import('./bullmq-queue.ts');
    return createBullmqQueue(
      database,
      settings,
      {
        redisUrl: config.redisUrl,
        prefix: config.prefix,
        maxStalledCount: config.maxStalledCount,
        relayIntervalMs: config.relayIntervalMs,
      },
      log,
    );
  }
  return createEmbeddedQueue(database, settings, log);
}
