import { Type } from '../vendor/typebox.ts';
import type { EmailConfig } from '../config/config.ts';
import { defineJob, PermanentJobError } from '../jobs/job-definition.ts';
import type { JobRegistry } from '../jobs/job-registry.ts';
import { sendPlainMail } from './mailer.ts';

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

/**
 * Who the file e-mail goes to and what it names: answered by the users and files features
 * (wired by the composition root), so this job reads no table of theirs.
 */
export type FileEmailRecipient = (input: {
  userId: string;
  fileId: string;
}) => Promise<{ email: string; isActive: boolean; filename: string } | undefined>;

export interface EmailJobDependencies {
  email: EmailConfig;
  recipient: FileEmailRecipient;
}

export function registerEmailJobs(registry: JobRegistry, deps: EmailJobDependencies): void {
  registry.register(fileFinishedEmailJob, (payload) => sendFileEmail(deps, payload));
}

async function sendFileEmail(
  { email: config, recipient }: EmailJobDependencies,
  payload: { user_id: string; file_id: string; job_id: string; outcome: 'processed' | 'failed' },
): Promise<{ message_id: string | null; skipped?: string }> {
  if (!config.smtpUrl) throw new PermanentJobError('E-mail is not configured on this worker (SMTP_URL).');
  const row = await recipient({ userId: payload.user_id, fileId: payload.file_id });
  if (!row) return { message_id: null, skipped: 'the file or its owner no longer exists' };
  if (!row.isActive) return { message_id: null, skipped: 'the account is disabled' };
  const processed = payload.outcome === 'processed';
  // The file name is the user's own text: it goes in the plain-text body and a header-safe subject.
  const name = row.filename.replace(/[\r\n\t]/g, ' ').slice(0, 120);
  const messageId = await sendPlainMail(config.smtpUrl, {
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
  return { message_id: messageId };
}
