import { randomBytes, randomInt } from 'node:crypto';
import { and, count, eq, isNull, lt, or } from 'drizzle-orm';
import type { AuditRecorder } from '../audit/audit.service.ts';
import type { AuthConfig } from '../config/config.ts';
import type { Db } from '../db/database.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { RateLimiter } from '../rate-limit/rate-limiter.ts';
import type { UserService } from '../users/user.service.ts';
import { accountTokenHash } from './account-tokens.ts';
import { consumeLimits, type ClientInfo } from './sign-in-limits.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { generateTotpSecret, matchTotp, otpauthUri, base32 } from './totp.ts';
import { twoFactorChallenges, twoFactorCredentials, twoFactorRecoveryCodes } from './two-factor.schema.ts';

/** Encrypts secrets at rest; the composition root hands in one keyed for two-factor secrets. */
export interface SecretSealer {
  seal(plaintext: string): string;
  open(sealed: string): string;
}

export interface TwoFactorDependencies {
  db: Db;
  users: UserService;
  passwords: PasswordHasher;
  rateLimiter: RateLimiter;
  config: AuthConfig;
  audit: AuditRecorder;
  sealer: () => Promise<SecretSealer>;
  now?: () => number;
}

export interface TwoFactorStatus {
  enabled: boolean;
  enabledAt: Date | null;
  recoveryCodesLeft: number;
}

export interface Enrolment {
  /** The secret in base32, for typing into an app that cannot scan. */
  secret: string;
  otpauthUri: string;
  qrSvg: string;
}

/** What completing a challenge proved, for the session that follows. */
export interface CompletedChallenge {
  userId: string;
  /** The first factor the challenge followed (`password`). */
  method: string;
  secondFactor: SecondFactorKind;
}

export type SecondFactorKind = 'totp' | 'recovery_code';

const RECOVERY_CODE_COUNT = 10;
/** No 0/o, 1/l/i: codes are read off paper. 10 characters of 31 carry about 50 bits. */
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const RECOVERY_CODE_LENGTH = 10;

/** Enrolment, recovery codes, disabling, and the challenge that completes a sign-in. Knows nothing of HTTP. */
export class TwoFactorService {
  private readonly now: () => number;

  constructor(private readonly deps: TwoFactorDependencies) {
    this.now = deps.now ?? Date.now;
  }

  async status(userId: string): Promise<TwoFactorStatus> {
    const credential = await this.credential(userId);
    const enabledAt = credential?.enabledAt ?? null;
    if (!enabledAt) return { enabled: false, enabledAt: null, recoveryCodesLeft: 0 };
    const [left] = await this.deps.db
      .select({ total: count() })
      .from(twoFactorRecoveryCodes)
      .where(and(eq(twoFactorRecoveryCodes.userId, userId), isNull(twoFactorRecoveryCodes.usedAt)));
    return { enabled: true, enabledAt, recoveryCodesLeft: left?.total ?? 0 };
  }

  async isEnabled(userId: string): Promise<boolean> {
    return (await this.credential(userId))?.enabledAt != null;
  }

  /** A new secret, pending until a first code confirms it; an earlier unconfirmed one is replaced. */
  async startEnrolment(userId: string, clientIp: string): Promise<Enrolment> {
    const existing = await this.credential(userId);
    if (existing?.enabledAt) throw ERRORS.twoFactorAlreadyEnabled();
    const user = await this.deps.users.get(userId);
    const secret = generateTotpSecret();
    const secretSealed = (await this.deps.sealer()).seal(secret.toString('base64url'));
    const createdAt = new Date(this.now());
    await this.deps.db
      .insert(twoFactorCredentials)
      .values({ userId, secretSealed, createdAt })
      .onConflictDoUpdate({ target: twoFactorCredentials.userId, set: { secretSealed, createdAt, lastUsedStep: null } });
    await this.deps.audit.record({ action: 'two_factor.enrolment_started', actorId: userId, targetUserId: userId, ip: clientIp });
    const uri = otpauthUri(secret, this.deps.config.twoFactorIssuer, user.email);
    return {
      secret: base32(secret),
      otpauthUri: uri,
      qrSvg: await (await import('qrcode')).default.toString(uri, { type: 'svg', margin: 2 }),
    };
  }

