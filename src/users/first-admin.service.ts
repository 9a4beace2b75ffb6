import { isIP } from 'node:net';
import { count, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { SetupToken } from './setup-token.ts';
import { users, type UserRow } from './user.schema.ts';
import { UserService } from './user.service.ts';

/** Who is asking to set up: the TCP peer's address and the token they sent, if any. */
export interface SetupCaller {
  remoteAddress: string | undefined;
  token: string | undefined;
}

/** Hashing and checking passwords (auth's PasswordHasher, passed in). */
export interface PasswordCheck {
  hash(password: string): Promise<string>;
  verify(passwordHash: string, password: string): Promise<boolean>;
}

/**
 * First run, as PocketBase does it: while no administrator exists, the console may create one,
 * either from this machine (a loopback peer) or with the one-time setup token the server
 * printed in its log. Behind a proxy (TRUST_PROXY) every request arrives from the proxy, often
 * on loopback, so only the token counts there; forwarded headers are never trusted for this.
 */
export class FirstAdminService {
  constructor(
    private readonly db: Db,
    /** The password hasher of auth/, as a port: users/ does not import auth/. */
    private readonly passwords: PasswordCheck,
    private readonly token: SetupToken,
    private readonly behindProxy: boolean,
  ) {}

  async needed(): Promise<boolean> {
    const [row] = await this.db.select({ admins: count() }).from(users).where(eq(users.role, 'admin'));
    return (row?.admins ?? 0) === 0;
  }

  /** Whether this caller must present the token (the console shows its field then). */
  tokenRequired(remoteAddress: string | undefined): boolean {
    return this.behindProxy || !isLoopback(remoteAddress);
  }

  /**
   * Creates the first administrator, or promotes an existing account whose password is given.
   * Serialized by an advisory lock, so two racing requests cannot both become the first.
   */
  async createFirstAdmin(
    caller: SetupCaller,
    input: { email: string; password: string; fullName: string | null },
  ): Promise<{ user: UserRow; created: boolean }> {
    if (!(await this.needed())) throw ERRORS.setupComplete();
    if (caller.token !== undefined) {
      if (!this.token.matches(caller.token)) throw ERRORS.setupTokenInvalid();
    } else if (this.tokenRequired(caller.remoteAddress)) {
      throw ERRORS.setupTokenRequired(
        this.behindProxy
          ? 'Behind a proxy (TRUST_PROXY), the first administrator needs the setup token from the server log.'
          : 'Only this machine (loopback) may create the first administrator without the setup token from the server log.',
      );
    }
    // Hashing is slow: done before the lock is taken.
    const passwordHash = await this.passwords.hash(input.password);
    const outcome = await this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext('intake:first-admin'))`);
      const [admins] = await tx.select({ total: count() }).from(users).where(eq(users.role, 'admin'));
      if ((admins?.total ?? 0) > 0) throw ERRORS.setupComplete();
      const accounts = new UserService(tx);
      const existing = await accounts.findByEmail(input.email);
      if (!existing) {
        return {
          user: await accounts.create({ email: input.email, passwordHash, fullName: input.fullName, role: 'admin' }),
          created: true,
        };
      }
      // An existing account becomes the administrator only for someone who knows its password.
      if (!existing.passwordHash || !(await this.passwords.verify(existing.passwordHash, input.password)))
        throw ERRORS.emailTaken();
      const user = await accounts.update(existing.id, {
        role: 'admin',
        isActive: true,
        ...(input.fullName ? { fullName: input.fullName } : {}),
      });
      return { user, created: false };
    });
    this.token.spend();
    return outcome;
  }
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const unmapped = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(unmapped) === 4) return unmapped.startsWith('127.');
  return unmapped === '::1';
}
