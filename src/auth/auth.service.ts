import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { and, eq, isNull, lt } from 'drizzle-orm';
import { accountKey, consumeLimits, type ClientInfo } from './sign-in-limits.ts';
import type { AuditRecorder } from '../audit/audit.service.ts';
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
import type { TwoFactorService } from './two-factor.service.ts';

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

/**
 * How a proven first factor ends: a session, or — with two-factor on — a challenge the client
 * completes with a code (POST /auth/login/two-factor or /auth/token/two-factor).
 */
export type SignInOutcome =
  { kind: 'session'; session: IssuedSession } | { kind: 'challenge'; challengeToken: string; expiresInSeconds: number };

/** Who is on the other end of a request: kept with a session, and in the audit log. */
/** Queues the link that proves an address (wired to the account e-mail job). */
export interface VerificationMailer {
  queueVerification(userId: string, email: string): Promise<void>;
}

export interface AuthServiceDependencies {
  db: Db;
  users: UserService;
  passwords: PasswordHasher;
  tokens: JwtTokens;
  revocations: TokenRevocationStore;
  rateLimiter: RateLimiter;
  config: AuthConfig;
  audit: AuditRecorder;
  /** Absent or EMAIL_VERIFICATION=off: no verification mail at registration. */
  verification?: VerificationMailer;
  twoFactor: Pick<TwoFactorService, 'isEnabled' | 'openChallenge' | 'completeChallenge'>;
  /** The time in ms (tests pass their own clock). */
  now?: () => number;
}

/** Every this many sign-ins, sessions past their expiry (and their refresh tokens) are deleted. */
const SESSION_SWEEP_EVERY = 200;
/** Long enough to tell devices apart in the sessions list, short enough to keep rows small. */
const USER_AGENT_MAX = 512;

/** Registration, sign-in, rotation, sign-out and password changes. Knows nothing of HTTP. */
export class AuthService {
  private logins = 0;
  private readonly now: () => number;

  constructor(private readonly deps: AuthServiceDependencies) {
    this.now = deps.now ?? Date.now;
  }

  async register(
    input: { email: string; password: string; fullName: string | null },
    client: ClientInfo | string,
  ): Promise<UserRow> {
    const clientIp = typeof client === 'string' ? client : client.ip;
    if (!this.deps.config.registrationOpen) throw ERRORS.registrationClosed();
    const rules = this.deps.config.rateLimits;
    await this.limit([
      [`register:ip:${clientIp}`, rules.registerPerIp],
      [`register:account:${accountKey(input.email)}`, rules.loginPerAccount],
    ]);
    const passwordHash = await this.deps.passwords.hash(input.password);
    const user = await this.deps.users.create({ email: input.email, passwordHash, fullName: input.fullName });
    await this.deps.verification?.queueVerification(user.id, user.email);
    return user;
  }

  /** Checks a password and opens a new session (a new refresh-token family). */
  async login(input: { email: string; password: string }, client: ClientInfo | string): Promise<SignInOutcome> {
    const info: ClientInfo = typeof client === 'string' ? { ip: client, userAgent: null } : client;
    const rules = this.deps.config.rateLimits;
    await this.limit([
      [`login:ip:${info.ip}`, rules.loginPerIp],
      [`login:account:${accountKey(input.email)}`, rules.loginPerAccount],
    ]);
    const user = await this.deps.users.findByEmail(input.email);
    // Unknown email and wrong password cost the same argon2 time and get the same answer;
    // so does a deactivated account, which must not be told apart by a guesser.
    // An account made by a provider sign-in has no password yet: it answers like a wrong one.
    const passwordOk = user?.passwordHash
      ? await this.deps.passwords.verify(user.passwordHash, input.password)
      : await this.deps.passwords.verifyAgainstDummy(input.password);
    if (!user || !passwordOk || !user.isActive) {
      await this.deps.audit.record({
        action: 'sign_in.failed',
        targetUserId: user?.id ?? null,
        ip: info.ip,
        details: {
          email: normalizeEmail(input.email).slice(0, 254),
          reason: !user ? 'unknown_account' : !passwordOk ? 'wrong_password' : 'account_disabled',
        },
      });
      throw ERRORS.invalidCredentials();
    }
    return this.afterFirstFactor(user, info, 'password');
  }

  /**
   * Every sign-in whose first factor is proven (a password; an identity provider too) goes
   * through here: with two-factor on, a challenge instead of a session.
   */
  async afterFirstFactor(user: UserRow, client: ClientInfo, method: string): Promise<SignInOutcome> {
    if (await this.deps.twoFactor.isEnabled(user.id)) {
      const challenge = await this.deps.twoFactor.openChallenge(user.id, method);
      await this.deps.audit.record({
        action: 'sign_in.challenged',
        targetUserId: user.id,
        ip: client.ip,
        details: { method },
      });
      return { kind: 'challenge', challengeToken: challenge.token, expiresInSeconds: challenge.expiresInSeconds };
    }
    return { kind: 'session', session: await this.issueSignIn(user, client, { method }) };
  }

