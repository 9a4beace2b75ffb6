import { and, eq } from 'drizzle-orm';
import nodemailer, { type Transporter } from 'nodemailer';
import { Type } from 'typebox';
import type { EmailConfig } from '../config/config.ts';
import type { Db } from '../db/database.ts';
import { files } from '../files/file.schema.ts';
import { defineJob, PermanentJobError, type JobDependencies, type JobRegistry } from '../jobs/job-catalog.ts';
import { users } from '../users/user.schema.ts';

const FileEmailPayload = Type.Object({
  user_id: Type.String({ format: 'uuid' }),
  file_id: Type.String({ format: 'uuid' }),
  job_id: Type.String({ format: 'uuid' }),
  outcome: Type.Union([Type.Literal('processed'), Type.Literal('failed')]),
});

/** The e-mail telling a user that a file of theirs finished processing or failed. */
export const fileFinishedEmailJob = defineJob<typeof FileEmailPayload, { message_id: string | null; skipped?: string }>({
  name: 'notifications.file_email',
  queue: 'notifications',
  version: 1,
  payload: FileEmailPayload,
  // A mail server that is down for a while: about half an hour of retries.
  retry: { maxAttempts: 6, backoffMs: 30_000, maxBackoffMs: 10 * 60_000, jitter: 0.5 },
  softTimeLimitMs: 60_000,
});

const transports = new Map<string, Transporter>();

/** One pooled transport per SMTP URL and process. */
function transportFor(smtpUrl: string): Transporter {
  let transport = transports.get(smtpUrl);
  if (!transport) {
    transport = nodemailer.createTransport(smtpUrl);
    transports.set(smtpUrl, transport);
  }
  return transport;
}

export function registerEmailJobs(registry: JobRegistry, deps: JobDependencies): void {
  registry.register(fileFinishedEmailJob, (payload) => sendFileEmail(deps.db, deps.config.email, payload));
}

async function sendFileEmail(
  db: Db,
  config: EmailConfig,
  payload: { user_id: string; file_id: string; job_id: string; outcome: 'processed' | 'failed' },
): Promise<{ message_id: string | null; skipped?: string }> {
  if (!config.smtpUrl) throw new PermanentJobError('E-mail is not configured on this worker (SMTP_URL).');
  const [row] = await db
    .select({ email: users.email, isActive: users.isActive, filename: files.filename })
    .from(files)
    .innerJoin(users, eq(users.id, files.ownerId))
    .where(and(eq(files.id, payload.file_id), eq(files.ownerId, payload.user_id)))
    .limit(1);
  if (!row) return { message_id: null, skipped: 'the file or its owner no longer exists' };
  if (!row.isActive) return { message_id: null, skipped: 'the account is disabled' };
  const processed = payload.outcome === 'processed';
  // The file name is the user's own text: it goes in the plain-text body and a header-safe subject.
  const name = row.filename.replace(/[\r\n\t]/g, ' ').slice(0, 120);
  const info: { messageId?: string } = await transportFor(config.smtpUrl).sendMail({
    from: config.from,
    to: row.email,
    subject: processed ? `Processed: ${name}` : `Processing failed: ${name}`,
    text: [
      processed ? `Your file "${name}" has been processed.` : `Your file "${name}" could not be processed.`,
      '',
      `File: ${payload.file_id}`,
      `Job: ${payload.job_id}`,
      '',
      'You receive this because e-mail notifications are on for your account (PUT /api/v1/users/me/notifications).',
    ].join('\n'),
  });
  return { message_id: info.messageId ?? null };
}
