import type { Config } from '../config/config.ts';
import { processFileJob } from '../files/file-processing.job.ts';
import { fileEventData, findFile } from '../files/file-lookup.ts';
import type { JobOutcomeListener, JobQueue } from '../jobs/job-queue.ts';
import type { JobRow, JobStatus } from '../jobs/jobs.schema.ts';
import { queueFileEmail } from '../notifications/notification.service.ts';
import { jobEventData, WebhookPublisher } from '../webhooks/webhook-events.ts';

/**
 * Turns job outcomes into outbound events, inside the transaction that records the outcome:
 * `job.succeeded` / `job.failed` for every owned job, and for file processing also
 * `file.processed` / `file.failed` and the owner's e-mail when they opted in. It lives here,
 * in the composition root, because it joins three features (files, webhooks, notifications)
 * that do not import one another.
 */
export function createJobOutcomeNotifier(
  config: Pick<Config, 'webhooks' | 'email'>,
  queue: Pick<JobQueue, 'enqueue'>,
): JobOutcomeListener {
  const publisher = new WebhookPublisher(queue, config.webhooks);
  const emailEnabled = config.email.smtpUrl !== undefined;
  // Deliveries and e-mails are jobs themselves: announcing them would feed back into itself.
  // System jobs (no owner) have no one to tell; a cancellation is not announced.
  const wants = (job: Pick<JobRow, 'queue' | 'ownerId'>, status: JobStatus) =>
    job.queue !== 'notifications' && job.ownerId !== null && ['succeeded', 'failed', 'timed_out'].includes(status);
  const listener: JobOutcomeListener = async (job, tx) => {
    if (!job.ownerId || !wants(job, job.status)) return;
    const failed = job.status === 'failed' || job.status === 'timed_out';
    const jobData = jobEventData(job);
    await publisher.publish(tx, job.ownerId, failed ? 'job.failed' : 'job.succeeded', { job: jobData });
    if (job.type !== processFileJob.name || !job.fileId) return;
    const file = await findFile(tx, job.fileId);
    if (!file) return;
    await publisher.publish(tx, job.ownerId, failed ? 'file.failed' : 'file.processed', {
      file: fileEventData(file),
      job_id: job.id,
      ...(failed ? { error: jobData.error } : {}),
    });
    if (emailEnabled) {
      await queueFileEmail(tx, queue, {
        userId: job.ownerId,
        fileId: file.id,
        jobId: job.id,
        outcome: failed ? 'failed' : 'processed',
      });
    }
  };
  listener.wants = wants;
  return listener;
}
