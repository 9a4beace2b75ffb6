import { createHash, randomBytes } from 'node:crypto';
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { accountTokens, type AccountTokenPurpose } from './auth.schema.ts';

/** The digest kept in the database: a leaked table holds no working link. */
export function accountTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** Creates a single-use token for a link sent by e-mail; the plaintext goes only into the mail. */
export async function createAccountToken(
  db: Db,
  input: { purpose: AccountTokenPurpose; userId: string; email: string; ttlSeconds: number; now: number },
): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await db.insert(accountTokens).values({
    tokenHash: accountTokenHash(token),
    purpose: input.purpose,
    userId: input.userId,
    email: input.email,
    createdAt: new Date(input.now),
    expiresAt: new Date(input.now + input.ttlSeconds * 1000),
  });
  return token;
}

/**
 * Spends a token: one conditional update, so of two requests racing with the same link only
 * one gets the row. Unknown, expired, spent and other-purpose tokens all answer undefined.
 */
export async function consumeAccountToken(
  db: Db,
  purpose: AccountTokenPurpose,
  token: string,
  now: number,
): Promise<{ userId: string; email: string } | undefined> {
  const [row] = await db
    .update(accountTokens)
    .set({ usedAt: new Date(now) })
    .where(
      and(
        eq(accountTokens.tokenHash, accountTokenHash(token)),
        eq(accountTokens.purpose, purpose),
        isNull(accountTokens.usedAt),
        gt(accountTokens.expiresAt, new Date(now)),
      ),
    )
    .returning({ userId: accountTokens.userId, email: accountTokens.email });
  return row;
}

/** Spends every outstanding token of a purpose for a user (a reset done makes other reset links void). */
export async function voidAccountTokens(db: Db, userId: string, purpose: AccountTokenPurpose, now: number): Promise<void> {
  await db
    .update(accountTokens)
    .set({ usedAt: new Date(now) })
    .where(and(eq(accountTokens.userId, userId), eq(accountTokens.purpose, purpose), isNull(accountTokens.usedAt)));
}