  /** Completes a challenge with a code of the authenticator app or a recovery code. */
  async completeTwoFactor(challengeToken: string, code: string, client: ClientInfo): Promise<IssuedSession> {
    const proven = await this.deps.twoFactor.completeChallenge(challengeToken, code, client);
    const user = await this.deps.users.findById(proven.userId);
    // Deactivated between the password and the code: the same answer as a wrong password.
    if (!user || !user.isActive) throw ERRORS.invalidCredentials();
    return this.issueSignIn(user, client, { method: proven.method, secondFactor: proven.secondFactor });
  }

  /**
   * The one step that turns a proven identity (every factor it needs) into a session, and
   * records the sign-in.
   */
  async issueSignIn(user: UserRow, client: ClientInfo, proof: { method: string; secondFactor?: string }): Promise<IssuedSession> {
    const session = await this.openSession(user, client);
    await this.deps.audit.record({
      action: 'sign_in.succeeded',
      actorId: user.id,
      targetUserId: user.id,
      ip: client.ip,
      details: { method: proof.method, second_factor: proof.secondFactor ?? null, session_id: session.sessionId },
    });
    return session;
  }

  /** A new session, without an audit entry: sign-ins go through `issueSignIn`. */
  async openSession(user: UserRow, client: ClientInfo): Promise<IssuedSession> {
    this.logins += 1;
    const now = this.now();
    if (this.logins % SESSION_SWEEP_EVERY === 0) {
      // No token of an expired session can verify any more, so its rows are dead weight.
      await this.deps.db.delete(authSessions).where(lt(authSessions.expiresAt, new Date(now)));
    }
    const sessionId = randomUUID();
    await this.deps.db.insert(authSessions).values({
      id: sessionId,
      userId: user.id,
      createdAt: new Date(now),
      lastUsedAt: new Date(now),
      expiresAt: new Date(now + this.deps.config.refreshTokenTtlSeconds * 1000),
      userAgent: client.userAgent?.slice(0, USER_AGENT_MAX) ?? null,
      ip: client.ip,
    });
    const successor = newSuccessor(now);
    await this.recordRefreshToken(sessionId, successor);
    return this.sign(user, sessionId, successor);
  }

