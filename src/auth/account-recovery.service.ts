import type { AuditRecorder } from '../audit/audit.service.ts';
import type { AuthConfig } from '../config/config.ts';
import type { Db } from '../db/database.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import type { RateLimiter } from '../rate-limit/rate-limiter.ts';
import { normalizeEmail, type UserService } from '../users/user.service.ts';
import { accountEmailJob } from './account-email.job.ts';
import { consumeAccountToken, voidAccountTokens } from './account-tokens.ts';
import type { VerificationMailer } from './auth.service.ts';
import { accountKey, consumeLimits } from './sign-in-limits.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { revokeUserSessions } from './sessions.ts';

export interface AccountRecoveryDependencies {
  db: Db;
  users: UserService;
  passwords: PasswordHasher;
  queue: Pick<JobQueue, 'enqueue'>;
  rateLimiter: RateLimiter;
  config: AuthConfig;
  audit: AuditRecorder;
  /** False without SMTP_URL: every e-mail flow answers 501 `email_not_configured`. */
  emailEnabled: boolean;
  now?: () => number;
}

/** Password reset by e-mail, e-mail verification and e-mail change. Knows nothing of HTTP. */
export class AccountRecoveryService implements VerificationMailer {
  private readonly now: () => number;

  constructor(private readonly deps: AccountRecoveryDependencies) {
    this.now = deps.now ?? Date.now;
  }

  get verificationMode() {
    return this.deps.config.emailVerification;
  }

  /**
   * Always the same work whatever the address: count the attempt, queue one job. Whether an
   * account exists is looked up by the job, so neither the answer nor its timing can tell.
   */
  async requestPasswordReset(email: string, clientIp: string): Promise<void> {
    this.requireEmail();
    const rules = this.deps.config.rateLimits;
    await consumeLimits(this.deps.rateLimiter, [
      [`reset:ip:${clientIp}`, rules.passwordResetPerIp],
      [`reset:account:${accountKey(email)}`, rules.passwordResetPerEmail],
    ]);
    await this.deps.queue.enqueue(accountEmailJob, { kind: 'password_reset', email: normalizeEmail(email) });
    await this.deps.audit.record({ action: 'password.reset_requested', ip: clientIp });
  }

  /**
   * Sets a new password from a reset link, then ends every session of the account (API keys
   * stay valid: they are revoked one by one, by their owner). The link also proves the
   * address, so an unverified account becomes verified.
   */
  async confirmPasswordReset(token: string, newPassword: string, clientIp: string): Promise<void> {
    this.requireEmail();
    await consumeLimits(this.deps.rateLimiter, [
      [`reset-confirm:ip:${clientIp}`, this.deps.config.rateLimits.passwordResetPerIp],
    ]);
    const now = this.now();
    const spent = await consumeAccountToken(this.deps.db, 'password_reset', token, now);
    if (!spent) throw ERRORS.resetTokenInvalid();
    const user = await this.deps.users.findById(spent.userId);
    if (!user || !user.isActive) throw ERRORS.resetTokenInvalid();
    const passwordHash = await this.deps.passwords.hash(newPassword);
    await this.deps.users.setCredentials(
      user.id,
      { passwordHash, ...(user.email === spent.email && !user.emailVerifiedAt ? { emailVerifiedAt: new Date(now) } : {}) },
      new Date(now),
    );
    await voidAccountTokens(this.deps.db, user.id, 'password_reset', now);
    await revokeUserSessions(this.deps.db, user.id);
    await this.deps.audit.record({ action: 'password.reset', actorId: user.id, targetUserId: user.id, ip: clientIp });
  }

