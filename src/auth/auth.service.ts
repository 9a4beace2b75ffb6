import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { and, eq, isNull, lt } from 'drizzle-orm';
import type { AuthConfig, RateLimitRule } from '../config/config.ts';
import type { Db } from '../db/database.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { RateLimiter } from '../rate-limit/rate-limiter.ts';
import { normalizeEmail, type UserService } from '../users/user.service.ts';
import type { UserRole, UserRow } from '../users/user.schema.ts';
import { authSessions, refreshTokens } from './auth.schema.ts';
import type { JwtTokens } from './jwt-tokens.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { revokeSession, revokeUserSessions } from './sessions.ts';
import type { TokenRevocationStore } from './token-revocation-store.ts';

/** What a sign-in or a refresh hands out. */
export interface IssuedSession {
  user: UserRow;
  sessionId: string;
  accessToken: string;
  refreshToken: string;
  csrfToken: string;
  accessExpiresInSeconds: number;
  refreshExpiresInSeconds: number;
}

export interface AuthServiceDependencies {
  db: Db;
  users: UserService;
  passwords: PasswordHasher;
  tokens: JwtTokens;
  revocations: TokenRevocationStore;
  rateLimiter: RateLimiter;
  config: AuthConfig;
}

/** Registration, sign-in, rotation, sign-out and password changes. Knows nothing of HTTP. */
/** Every this many sign-ins, sessions past their expiry (and their refresh tokens) are deleted. */
const SESSION_SWEEP_EVERY = 200;

export class AuthService {
  private logins = 0;

  constructor(private readonly deps: AuthServiceDependencies) {}

  async register(input: { email: string; password: string; fullName: string | null }, clientIp: string): Promise<UserRow> {
    if (!this.deps.config.registrationOpen) throw ERRORS.registrationClosed();
    const rules = this.deps.config.rateLimits;
    await this.limit([
      [`register:ip:${clientIp}`, rules.registerPerIp],
      [`register:account:${accountKey(input.email)}`, rules.loginPerAccount],
    ]);
    const passwordHash = await this.deps.passwords.hash(input.password);
    return this.deps.users.create({ email: input.email, passwordHash, fullName: input.fullName });
  }

  /** Checks a password and opens a new session (a new refresh-token family). */
  async login(input: { email: string; password: string }, clientIp: string): Promise<IssuedSession> {
    const rules = this.deps.config.rateLimits;
    await this.limit([
      [`login:ip:${clientIp}`, rules.loginPerIp],
      [`login:account:${accountKey(input.email)}`, rules.loginPerAccount],
    ]);
    const user = await this.deps.users.findByEmail(input.email);
    // Unknown email and wrong password cost the same argon2 time and get the same answer;
    // so does a deactivated account, which must not be told apart by a guesser.
    const passwordOk = user
      ? await this.deps.passwords.verify(user.passwordHash, input.password)
      : await this.deps.passwords.verifyAgainstDummy(input.password);
    if (!user || !passwordOk || !user.isActive) throw ERRORS.invalidCredentials();

    this.logins += 1;
    if (this.logins % SESSION_SWEEP_EVERY === 0) {
      // No token of an expired session can verify any more, so its rows are dead weight.
      await this.deps.db.delete(authSessions).where(lt(authSessions.expiresAt, new Date()));
    }
    const sessionId = randomUUID();
    await this.deps.db.insert(authSessions).values({
      id: sessionId,
      userId: user.id,
      expiresAt: new Date(Date.now() + this.deps.config.refreshTokenTtlSeconds * 1000),
    });
    return this.issue(user, sessionId);
  }

