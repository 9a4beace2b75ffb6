import { bigint, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from '../users/user.schema.ts';

/**
 * An account's authenticator secret. The row exists from enrolment; two-factor is on once
 * `enabled_at` is set (the first code proved the app holds the secret).
 */
export const twoFactorCredentials = pgTable('two_factor_credentials', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  /** The TOTP secret, AES-256-GCM sealed with a key derived from WEBHOOK_SECRET_KEY (or its key file). */
  secretSealed: text('secret_sealed').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  enabledAt: timestamp('enabled_at', { withTimezone: true }),
  /** The time step of the last code accepted: that code, and any older one, is refused from then on. */
  lastUsedStep: bigint('last_used_step', { mode: 'number' }),
});

/** One-time recovery codes, kept as SHA-256 digests (they are random, so no slow hash is needed). */
export const twoFactorRecoveryCodes = pgTable(
  'two_factor_recovery_codes',
  {
    codeHash: text('code_hash').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    usedAt: timestamp('used_at', { withTimezone: true }),
  },
  (table) => [index('two_factor_recovery_codes_user_idx').on(table.userId)],
);

/**
 * The step between a proven first factor (a password) and the session: its token (kept as a
 * digest) is handed out instead of cookies, and spent by the code that completes the sign-in.
 */
export const twoFactorChallenges = pgTable(
  'two_factor_challenges',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** How the first factor was proven (`password`), carried into the audit entry of the sign-in. */
    method: text('method').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
  },
  (table) => [index('two_factor_challenges_user_idx').on(table.userId)],
);

export type TwoFactorCredentialRow = typeof twoFactorCredentials.$inferSelect;
