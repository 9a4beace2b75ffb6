import { createHash, randomBytes } from 'node:crypto';
import { and, desc, eq } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { selectPage } from '../db/page.ts';
import { ERRORS } from '../errors/catalog.ts';
import { callerStanding } from '../users/caller-standing.ts';
import type { UserRole } from '../users/user.schema.ts';
import { apiKeys, type ApiKeyRow } from './api-key.schema.ts';

/** Every key starts with this, so a bearer credential is told apart from a JWT at a glance. */
export const API_KEY_PREFIX = 'ik_';
/** Characters of the key kept in clear for lists: the marker plus 8 random characters. */
const DISPLAY_PREFIX_LENGTH = API_KEY_PREFIX.length + 8;
/** `last_used_at` is written at most this often per key, so a busy key costs no write per call. */
const LAST_USED_PRECISION_MS = 60_000;

export interface ApiKeyOwner {
  keyId: string;
  userId: string;
  role: UserRole;
  emailVerified: boolean;
}

export interface CreatedApiKey {
  row: ApiKeyRow;
  /** The only time the key exists in clear. */
  key: string;
}

export function isApiKey(credential: string): boolean {
  return credential.startsWith(API_KEY_PREFIX);
}

/**
 * 256 random bits make a brute-force search hopeless, so a fast unsalted SHA-256 is enough
 * (a slow password hash would only cost time on every request).
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export class ApiKeyService {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  async create(userId: string, input: { name: string; expiresAt: Date | null }): Promise<CreatedApiKey> {
    if (input.expiresAt && input.expiresAt.getTime() <= this.now()) {
      throw ERRORS.badRequest('expires_at must be in the future.');
    }
    const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const [row] = await this.db
      .insert(apiKeys)
      .values({
        userId,
        name: input.name,
        prefix: key.slice(0, DISPLAY_PREFIX_LENGTH),
        keyHash: hashApiKey(key),
        expiresAt: input.expiresAt,
      })
      .returning();
    if (!row) throw ERRORS.internal();
    return { row, key };
  }

  async list(userId: string, page: { limit: number; offset: number }): Promise<{ items: ApiKeyRow[]; total: number }> {
    return selectPage(this.db, apiKeys, eq(apiKeys.userId, userId), [desc(apiKeys.createdAt), desc(apiKeys.id)], page);
  }

  /** Deletes the caller's own key; someone else's answers 404, as if it did not exist. */
  async delete(userId: string, keyId: string): Promise<void> {
    const deleted = await this.db
      .delete(apiKeys)
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.userId, userId)))
      .returning({ id: apiKeys.id });
    if (deleted.length === 0) throw ERRORS.notFound('No API key with this id.');
  }

  /** Resolves a presented key to its owner, or throws the 401 that fits. */
  async authenticate(key: string): Promise<ApiKeyOwner> {
    // The lookup is by hash, so timing reveals nothing about stored keys.
    const [found] = await this.db
      .select({
        id: apiKeys.id,
        expiresAt: apiKeys.expiresAt,
        lastUsedAt: apiKeys.lastUsedAt,
        userId: callerStanding.userId,
        ...callerStanding.columns,
      })
      .from(apiKeys)
      .innerJoin(callerStanding.table, eq(callerStanding.userId, apiKeys.userId))
      .where(eq(apiKeys.keyHash, hashApiKey(key)))
      .limit(1);
    if (!found) throw ERRORS.invalidToken('The API key is not valid.');
    const nowMs = this.now();
    if (found.expiresAt && found.expiresAt.getTime() <= nowMs) throw ERRORS.tokenExpired();
    if (!found.isActive) throw ERRORS.accountDisabled();
    if (!found.lastUsedAt || nowMs - found.lastUsedAt.getTime() >= LAST_USED_PRECISION_MS) {
      await this.db
        .update(apiKeys)
        .set({ lastUsedAt: new Date(nowMs) })
        .where(eq(apiKeys.id, found.id));
    }
    return { keyId: found.id, userId: found.userId, role: found.role, emailVerified: found.emailVerifiedAt !== null };
  }
}
