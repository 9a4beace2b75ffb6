import { eq } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import { fileFinishedEmailJob } from './email.job.ts';
import { notificationPreferences } from './notification.schema.ts';

export interface NotificationPreferences {
  emailOnFileFinished: boolean;
}

/** A user's notification choices, and the e-mails they ask for. */
export class NotificationService {
  constructor(
    private readonly db: Db,
    /** False when SMTP_URL is unset: preferences are kept, no mail is queued. */
    readonly emailEnabled: boolean,
  ) {}

  async preferences(userId: string): Promise<NotificationPreferences> {
    const [row] = await this.db.select().from(notificationPreferences).where(eq(notificationPreferences.userId, userId));
    return { emailOnFileFinished: row?.emailOnFileFinished ?? false };
  }

  async update(userId: string, input: NotificationPreferences): Promise<NotificationPreferences> {
    await this.db
      .insert(notificationPreferences)
      .values({ userId, emailOnFileFinished: input.emailOnFileFinished })
      .onConflictDoUpdate({
        target: notificationPreferences.userId,
        set: { emailOnFileFinished: input.emailOnFileFinished, updatedAt: new Date() },
      });
    return this.preferences(userId);
  }
}

/** Queues the file e-mail in the caller's transaction when e-mail is on and the user opted in. */
export async function queueFileEmail(
  tx: Db,
  queue: Pick<JobQueue, 'enqueue'>,
  input: { userId: string; fileId: string; jobId: string; outcome: 'processed' | 'failed' },
): Promise<boolean> {
  const [row] = await tx
    .select({ on: notificationPreferences.emailOnFileFinished })
    .from(notificationPreferences)
    .where(eq(notificationPreferences.userId, input.userId));
  if (!row?.on) return false;
  await queue.enqueue(
    fileFinishedEmailJob,
    { user_id: input.userId, file_id: input.fileId, job_id: input.jobId, outcome: input.outcome },
    // One mail per processing run, whatever redelivers the outcome.
    { tx, idempotencyKey: `file-email:${input.jobId}` },
  );
  return true;
}