  /** `intake reset-password`: the operator sets a password (no e-mail needed), every session ends. */
  async operatorResetPassword(email: string, newPassword: string): Promise<string> {
    const user = await this.deps.users.findByEmail(email);
    if (!user) throw ERRORS.notFound('No account has this e-mail address.');
    await this.deps.users.setPasswordHash(user.id, await this.deps.passwords.hash(newPassword));
    await voidAccountTokens(this.deps.db, user.id, 'password_reset', this.now());
    await revokeUserSessions(this.deps.db, user.id);
    await this.deps.audit.record({ action: 'password.reset', targetUserId: user.id, details: { via: 'command_line' } });
    return user.id;
  }

  /** Queues a verification link (at registration, on resend, on an address change). */
  async queueVerification(userId: string, email: string): Promise<void> {
    if (this.deps.config.emailVerification === 'off' || !this.deps.emailEnabled) return;
    await this.deps.queue.enqueue(accountEmailJob, { kind: 'email_verification', user_id: userId, email });
  }

  async resendVerification(userId: string, clientIp: string): Promise<void> {
    this.requireVerification();
    await consumeLimits(this.deps.rateLimiter, [
      [`verify-resend:user:${userId}`, this.deps.config.rateLimits.passwordResetPerEmail],
      [`verify-resend:ip:${clientIp}`, this.deps.config.rateLimits.passwordResetPerIp],
    ]);
    const user = await this.deps.users.get(userId);
    if (user.pendingEmail) await this.queueVerification(user.id, user.pendingEmail);
    else if (!user.emailVerifiedAt) await this.queueVerification(user.id, user.email);
  }

  /**
   * Proves an address: the current one (it becomes verified) or a pending change (it replaces
   * the current one, unless another account took it meanwhile).
   */
  async verifyEmail(token: string, clientIp: string): Promise<void> {
    this.requireVerification();
    await consumeLimits(this.deps.rateLimiter, [[`verify:ip:${clientIp}`, this.deps.config.rateLimits.passwordResetPerIp]]);
    const now = this.now();
    const spent = await consumeAccountToken(this.deps.db, 'email_verification', token, now);
    if (!spent) throw ERRORS.verificationTokenInvalid();
    const user = await this.deps.users.findById(spent.userId);
    if (!user || !user.isActive) throw ERRORS.verificationTokenInvalid();
    if (user.email === spent.email) {
      await this.deps.users.setCredentials(user.id, { emailVerifiedAt: new Date(now) }, new Date(now));
    } else if (user.pendingEmail === spent.email) {
      if (await this.deps.users.findByEmail(spent.email)) throw ERRORS.emailTaken();
      await this.deps.users.setCredentials(
        user.id,
        { email: spent.email, pendingEmail: null, emailVerifiedAt: new Date(now) },
        new Date(now),
      );
    } else {
      throw ERRORS.verificationTokenInvalid();
    }
    await this.deps.audit.record({
      action: 'email.verified',
      actorId: user.id,
      targetUserId: user.id,
      ip: clientIp,
      details: { changed: user.email !== spent.email },
    });
  }

  /**
   * Asks to change the address: with verification on, the new one takes effect only once its
   * link is followed; with it off, at once.
   */
  async requestEmailChange(userId: string, newEmail: string, clientIp: string): Promise<void> {
    const email = normalizeEmail(newEmail);
    const existing = await this.deps.users.findByEmail(email);
    if (existing && existing.id !== userId) throw ERRORS.emailTaken();
    if (existing) return;
    const now = new Date(this.now());
    if (this.deps.config.emailVerification === 'off' || !this.deps.emailEnabled) {
      await this.deps.users.setCredentials(userId, { email, emailVerifiedAt: null }, now);
    } else {
      await this.deps.users.setCredentials(userId, { pendingEmail: email }, now);
      await this.queueVerification(userId, email);
    }
    await this.deps.audit.record({ action: 'email.change_requested', actorId: userId, targetUserId: userId, ip: clientIp });
  }

  private requireEmail(): void {
    if (!this.deps.emailEnabled) throw ERRORS.emailNotConfigured();
  }

  private requireVerification(): void {
    this.requireEmail();
  }
}
