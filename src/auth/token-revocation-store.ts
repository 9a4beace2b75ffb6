import type { Redis } from 'ioredis';
import { eq, lt } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { revokedTokens } from './auth.schema.ts';

/**
 * Remembers revoked access-token ids until the tokens would have expired anyway. The database
 * adapter serves the embedded mode; the Redis one lets a fleet share revocations at once.
 * `test/auth/token-revocation-store.conformance.test.ts` runs the same cases against both.
 */
export interface TokenRevocationStore {
  revoke(jti: string, expiresAt: Date): Promise<void>;
  isRevoked(jti: string): Promise<boolean>;
  /**
   * True when revocations live in the `revoked_tokens` table of the service's own database: the
   * authenticator then reads them in the same statement as the user and the session (one round
   * trip per request) instead of calling `isRevoked`.
   */
  readonly inDatabase?: boolean;
}

const SWEEP_EVERY = 200;

export class DatabaseTokenRevocationStore implements TokenRevocationStore {
  readonly inDatabase = true;
  private revocations = 0;

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  async revoke(jti: string, expiresAt: Date): Promise<void> {
    if (expiresAt.getTime() <= this.now()) return;
    await this.db.insert(revokedTokens).values({ jti, expiresAt }).onConflictDoNothing();
    this.revocations += 1;
    if (this.revocations % SWEEP_EVERY === 0) {
      await this.db.delete(revokedTokens).where(lt(revokedTokens.expiresAt, new Date(this.now())));
    }
  }

  async isRevoked(jti: string): Promise<boolean> {
    const rows = await this.db.select({ jti: revokedTokens.jti }).from(revokedTokens).where(eq(revokedTokens.jti, jti)).limit(1);
    return rows.length > 0;
  }
}

export class RedisTokenRevocationStore implements TokenRevocationStore {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  async revoke(jti: string, expiresAt: Date): Promise<void> {
    const ttlMs = expiresAt.getTime() - this.now();
    if (ttlMs <= 0) return;
    await this.redis.set(this.keyFor(jti), '1', 'PX', ttlMs);
  }

  async isRevoked(jti: string): Promise<boolean> {
    return (await this.redis.exists(this.keyFor(jti))) === 1;
  }

  private keyFor(jti: string): string {
    return `${this.keyPrefix}revoked:${jti}`;
  }
}
