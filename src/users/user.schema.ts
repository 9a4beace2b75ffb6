import { sql } from 'drizzle-orm';
import { boolean, check, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

export const USER_ROLES = ['user', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    email: text('email').notNull(),
    /** Null for an account created by a provider sign-in, until a password is set (reset). */
    passwordHash: text('password_hash'),
    fullName: text('full_name'),
    role: text('role').$type<UserRole>().notNull().default('user'),
    isActive: boolean('is_active').notNull().default(true),
    /** When the address in `email` was proven by a link sent to it; null means never. */
    emailVerifiedAt: timestamp('email_verified_at', { withTimezone: true }),
    /** An address the user asked to change to; it replaces `email` once its link is followed. */
    pendingEmail: text('pending_email'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    // Emails are unique whatever their case; the index also serves the login lookup.
    uniqueIndex('users_email_lower_unique').on(sql`lower(${table.email})`),
    check('users_role_check', sql`${table.role} in ('user', 'admin')`),
  ],
);

export type UserRow = typeof users.$inferSelect;

/** The column that makes a row an account's own: it goes when the account goes. */
export const ownerIdColumn = () =>
  uuid('owner_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' });
