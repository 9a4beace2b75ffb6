import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  DatabaseTokenRevocationStore,
  RedisTokenRevocationStore,
  type TokenRevocationStore,
} from '../../src/auth/token-revocation-store.ts';
import { DatabaseRateLimiter } from '../../src/rate-limit/database-rate-limiter.ts';
import type { RateLimiter } from '../../src/rate-limit/rate-limiter.ts';
import { RedisRateLimiter } from '../../src/rate-limit/redis-rate-limiter.ts';
import { createTestDatabase } from '../helpers/database.ts';

/** A settable clock, so window expiry is tested without waiting. */
export class FakeClock {
  constructor(public nowMs = Date.UTC(2030, 0, 1)) {}
  readonly now = () => this.nowMs;
  advance(ms: number): void {
    this.nowMs += ms;
  }
}

export interface AdapterUnderTest {
  rateLimiter: RateLimiter;
  revocations: TokenRevocationStore;
  close(): Promise<void>;
}

export interface AdapterFactory {
  name: string;
  create(clock: FakeClock): Promise<AdapterUnderTest>;
}

/**
 * Every adapter the ports have: the database one always (PGlite, or PostgreSQL when
 * DATABASE_URL is set), and Redis when REDIS_URL is set.
 */
export function adapterFactories(): AdapterFactory[] {
  const factories: AdapterFactory[] = [
    {
      name: process.env.DATABASE_URL ? 'database (PostgreSQL)' : 'database (PGlite)',
      async create(clock) {
        const testDatabase = await createTestDatabase();
        return {
          rateLimiter: new DatabaseRateLimiter(testDatabase.database.db, clock.now),
          revocations: new DatabaseTokenRevocationStore(testDatabase.database.db, clock.now),
          close: () => testDatabase.close(),
        };
      },
    },
  ];
  const redisUrl = process.env.REDIS_URL;
  if (redisUrl) {
    factories.push({
      name: 'redis',
      async create(clock) {
        const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
        const prefix = `intake-test:${randomUUID()}:`;
        return {
          rateLimiter: new RedisRateLimiter(redis, prefix, clock.now),
          revocations: new RedisTokenRevocationStore(redis, prefix, clock.now),
          async close() {
            const keys = await redis.keys(`${prefix}*`);
            if (keys.length > 0) await redis.del(...keys);
            await redis.quit();
          },
        };
      },
    });
  }
  return factories;
}