  /**
   * Spends a refresh token and hands out a new pair. A token already spent means two parties
   * hold it (one of them a thief): the whole family is revoked and `token_reused` answered —
   * unless the same client spent it within the grace period (two tabs refreshing at once),
   * which gets the very pair the first refresh handed out.
   */
  async refresh(refreshToken: string, client?: ClientInfo): Promise<IssuedSession> {
    const claims = await this.deps.tokens.verify(refreshToken, 'refresh');
    const { db } = this.deps;
    const now = this.now();
    const spentBy = clientFingerprint(client);
    // Decided before spending and written in the same statement, so that a racing second
    // refresh finds the successor the moment it finds the token spent.
    const fresh = newSuccessor(now);
    const spent = await db
      .update(refreshTokens)
      .set({
        usedAt: new Date(now),
        successorRefreshJti: fresh.refreshJti,
        successorAccessJti: fresh.accessJti,
        successorIssuedAt: fresh.issuedAtSeconds,
        spentBy,
      })
      .where(and(eq(refreshTokens.jti, claims.jti), eq(refreshTokens.sessionId, claims.sid), isNull(refreshTokens.usedAt)))
      .returning({ jti: refreshTokens.jti });
    let successor = fresh;
    const won = spent.length === 1;
    if (!won) {
      const [known] = await db
        .select()
        .from(refreshTokens)
        .where(and(eq(refreshTokens.jti, claims.jti), eq(refreshTokens.sessionId, claims.sid)))
        .limit(1);
      if (!known) throw ERRORS.invalidToken();
      const graceMs = this.deps.config.refreshReuseGraceSeconds * 1000;
      const repeat =
        known.usedAt !== null &&
        now - known.usedAt.getTime() <= graceMs &&
        known.spentBy === spentBy &&
        known.successorRefreshJti !== null &&
        known.successorAccessJti !== null &&
        known.successorIssuedAt !== null;
      if (!repeat) {
        await revokeSession(db, claims.sid);
        await this.deps.audit.record({
          action: 'session.token_reused',
          targetUserId: claims.sub,
          ip: client?.ip ?? null,
          details: { session_id: claims.sid },
        });
        throw ERRORS.tokenReused();
      }
      successor = {
        refreshJti: known.successorRefreshJti!,
        accessJti: known.successorAccessJti!,
        issuedAtSeconds: known.successorIssuedAt!,
      };
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
    if (won) {
      await db
        .update(authSessions)
        .set({ expiresAt: new Date(now + this.deps.config.refreshTokenTtlSeconds * 1000), lastUsedAt: new Date(now) })
        .where(eq(authSessions.id, claims.sid));
      await this.recordRefreshToken(claims.sid, successor);
    }
    return this.sign(user, claims.sid, successor);
  }

  /** Ends the session of the access token used, and that token itself at once. */
  async logout(
    caller: { id: string; session: { id: string; tokenId: string; tokenExpiresAt: Date } | null },
    clientIp: string | null = null,
  ): Promise<void> {
    const { session } = caller;
    if (!session) return;
    await Promise.all([
      this.deps.revocations.revoke(session.tokenId, session.tokenExpiresAt),
      revokeSession(this.deps.db, session.id),
    ]);
    await this.deps.audit.record({
      action: 'session.signed_out',
      actorId: caller.id,
      targetUserId: caller.id,
      ip: clientIp,
      details: { session_id: session.id },
    });
  }

  /** Changes the password and ends every other session, so a stolen session dies with the old password. */
  async changePassword(
    userId: string,
    currentSessionId: string | null,
    input: { currentPassword: string; newPassword: string },
    clientIp: string | null = null,
  ): Promise<void> {
    const user = await this.deps.users.get(userId);
    if (!user.passwordHash || !(await this.deps.passwords.verify(user.passwordHash, input.currentPassword))) {
      throw ERRORS.invalidCurrentPassword();
    }
    await this.deps.users.setPasswordHash(userId, await this.deps.passwords.hash(input.newPassword));
    await revokeUserSessions(this.deps.db, userId, currentSessionId ?? undefined);
    await this.deps.audit.record({ action: 'password.changed', actorId: userId, targetUserId: userId, ip: clientIp });
  }

  /**
   * An administrator changes a role or deactivates an account. Deactivation also ends every
   * session, so reactivating later does not bring old tokens back to life.
   */
  async adminUpdateUser(
    actorId: string,
    userId: string,
    patch: { role?: UserRole; isActive?: boolean },
    clientIp: string | null = null,
  ): Promise<UserRow> {
    if (actorId === userId && (patch.role === 'user' || patch.isActive === false)) {
      // Guards against the last administrator locking everyone out by mistake.
      throw ERRORS.conflict('Administrators cannot demote or deactivate themselves; ask another administrator.');
    }
    const before = await this.deps.users.get(userId);
    const row = await this.deps.users.update(userId, patch);
    if (patch.isActive === false) await revokeUserSessions(this.deps.db, userId);
    const common = { actorId, targetUserId: userId, ip: clientIp };
    if (patch.role !== undefined && patch.role !== before.role) {
      await this.deps.audit.record({ action: 'user.role_changed', ...common, details: { from: before.role, to: patch.role } });
    }
    if (patch.isActive !== undefined && patch.isActive !== before.isActive) {
      await this.deps.audit.record({ action: patch.isActive ? 'user.activated' : 'user.deactivated', ...common });
    }
    return row;
  }

  private async recordRefreshToken(sessionId: string, successor: Successor): Promise<void> {
    const expiresAt = new Date((successor.issuedAtSeconds + this.deps.config.refreshTokenTtlSeconds) * 1000);
    await this.deps.db
      .insert(refreshTokens)
      .values({ jti: successor.refreshJti, sessionId, issuedAt: new Date(successor.issuedAtSeconds * 1000), expiresAt })
      .onConflictDoNothing();
  }

  /** Same ids and issue time → byte-identical tokens (Ed25519 signs deterministically). */
  private async sign(user: UserRow, sessionId: string, successor: Successor): Promise<IssuedSession> {
    const { config, tokens } = this.deps;
    const [access, refresh] = await Promise.all([
      tokens.sign({
        type: 'access',
        sub: user.id,
        sid: sessionId,
        jti: successor.accessJti,
        issuedAtSeconds: successor.issuedAtSeconds,
        lifetimeSeconds: config.accessTokenTtlSeconds,
      }),
      tokens.sign({
        type: 'refresh',
        sub: user.id,
        sid: sessionId,
        jti: successor.refreshJti,
        issuedAtSeconds: successor.issuedAtSeconds,
        lifetimeSeconds: config.refreshTokenTtlSeconds,
      }),
    ]);
    return {
      user,
      sessionId,
      accessToken: access.token,
      refreshToken: refresh.token,
      csrfToken: randomBytes(32).toString('base64url'),
      accessExpiresInSeconds: config.accessTokenTtlSeconds,
      refreshExpiresInSeconds: config.refreshTokenTtlSeconds,
    };
  }

  /** Consumes every bucket (so each counts the attempt) and refuses if any is over its limit. */
  private async limit(buckets: [string, RateLimitRule][]): Promise<void> {
    await consumeLimits(this.deps.rateLimiter, buckets);
  }
}

interface Successor {
  refreshJti: string;
  accessJti: string;
  issuedAtSeconds: number;
}

function newSuccessor(now: number): Successor {
  return { refreshJti: randomUUID(), accessJti: randomUUID(), issuedAtSeconds: Math.floor(now / 1000) };
}

/** "The same client": same address and same User-Agent, kept as a digest. */
function clientFingerprint(client: ClientInfo | undefined): string {
  return createHash('sha256')
    .update(`${client?.ip ?? ''}\0${client?.userAgent ?? ''}`)
    .digest('base64url')
    .slice(0, 32);
}
