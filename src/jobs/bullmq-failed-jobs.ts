import type { Queue } from 'bullmq';

/**
 * The jobs table says `failed` a moment before BullMQ moves the attempt to its failed set;
 * meanwhile the attempt is still active in Redis and must be left alone. That moment is a few
 * milliseconds, so it is waited out (briefly) rather than handed to the caller as a conflict.
 */
export async function bullAttemptStillActive(queue: Queue, jobId: string, waitMs = 2_000): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    if ((await queue.getJobState(jobId)) !== 'active') return false;
    if (Date.now() >= deadline) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * A failed job's finished BullMQ job must leave Redis before the row is dispatched again: a
 * job id BullMQ still holds makes the next `add` with that id a silent no-op, and the retry
 * would never run. Only a finished entry is removed; anything else was dispatched by someone
 * else and stays.
 */
export async function removeFinishedBullJob(queue: Queue, jobId: string): Promise<void> {
  const state = await queue.getJobState(jobId);
  if (state === 'failed' || state === 'completed') await queue.remove(jobId);
}
