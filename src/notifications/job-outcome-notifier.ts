import { eq } from 'drizzle-orm';
import type { Config } from '../config/config.ts';
import { files } from '../files/file.schema.ts';
import { processFileJob } from '../files/file-processing.job.ts';
import type { JobOutcomeListener, JobQueue } from '../jobs/job-queue.ts';
import { fileEventData, jobEventData, WebhookPublisher } from '../webhooks/webhook-events.ts';
import { queueFileEmail } from './notification.service.ts';

/**
 * Turns job outcomes into outbound events, inside the transaction that records the outcome:
 * `job.succeeded` / `job.failed` for every owned job, and for file processing also
 * `file.processed` / `file.failed` and the owner's e-mail when they opted in.
 */
export function createJobOutcomeNotifier(config: Config, queue: Pick<JobQueue, 'enqueue'>): JobOutcomeListener {
  const publisher = new WebhookPublisher(queue, config.webhooks);
  const emailEnabled = config.email.smtpUrl !== undefined;
  return async (job, tx) => {
    // Deliveries and e-mails are jobs themselves: announcing them would feed back into itself.
    if (job.queue === 'notifications' || !job.ownerId) return;
    const failed = job.status === 'failed' || job.status === 'timed_out';
    if (job.status !== 'succeeded' && !failed) return;
    await publisher.publish(tx, job.ownerId, failed ? 'job.failed' : 'job.succeeded', { job: jobEventData(job) });
    if (job.type !== processFileJob.name || !job.fileId) return;
    const [file] = await tx.select().from(files).where(eq(files.id, job.fileId));
    if (!file) return;
    await publisher.publish(tx, job.ownerId, failed ? 'file.failed' : 'file.processed', {
      file: fileEventData(file),
      job_id: job.id,
      ...(failed ? { error: job.error ?? null } : {}),
    });
    if (emailEnabled) {
      await queueFileEmail(tx, queue, { userId: job.ownerId, fileId: file.id, jobId: job.id, outcome: failed ? 'failed' : 'processed' });
    }
  };
}
