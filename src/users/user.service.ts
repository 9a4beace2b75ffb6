import { and, asc, eq, ilike, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { selectPage } from '../db/page.ts';
import { hasPgCode, PG_UNIQUE_VIOLATION } from '../db/pg-errors.ts';
import { ERRORS } from '../errors/catalog.ts';
import { users, type UserRole, type UserRow } from './user.schema.ts';

export interface UserPatch {
  fullName?: string | null;
  role?: UserRole;
  isActive?: boolean;
}

/** The sign-in fields that account recovery and verification change: auth decides, users writes. */
export type CredentialFields = Partial<
  Pick<typeof users.$inferInsert, 'passwordHash' | 'email' | 'pendingEmail' | 'emailVerifiedAt'>
>;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export class UserService {
  constructor(private readonly db: Db) {}

  async create(input: {
    email: string;
    /** Null: the account signs in through a provider only, until a password is set. */
    passwordHash: string | null;
    fullName: string | null;
    role?: UserRole;
    emailVerifiedAt?: Date | null;
  }): Promise<UserRow> {
    try {
      const [row] = await this.db
        .insert(users)
        .values({
          email: normalizeEmail(input.email),
          passwordHash: input.passwordHash,
          fullName: input.fullName,
          role: input.role ?? 'user',
          emailVerifiedAt: input.emailVerifiedAt ?? null,
        })
        .returning();
      if (!row) throw ERRORS.internal();
      return row;
    } catch (error) {
      if (hasPgCode(error, PG_UNIQUE_VIOLATION)) throw ERRORS.emailTaken();
      throw error;
    }
  }

  async findByEmail(email: string): Promise<UserRow | undefined> {
    const [row] = await this.db
      .select()
      .from(users)
      .where(sql`lower(${users.email}) = ${normalizeEmail(email)}`)
      .limit(1);
    return row;
  }

  async get(id: string): Promise<UserRow> {
    const row = await this.findById(id);
    if (!row) throw ERRORS.notFound('No user with this id.');
    return row;
  }

  async findById(id: string): Promise<UserRow | undefined> {
    const [row] = await this.db.select().from(users).where(eq(users.id, id)).limit(1);
    return row;
  }

  async list(query: { email?: string; limit: number; offset: number }): Promise<{ items: UserRow[]; total: number }> {
    const filters: SQL[] = [];
    if (query.email) filters.push(ilike(users.email, `%${escapeLike(query.email.toLowerCase())}%`));
    return selectPage(this.db, users, and(...filters), [asc(users.createdAt), asc(users.id)], query);
  }

  async update(id: string, patch: UserPatch): Promise<UserRow> {
    const set: Partial<typeof users.$inferInsert> = { updatedAt: new Date() };
    if (patch.fullName !== undefined) set.fullName = patch.fullName;
    if (patch.role !== undefined) set.role = patch.role;
    if (patch.isActive !== undefined) set.isActive = patch.isActive;
    const [row] = await this.db.update(users).set(set).where(eq(users.id, id)).returning();
    if (!row) throw ERRORS.notFound('No user with this id.');
    return row;
  }

  setPasswordHash(id: string, passwordHash: string): Promise<void> {
    return this.setCredentials(id, { passwordHash }, new Date());
  }

  async setCredentials(id: string, fields: CredentialFields, at: Date): Promise<void> {
    await this.db
      .update(users)
      .set({ ...fields, updatedAt: at })
      .where(eq(users.id, id));
  }

  /** Whether an account exists (other features check before writing rows that name it). */
  async exists(id: string): Promise<boolean> {
    return (await this.findById(id)) !== undefined;
  }
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}
