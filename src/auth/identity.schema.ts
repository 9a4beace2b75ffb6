import { boolean, index, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { users } from '../users/user.schema.ts';

/** An account at an identity provider that signs in as one of our users. */
export const userIdentities = pgTable(
  'user_identities',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The configured provider name (`OIDC_PROVIDERS`). */
    provider: text('provider').notNull(),
    /** The provider's stable id for the person (`sub`, or GitHub's numeric id): never the e-mail, which can change hands. */
    subject: text('subject').notNull(),
    /** The address the provider gave at the last sign-in, for the account page. */
    email: text('email'),
    emailVerified: boolean('email_verified').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('user_identities_provider_subject_unique').on(table.provider, table.subject),
    index('user_identities_user_idx').on(table.userId),
  ],
);

export type UserIdentityRow = typeof userIdentities.$inferSelect;

/**
 * A sign-in started at a provider and not yet come back. Kept in the database, not in process
 * memory, so that the callback may land on any process of a fleet; the browser holds only the
 * row's random id (in a cookie), and the row is deleted by the callback that uses it.
 */
export const identitySignInFlows = pgTable(
  'identity_sign_in_flows',
  {
    /** SHA-256 of the id in the browser's cookie, so a database read cannot finish someone's sign-in. */
    idHash: text('id_hash').primaryKey(),
    provider: text('provider').notNull(),
    state: text('state').notNull(),
    nonce: text('nonce').notNull(),
    codeVerifier: text('code_verifier').notNull(),
    /** A same-origin path the browser returns to. */
    returnTo: text('return_to').notNull(),
    /** Set when a signed-in user links a provider rather than signing in with it. */
    linkUserId: uuid('link_user_id').references(() => users.id, { onDelete: 'cascade' }),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (table) => [index('identity_sign_in_flows_expires_idx').on(table.expiresAt)],
);

export type IdentitySignInFlowRow = typeof identitySignInFlows.$inferSelect;
