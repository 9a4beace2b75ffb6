import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { hasPgCode, PG_FOREIGN_KEY_VIOLATION } from '../db/pg-errors.ts';
import { ERRORS } from '../errors/catalog.ts';
import { accountQuotas } from './quota.schema.ts';

/** Bytes and files, as used, reserved or released. */
export interface QuotaAmount {
  bytes: number;
  files: number;
}

/** Limits in force; null is unlimited. */
export interface QuotaLimits {
  bytes: number | null;
  files: number | null;
}

export interface QuotaStatus {
  usage: QuotaAmount;
  limits: QuotaLimits;
  /** Limits an admin set for this account (null: the configured default applies). */
  overrides: QuotaLimits;
}

/**
 * Per-account storage quotas. Usage counts every stored byte (originals and derived blobs such
 * as thumbnails) and every file, plus what uploads in flight have reserved. A reservation is one
 * UPDATE guarded by the limit, so however many uploads run at once, the usage never passes the
 * limit: an upload of unknown size reserves as its bytes arrive and is refused at the chunk that
 * would cross it.
 */
export class QuotaService {
  constructor(
    private readonly db: Db,
    private readonly defaults: QuotaLimits,
  ) {}

  async status(userId: string): Promise<QuotaStatus> {
    const [row] = await this.db.select().from(accountQuotas).where(eq(accountQuotas.userId, userId)).limit(1);
    const overrides = { bytes: row?.maxBytes ?? null, files: row?.maxFiles ?? null };
    return {
      usage: { bytes: row?.usedBytes ?? 0, files: row?.usedFiles ?? 0 },
      limits: { bytes: overrides.bytes ?? this.defaults.bytes, files: overrides.files ?? this.defaults.files },
      overrides,
    };
  }

  /** Takes `amount` from the account's quota, or throws `quota_exceeded` and takes nothing. */
  async reserve(userId: string, amount: QuotaAmount): Promise<void> {
    if (amount.bytes === 0 && amount.files === 0) return;
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const defaultBytes = sql`${this.defaults.bytes}::bigint`;
      const defaultFiles = sql`${this.defaults.files}::integer`;
      const updated = await this.db
        .update(accountQuotas)
        .set({
          usedBytes: sql`${accountQuotas.usedBytes} + ${amount.bytes}`,
          usedFiles: sql`${accountQuotas.usedFiles} + ${amount.files}`,
          updatedAt: new Date(),
        })
        .where(
          sql`${accountQuotas.userId} = ${userId}
            and (${amount.bytes} = 0 or coalesce(${accountQuotas.maxBytes}, ${defaultBytes}) is null
                 or ${accountQuotas.usedBytes} + ${amount.bytes} <= coalesce(${accountQuotas.maxBytes}, ${defaultBytes}))
            and (${amount.files} = 0 or coalesce(${accountQuotas.maxFiles}, ${defaultFiles}) is null
                 or ${accountQuotas.usedFiles} + ${amount.files} <= coalesce(${accountQuotas.maxFiles}, ${defaultFiles}))`,
        )
        .returning({ userId: accountQuotas.userId });
      if (updated.length > 0) return;
      // Either the limit refused it or the account has no row yet (its first uploads, maybe
      // several at once): make sure the row exists and try once more. Deciding from a look at the
      // row instead would refuse an upload whose row a concurrent first upload created meanwhile.
      if (attempt === 0) await this.db.insert(accountQuotas).values({ userId }).onConflictDoNothing();
    }
    throw refusal(await this.status(userId), amount);
  }

  /** Gives back what a failed or removed upload had taken; never below zero. */
  release(userId: string, amount: QuotaAmount): Promise<void> {
    return chargeUsage(this.db, userId, { bytes: -amount.bytes, files: -amount.files });
  }

  /** Records bytes already stored, whatever the limit (see chargeUsage). */
  charge(userId: string, amount: QuotaAmount): Promise<void> {
    return chargeUsage(this.db, userId, amount);
  }

  /** Admin: sets (or with null, clears) the account's own limits. Throws `not_found` for no such user. */
  async setLimits(userId: string, limits: Partial<QuotaLimits>): Promise<QuotaStatus> {
    const set = {
      ...(limits.bytes !== undefined ? { maxBytes: limits.bytes } : {}),
      ...(limits.files !== undefined ? { maxFiles: limits.files } : {}),
      updatedAt: new Date(),
    };
    try {
      await this.db
        .insert(accountQuotas)
        .values({ userId, ...set })
        .onConflictDoUpdate({ target: accountQuotas.userId, set });
    } catch (error) {
      // The row's foreign key answers whether the account exists, without reading the users table.
      if (hasPgCode(error, PG_FOREIGN_KEY_VIOLATION)) throw ERRORS.notFound('No user with this id.');
      throw error;
    }
    return this.status(userId);
  }
}

/**
 * Adds `delta` (negative to give back) to an account's usage without checking its limits: for
 * bytes already stored (a derived thumbnail) and for releases. Usage never goes below zero.
 */
export async function chargeUsage(db: Db, userId: string, delta: QuotaAmount): Promise<void> {
  if (delta.bytes === 0 && delta.files === 0) return;
  await db
    .insert(accountQuotas)
    .values({ userId, usedBytes: Math.max(0, delta.bytes), usedFiles: Math.max(0, delta.files) })
    .onConflictDoUpdate({
      target: accountQuotas.userId,
      set: {
        usedBytes: sql`greatest(${accountQuotas.usedBytes} + ${delta.bytes}, 0)`,
        usedFiles: sql`greatest(${accountQuotas.usedFiles} + ${delta.files}, 0)`,
        updatedAt: new Date(),
      },
    });
}

function refusal(status: QuotaStatus, amount: QuotaAmount) {
  const { usage, limits } = status;
  const bytesOver = amount.bytes > 0 && limits.bytes !== null && usage.bytes + amount.bytes > limits.bytes;
  return bytesOver || amount.files === 0 || limits.files === null
    ? ERRORS.quotaExceeded({ limit: 'bytes', limitValue: limits.bytes ?? 0, usage })
    : ERRORS.quotaExceeded({ limit: 'files', limitValue: limits.files, usage });
}