  /**
   * Spends a refresh token and hands out a new pair. A token already spent means two parties
   * hold it (one of them a thief): the whole family is revoked and `token_reused` answered.
   */
  async refresh(refreshToken: string): Promise<IssuedSession> {
    const claims = await this.deps.tokens.verify(refreshToken, 'refresh');
    const { db } = this.deps;
    // One conditional update: of two concurrent refreshes with the same token, one wins.
    const spent = await db
      .update(refreshTokens)
      .set({ usedAt: new Date() })
      .where(and(eq(refreshTokens.jti, claims.jti), eq(refreshTokens.sessionId, claims.sid), isNull(refreshTokens.usedAt)))
      .returning({ jti: refreshTokens.jti });
    if (spent.length === 0) {
      const [known] = await db
        .select({ jti: refreshTokens.jti })
        .from(refreshTokens)
        .where(and(eq(refreshTokens.jti, claims.jti), eq(refreshTokens.sessionId, claims.sid)))
        .limit(1);
      if (!known) throw ERRORS.invalidToken();
      await revokeSession(db, claims.sid);
      throw ERRORS.tokenReused();
    }
    const [session] = await db
      .select({ revokedAt: authSessions.revokedAt, userId: authSessions.userId })
      .from(authSessions)
      .where(eq(authSessions.id, claims.sid))
      .limit(1);
    if (!session || session.userId !== claims.sub) throw ERRORS.invalidToken();
    if (session.revokedAt) throw ERRORS.tokenRevoked();
    const user = await this.deps.users.get(claims.sub).catch(() => {
      throw ERRORS.invalidToken();
    });
    if (!user.isActive) throw ERRORS.accountDisabled();
    await db
      .update(authSessions)
      .set({ expiresAt: new Date(Date.now() + this.deps.config.refreshTokenTtlSeconds * 1000) })
      .where(eq(authSessions.id, claims.sid));
    return this.issue(user, claims.sid);
  }

  /** Ends the session of the access token used, and that token itself at once. */
  async logout(session: { id: string; tokenId: string; tokenExpiresAt: Date } | null): Promise<void> {
    if (!session) return;
    await Promise.all([
      this.deps.revocations.revoke(session.tokenId, session.tokenExpiresAt),
      revokeSession(this.deps.db, session.id),
    ]);
  }

  /** Changes the password and ends every other session, so a stolen session dies with the old password. */
  async changePassword(
    userId: string,
    currentSessionId: string | null,
    input: { currentPassword: string; newPassword: string },
  ): Promise<void> {
    const user = await this.deps.users.get(userId);
    if (!(await this.deps.passwords.verify(user.passwordHash, input.currentPassword))) {
      throw ERRORS.invalidCurrentPassword();
    }
    await this.deps.users.setPasswordHash(userId, await this.deps.passwords.hash(input.newPassword));
    await revokeUserSessions(this.deps.db, userId, currentSessionId ?? undefined);
  }

  /**
   * An administrator changes a role or deactivates an account. Deactivation also ends every
   * session, so reactivating later does not bring old tokens back to life.
   */
  async adminUpdateUser(actorId: string, userId: string, patch: { role?: UserRole; isActive?: boolean }): Promise<UserRow> {
    if (actorId === userId && (patch.role === 'user' || patch.isActive === false)) {
      // Guards against the last administrator locking everyone out by mistake.
      throw ERRORS.conflict('Administrators cannot demote or deactivate themselves; ask another administrator.');
    }
    const row = await this.deps.users.update(userId, patch);
    if (patch.isActive === false) await revokeUserSessions(this.deps.db, userId);
    return row;
  }

  private async issue(user: UserRow, sessionId: string): Promise<IssuedSession> {
    const subject = { userId: user.id, sessionId };
    const [access, refresh] = await Promise.all([
      this.deps.tokens.issue('access', subject),
      this.deps.tokens.issue('refresh', subject),
    ]);
    await this.deps.db.insert(refreshTokens).values({ jti: refresh.jti, sessionId, expiresAt: refresh.expiresAt });
    return {
      user,
      sessionId,
      accessToken: access.token,
      refreshToken: refresh.token,
      csrfToken: randomBytes(32).toString('base64url'),
      accessExpiresInSeconds: this.deps.config.accessTokenTtlSeconds,
      refreshExpiresInSeconds: this.deps.config.refreshTokenTtlSeconds,
    };
  }

  /** Consumes every bucket (so each counts the attempt) and refuses if any is over its limit. */
  private async limit(buckets: [string, RateLimitRule][]): Promise<void> {
    const decisions = await Promise.all(
      buckets.map(([key, rule]) => this.deps.rateLimiter.consume(key, rule.limit, rule.windowSeconds)),
    );
    const refused = decisions.filter((decision) => !decision.allowed);
    if (refused.length > 0) throw ERRORS.rateLimited(Math.max(...refused.map((decision) => decision.retryAfterSeconds)));
  }
}

/** Rate-limit keys hold a digest, not the email, so counters in Redis reveal no addresses. */
function accountKey(email: string): string {
  return createHash('sha256').update(normalizeEmail(email)).digest('base64url').slice(0, 32);
}
