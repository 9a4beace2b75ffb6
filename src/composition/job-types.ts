// The job types this service runs, registered from each feature's own job module. Loaded in
// the worker process, in `intake serve`'s main thread and in every worker thread (by
// `createJobRegistry`), so it must only build values.
import { registerAccountEmailJobs, type AccountEmailSettings } from '../auth/account-email.job.ts';
import type { Config, EmailConfig, StorageConfig, WebhooksConfig } from '../config/config.ts';
import type { Db } from '../db/database.ts';
import { registerFileJobs } from '../files/file-processing.job.ts';
import { openCopyIn } from '../db/copy-in.ts';
import { COPY_CONNECTIONS, insertPlan, RecordWriter } from '../records/record-writer.ts';
import { findFile } from '../files/file-lookup.ts';
import { JobRegistry } from '../jobs/job-registry.ts';
import { registerSystemJobs } from '../jobs/system-jobs.ts';
import { siblingModule, type ThreadRegistrySource } from '../jobs/thread-executor.ts';
import { registerEmailJobs, type FileEmailRecipient } from '../notifications/email.job.ts';
import type { ProcessingLimits } from '../processing/processing-options.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { createBlobStore, openOnce } from '../storage/create-blob-store.ts';
import { UserService } from '../users/user.service.ts';
import { registerWebhookJobs } from '../webhooks/webhook-delivery.job.ts';

/** The queues the service's job types are routed to; each worker runs a pool per queue. */
export const QUEUE_NAMES = ['files', 'notifications'] as const;

/**
 * The part of the configuration job handlers need: plain data, copied into each worker
 * thread (never the whole Config, which holds secrets no handler reads).
 */
export interface JobSettings {
  processing: Readonly<ProcessingLimits>;
  /** PostgreSQL (true) or PGlite: decides how rows are batched (see insertPlan). */
  postgres: boolean;
  /** PostgreSQL: where the record writer opens its own COPY connections. */
  databaseUrl: string | undefined;
  storage: StorageConfig;
  webhooks: WebhooksConfig;
  email: EmailConfig;
  accounts: AccountEmailSettings;
}

export function jobSettingsFrom(config: Config): JobSettings {
  return {
    processing: config.processing,
    postgres: config.database.url !== undefined,
    databaseUrl: config.database.url,
    storage: config.storage,
    webhooks: config.webhooks,
    email: config.email,
    accounts: {
      smtpUrl: config.email.smtpUrl,
      from: config.email.from,
      publicUrl: config.publicUrl,
      passwordResetTtlSeconds: config.auth.passwordResetTtlSeconds,
      verificationTtlSeconds: config.auth.emailVerificationTtlSeconds,
    },
  };
}

/**
 * Every job type a worker can run. `blobs` is the process's blob store when it has one; a worker
 * thread opens its own on first use.
 */
export function createJobRegistry(db: Db, settings: JobSettings, blobs?: () => Promise<BlobStore>): JobRegistry {
  const registry = new JobRegistry();
  registerSystemJobs(registry);
  registerFileJobs(registry, {
    db,
    blobs: blobs ?? openOnce(() => createBlobStore(settings.storage)),
    limits: settings.processing,
    records: new RecordWriter(
      db,
      insertPlan(
        settings.postgres,
        settings.databaseUrl === undefined ? undefined : openCopyIn(settings.databaseUrl, COPY_CONNECTIONS),
      ),
    ),
  });
  registerWebhookJobs(registry, { db, settings: settings.webhooks });
  registerEmailJobs(registry, { email: settings.email, recipient: fileEmailRecipient(db) });
  registerAccountEmailJobs(registry, { db, settings: settings.accounts });
  return registry;
}

/** Where the worker threads find `createJobRegistry`, with the settings they get. */
export function threadRegistrySource(settings: JobSettings): ThreadRegistrySource {
  // This very file: `.ts` from the sources, `.js` once compiled to dist/.
  return { module: siblingModule('./job-types.ts', import.meta.url), exportName: 'createJobRegistry', settings };
}

/** The file e-mail's recipient, from the files and users features (their tables, their code). */
function fileEmailRecipient(db: Db): FileEmailRecipient {
  const users = new UserService(db);
  return async ({ userId, fileId }) => {
    const file = await findFile(db, fileId);
    if (!file || file.ownerId !== userId) return undefined;
    const user = await users.findById(userId);
    return user && { email: user.email, isActive: user.isActive, filename: file.filename };
  };
}
