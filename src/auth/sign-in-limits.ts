import { createHash } from 'node:crypto';
import { ERRORS } from '../errors/catalog.ts';
import type { RateLimitRule } from '../config/config.ts';
import type { RateLimiter } from '../rate-limit/rate-limiter.ts';
import { normalizeEmail } from '../users/user.service.ts';

/** Who is signing in, as far as the request tells: for rate limits, sessions and the audit log. */
export interface ClientInfo {
  ip: string;
  userAgent: string | null;
}

/** Consumes every bucket (so each counts the attempt) and refuses if any is over its limit. */
export async function consumeLimits(rateLimiter: RateLimiter, buckets: [string, RateLimitRule][]): Promise<void> {
  const decisions = await Promise.all(buckets.map(([key, rule]) => rateLimiter.consume(key, rule.limit, rule.windowSeconds)));
  const refused = decisions.filter((decision) => !decision.allowed);
  if (refused.length > 0) throw ERRORS.rateLimited(Math.max(...refused.map((decision) => decision.retryAfterSeconds)));
}

/** Rate-limit keys hold a digest, not the email, so counters in Redis reveal no addresses. */
export function accountKey(email: string): string {
  return createHash('sha256').update(normalizeEmail(email)).digest('base64url').slice(0, 32);
}
