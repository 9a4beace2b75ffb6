import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from '../users/user.schema.ts';

/**
 * A session is one sign-in: the family of refresh tokens that descend from it by rotation.
 * Revoking it ends every token of the family, access tokens included (they carry its id).
 */
export const authSessions = pgTable(
  'auth_sessions',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    /** The browser or program that signed in (its User-Agent, cut short), for the sessions list. */
    userAgent: text('user_agent'),
    ip: text('ip'),
    /** Moved on each refresh (not on each request, which would cost a write per call). */
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('auth_sessions_user_idx').on(table.userId)],
);

/** Each refresh token issued, so that a spent one presented again is recognised as theft. */
export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    jti: uuid('jti').primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => authSessions.id, { onDelete: 'cascade' }),
    issuedAt: timestamp('issued_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    /**
     * What spending this token handed out (ids and issue time of the new pair, and a digest of
     * who asked), so that the same client repeating the refresh within the grace period gets
     * the same pair again: Ed25519 signatures are deterministic, so no token is stored.
     */
    successorRefreshJti: uuid('successor_refresh_jti'),
    successorAccessJti: uuid('successor_access_jti'),
    successorIssuedAt: integer('successor_issued_at'),
    spentBy: text('spent_by'),
  },
  (table) => [index('refresh_tokens_session_idx').on(table.sessionId)],
);

/** Revoked access-token ids (embedded mode; Redis holds them when configured). */
export const revokedTokens = pgTable(
  'revoked_tokens',
  {
    jti: uuid('jti').primaryKey(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (table) => [index('revoked_tokens_expires_idx').on(table.expiresAt)],
);

export const ACCOUNT_TOKEN_PURPOSES = ['password_reset', 'email_verification'] as const;
export type AccountTokenPurpose = (typeof ACCOUNT_TOKEN_PURPOSES)[number];

/**
 * Single-use links sent by e-mail (password reset, e-mail verification). Only a SHA-256 digest
 * of the token is kept, so a database dump cannot be turned into working links.
 */
export const accountTokens = pgTable(
  'account_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    purpose: text('purpose').$type<AccountTokenPurpose>().notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The address the link was sent to: the one a verification proves. */
    email: text('email').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
  },
  (table) => [
    index('account_tokens_user_idx').on(table.userId, table.purpose),
    check('account_tokens_purpose_check', sql`${table.purpose} in ('password_reset', 'email_verification')`),
  ],
);
