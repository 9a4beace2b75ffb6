import { lt, sql } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { decision, type Clock, type RateLimitDecision, type RateLimiter } from './rate-limiter.ts';
import { rateLimitCounters } from './rate-limit.schema.ts';

/** How often, in consumes, expired counters are swept, so the table stays small. */
const SWEEP_EVERY = 500;

export class DatabaseRateLimiter implements RateLimiter {
  private consumes = 0;

  constructor(
    private readonly db: Db,
    private readonly now: Clock = Date.now,
  ) {}

  async consume(key: string, limit: number, windowSeconds: number): Promise<RateLimitDecision> {
    const nowMs = this.now();
    const freshReset = nowMs + windowSeconds * 1000;
    // One statement, so concurrent attempts on the same key cannot both read the old count.
    const rows = await this.db
      .insert(rateLimitCounters)
      .values({ key, count: 1, resetAtMs: freshReset })
      .onConflictDoUpdate({
        target: rateLimitCounters.key,
        set: {
          count: sql`case when ${rateLimitCounters.resetAtMs} <= ${nowMs} then 1 else ${rateLimitCounters.count} + 1 end`,
          resetAtMs: sql`case when ${rateLimitCounters.resetAtMs} <= ${nowMs} then ${freshReset} else ${rateLimitCounters.resetAtMs} end`,
        },
      })
      .returning({ count: rateLimitCounters.count, resetAtMs: rateLimitCounters.resetAtMs });
    const row = rows[0];
    if (!row) throw new Error('rate limit upsert returned no row');
    this.consumes += 1;
    if (this.consumes % SWEEP_EVERY === 0) await this.sweep(nowMs);
    return decision(row.count, limit, Number(row.resetAtMs), nowMs);
  }

  async reset(key: string): Promise<void> {
    await this.db.delete(rateLimitCounters).where(sql`${rateLimitCounters.key} = ${key}`);
  }

  private async sweep(nowMs: number): Promise<void> {
    await this.db.delete(rateLimitCounters).where(lt(rateLimitCounters.resetAtMs, nowMs));
  }
}
