import { and, desc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { jobs } from './jobs.schema.ts';

/**
 * The newest job of `type` about `fileId` that is queued or running, if any: lets a feature
 * answer a repeated request with the run already under way instead of queueing another.
 */
export async function activeJobFor(db: Db, type: string, fileId: string): Promise<string | null> {
  const [job] = await db
    .select({ id: jobs.id })
    .from(jobs)
    .where(and(eq(jobs.type, type), eq(jobs.fileId, fileId), inArray(jobs.status, ['queued', 'running'])))
    .orderBy(desc(jobs.createdAt))
    .limit(1);
  return job?.id ?? null;
}