  /** Turns two-factor on with a first code from the app, and hands out the recovery codes (once). */
  async confirmEnrolment(userId: string, code: string, clientIp: string): Promise<string[]> {
    await this.limitCodes(userId, clientIp);
    const credential = await this.credential(userId);
    if (!credential) throw ERRORS.twoFactorNotEnrolled('Start an enrolment first (POST /users/me/two-factor).');
    if (credential.enabledAt) throw ERRORS.twoFactorAlreadyEnabled();
    if (!(await this.acceptTotp(userId, code))) throw ERRORS.twoFactorCodeWrong();
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    await this.deps.db.transaction(async (tx) => {
      await tx
        .update(twoFactorCredentials)
        .set({ enabledAt: new Date(this.now()) })
        .where(eq(twoFactorCredentials.userId, userId));
      await tx.delete(twoFactorRecoveryCodes).where(eq(twoFactorRecoveryCodes.userId, userId));
      await tx.insert(twoFactorRecoveryCodes).values(codes.map((plain) => ({ userId, codeHash: recoveryCodeHash(plain) })));
    });
    await this.deps.audit.record({ action: 'two_factor.enabled', actorId: userId, targetUserId: userId, ip: clientIp });
    return codes;
  }

  /** Turns two-factor off: the password and a current code (or a recovery code, for a lost phone). */
  async disable(userId: string, input: { password: string; code: string }, clientIp: string): Promise<void> {
    await this.limitCodes(userId, clientIp);
    const user = await this.deps.users.get(userId);
    // An account a provider made has no password: nothing can prove it, so it cannot turn two-factor off here.
    if (user.passwordHash === null || !(await this.deps.passwords.verify(user.passwordHash, input.password)))
      throw ERRORS.invalidCurrentPassword();
    if (!(await this.isEnabled(userId))) throw ERRORS.twoFactorNotEnrolled('Two-factor authentication is not on.');
    if (!(await this.acceptCode(userId, input.code))) throw ERRORS.twoFactorCodeWrong();
    await this.deps.db.transaction(async (tx) => {
      await tx.delete(twoFactorRecoveryCodes).where(eq(twoFactorRecoveryCodes.userId, userId));
      await tx.delete(twoFactorCredentials).where(eq(twoFactorCredentials.userId, userId));
    });
    await this.deps.audit.record({ action: 'two_factor.disabled', actorId: userId, targetUserId: userId, ip: clientIp });
  }

  /** Opens the step between a proven first factor and the session; the token goes to the client. */
  async openChallenge(userId: string, method: string): Promise<{ token: string; expiresInSeconds: number }> {
    const now = this.now();
    const ttl = this.deps.config.twoFactorChallengeTtlSeconds;
    // Challenges past their expiry are of no use to anyone: each new one clears the account's.
    await this.deps.db
      .delete(twoFactorChallenges)
      .where(and(eq(twoFactorChallenges.userId, userId), lt(twoFactorChallenges.expiresAt, new Date(now))));
    const token = randomBytes(32).toString('base64url');
    await this.deps.db.insert(twoFactorChallenges).values({
      tokenHash: accountTokenHash(token),
      userId,
      method,
      createdAt: new Date(now),
      expiresAt: new Date(now + ttl * 1000),
    });
    return { token, expiresInSeconds: ttl };
  }

