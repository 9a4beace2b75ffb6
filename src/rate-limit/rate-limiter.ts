/**
 * Counts attempts per key in fixed windows. Two adapters: the database (embedded mode) and
 * Redis (scaled mode, shared by every API instance). `test/rate-limit/rate-limiter.conformance.test.ts`
 * runs the same cases against both.
 */
export interface RateLimitDecision {
  allowed: boolean;
  /** Attempts left in this window after this one. */
  remaining: number;
  /** Whole seconds until the window resets (at least 1), for `Retry-After`. */
  retryAfterSeconds: number;
}

export interface RateLimiter {
  /** Records one attempt for `key` and says whether it is within `limit` per window. */
  consume(key: string, limit: number, windowSeconds: number): Promise<RateLimitDecision>;
  /** Forgets the counter of `key`, e.g. after an administrator unlocks an account. */
  reset(key: string): Promise<void>;
}

export type Clock = () => number;

export function decision(count: number, limit: number, resetAtMs: number, nowMs: number): RateLimitDecision {
  return {
    allowed: count <= limit,
    remaining: Math.max(0, limit - count),
    retryAfterSeconds: Math.max(1, Math.ceil((resetAtMs - nowMs) / 1000)),
  };
}
