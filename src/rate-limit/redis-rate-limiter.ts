import type { Redis } from 'ioredis';
import { decision, type Clock, type RateLimitDecision, type RateLimiter } from './rate-limiter.ts';

/**
 * INCR, and set the expiry on the first hit of a window, in one script so a crash between the
 * two can never leave a counter that lives forever. The window end is kept beside the count
 * so that `Retry-After` follows the service's clock, the same as the database adapter.
 */
const CONSUME_SCRIPT = `
local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
local reset = tonumber(redis.call('HGET', KEYS[1], 'reset') or '0')
local now = tonumber(ARGV[1])
if reset <= now then
  redis.call('HSET', KEYS[1], 'count', 1, 'reset', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1, ARGV[2]}
end
return {count, tostring(reset)}
`;

export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly now: Clock = Date.now,
  ) {}

  async consume(key: string, limit: number, windowSeconds: number): Promise<RateLimitDecision> {
    const nowMs = this.now();
    const windowMs = windowSeconds * 1000;
    const result = (await this.redis.eval(
      CONSUME_SCRIPT,
      1,
      this.keyFor(key),
      String(nowMs),
      String(nowMs + windowMs),
      String(windowMs),
    )) as [number, string];
    return decision(Number(result[0]), limit, Number(result[1]), nowMs);
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(this.keyFor(key));
  }

  private keyFor(key: string): string {
    return `${this.keyPrefix}rl:${key}`;
  }
}