  /**
   * Checks the code (or a recovery code) against an open challenge and spends the challenge.
   * A wrong code leaves the challenge open for another try, within the rate limit.
   */
  async completeChallenge(token: string, code: string, client: ClientInfo): Promise<CompletedChallenge> {
    const now = this.now();
    const tokenHash = accountTokenHash(token);
    const [challenge] = await this.deps.db
      .select()
      .from(twoFactorChallenges)
      .where(eq(twoFactorChallenges.tokenHash, tokenHash))
      .limit(1);
    if (!challenge || challenge.usedAt || challenge.expiresAt.getTime() <= now) {
      if (challenge) await this.auditFailure(challenge.userId, client, challenge.usedAt ? 'challenge_used' : 'challenge_expired');
      throw ERRORS.twoFactorChallengeInvalid();
    }
    await this.limitCodes(challenge.userId, client.ip);
    const secondFactor = await this.acceptCode(challenge.userId, code);
    if (!secondFactor) {
      await this.auditFailure(challenge.userId, client, 'wrong_two_factor_code');
      throw ERRORS.invalidTwoFactorCode();
    }
    const spent = await this.deps.db
      .update(twoFactorChallenges)
      .set({ usedAt: new Date(now) })
      .where(and(eq(twoFactorChallenges.tokenHash, tokenHash), isNull(twoFactorChallenges.usedAt)))
      .returning({ userId: twoFactorChallenges.userId });
    if (spent.length === 0) throw ERRORS.twoFactorChallengeInvalid();
    if (secondFactor === 'recovery_code') {
      await this.deps.audit.record({
        action: 'two_factor.recovery_code_used',
        actorId: challenge.userId,
        targetUserId: challenge.userId,
        ip: client.ip,
      });
    }
    return { userId: challenge.userId, method: challenge.method, secondFactor };
  }

  /** A code of the app or, failing that, an unused recovery code. */
  private async acceptCode(userId: string, code: string): Promise<SecondFactorKind | undefined> {
    if (await this.acceptTotp(userId, code)) return 'totp';
    const normalized = code.toLowerCase().replace(/[\s-]/g, '');
    if (normalized.length !== RECOVERY_CODE_LENGTH) return undefined;
    const spent = await this.deps.db
      .update(twoFactorRecoveryCodes)
      .set({ usedAt: new Date(this.now()) })
      .where(
        and(
          eq(twoFactorRecoveryCodes.codeHash, accountTokenHash(normalized)),
          eq(twoFactorRecoveryCodes.userId, userId),
          isNull(twoFactorRecoveryCodes.usedAt),
        ),
      )
      .returning({ codeHash: twoFactorRecoveryCodes.codeHash });
    return spent.length === 1 ? 'recovery_code' : undefined;
  }

  /**
   * Accepts a code of a step later than the last one accepted, and moves the mark in the same
   * conditional update: of two requests racing with one code, only one gets it.
   */
  private async acceptTotp(userId: string, code: string): Promise<boolean> {
    const credential = await this.credential(userId);
    if (!credential) return false;
    let secret: Buffer;
    try {
      secret = Buffer.from((await this.deps.sealer()).open(credential.secretSealed), 'base64url');
    } catch {
      // Sealed under another key (WEBHOOK_SECRET_KEY changed): no app code can match, a recovery code still can.
      return false;
    }
    const step = matchTotp(secret, code.replace(/\s/g, ''), this.now(), credential.lastUsedStep);
    if (step === undefined) return false;
    const moved = await this.deps.db
      .update(twoFactorCredentials)
      .set({ lastUsedStep: step })
      .where(
        and(
          eq(twoFactorCredentials.userId, userId),
          or(isNull(twoFactorCredentials.lastUsedStep), lt(twoFactorCredentials.lastUsedStep, step)),
        ),
      )
      .returning({ userId: twoFactorCredentials.userId });
    return moved.length === 1;
  }

  private async credential(userId: string) {
    const [row] = await this.deps.db.select().from(twoFactorCredentials).where(eq(twoFactorCredentials.userId, userId)).limit(1);
    return row;
  }

  /** Six digits are guessable without a limit: every code tried counts, per account and per address. */
  private async limitCodes(userId: string, clientIp: string): Promise<void> {
    const rules = this.deps.config.rateLimits;
    await consumeLimits(this.deps.rateLimiter, [
      [`two-factor:account:${userId}`, rules.twoFactorPerAccount],
      [`two-factor:ip:${clientIp}`, rules.loginPerIp],
    ]);
  }

  private async auditFailure(userId: string, client: ClientInfo, reason: string): Promise<void> {
    await this.deps.audit.record({ action: 'sign_in.failed', targetUserId: userId, ip: client.ip, details: { reason } });
  }
}

function newRecoveryCode(): string {
  let code = '';
  for (let index = 0; index < RECOVERY_CODE_LENGTH; index += 1) code += RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)];
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

function recoveryCodeHash(code: string): string {
  return accountTokenHash(code.replace('-', ''));
}
