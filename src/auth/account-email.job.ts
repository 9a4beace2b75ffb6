import { Type } from '../vendor/typebox.ts';
import type { Db } from '../db/database.ts';
import { defineJob, PermanentJobError } from '../jobs/job-definition.ts';
import type { JobRegistry } from '../jobs/job-registry.ts';
import { sendPlainMail } from '../notifications/mailer.ts';
import { UserService } from '../users/user.service.ts';
import { createAccountToken } from './account-tokens.ts';

/**
 * The payload names an address or an account, never a token: the token is created by the
 * handler and exists in plaintext only inside the mail, so the jobs table holds no secret.
 */
const AccountEmailPayload = Type.Union([
  Type.Object({ kind: Type.Literal('password_reset'), email: Type.String({ maxLength: 254 }) }),
  Type.Object({
    kind: Type.Literal('email_verification'),
    user_id: Type.String({ format: 'uuid' }),
    email: Type.String({ maxLength: 254 }),
  }),
]);

type AccountEmailResult = { message_id: string | null; skipped?: string };

/** Password-reset and verification links. */
export const accountEmailJob = defineJob<typeof AccountEmailPayload, AccountEmailResult>({
  name: 'auth.account_email',
  queue: 'notifications',
  version: 1,
  payload: AccountEmailPayload,
  // A link that arrives an hour late is of no use: a few quick retries only.
  retry: { maxAttempts: 4, backoffMs: 10_000, maxBackoffMs: 60_000, jitter: 0.5 },
  softTimeLimitMs: 60_000,
});

/** Plain data (copied into worker threads): where links point and how long they live. */
export interface AccountEmailSettings {
  smtpUrl: string | undefined;
  from: string;
  publicUrl: string;
  passwordResetTtlSeconds: number;
  verificationTtlSeconds: number;
}

export function registerAccountEmailJobs(
  registry: JobRegistry,
  deps: { db: Db; settings: AccountEmailSettings; now?: () => number },
): void {
  registry.register(accountEmailJob, (payload) => sendAccountEmail(deps, payload));
}

async function sendAccountEmail(
  { db, settings, now = Date.now }: { db: Db; settings: AccountEmailSettings; now?: () => number },
  payload: { kind: 'password_reset'; email: string } | { kind: 'email_verification'; user_id: string; email: string },
): Promise<AccountEmailResult> {
  const { smtpUrl } = settings;
  if (!smtpUrl) throw new PermanentJobError('E-mail is not configured on this worker (SMTP_URL).');
  const users = new UserService(db);
  if (payload.kind === 'password_reset') {
    // Whether the account exists is decided here, off the request path, so that the answer
    // to `POST /auth/password-reset` cannot tell.
    const user = await users.findByEmail(payload.email);
    if (!user || !user.isActive) return { message_id: null, skipped: 'no active account has this address' };
    const minutes = Math.round(settings.passwordResetTtlSeconds / 60);
    const token = await createAccountToken(db, {
      purpose: 'password_reset',
      userId: user.id,
      email: user.email,
      ttlSeconds: settings.passwordResetTtlSeconds,
      now: now(),
    });
    const messageId = await sendPlainMail(smtpUrl, {
      from: settings.from,
      to: user.email,
      subject: 'Reset your Intake password',
      text: [
        'Someone (hopefully you) asked to reset the password of your Intake account.',
        '',
        `Choose a new password here within ${minutes} minutes; the link works once:`,
        `${settings.publicUrl}/reset-password#token=${token}`,
        '',
        'Or from a terminal:',
        `curl -X POST ${settings.publicUrl}/api/v1/auth/password-reset/confirm -H 'content-type: application/json' -d '{"token":"${token}","new_password":"…"}'`,
        '',
        'If you did not ask for this, ignore this mail: your password stays as it is.',
      ].join('\n'),
    });
    return { message_id: messageId };
  }
  const user = await users.findById(payload.user_id);
  if (!user || !user.isActive) return { message_id: null, skipped: 'the account no longer exists or is disabled' };
  // The address to prove is the current one (not yet verified) or the one asked for in a change.
  const stillWanted = user.pendingEmail === payload.email || (user.email === payload.email && !user.emailVerifiedAt);
  if (!stillWanted) return { message_id: null, skipped: 'the address is verified already or no longer wanted' };
  const token = await createAccountToken(db, {
    purpose: 'email_verification',
    userId: user.id,
    email: payload.email,
    ttlSeconds: settings.verificationTtlSeconds,
    now: now(),
  });
  const messageId = await sendPlainMail(smtpUrl, {
    from: settings.from,
    to: payload.email,
    subject: 'Confirm your e-mail address for Intake',
    text: [
      `Confirm that ${payload.email} is your address for Intake:`,
      `${settings.publicUrl}/verify-email#token=${token}`,
      '',
      'Or from a terminal:',
      `curl -X POST ${settings.publicUrl}/api/v1/auth/verify-email -H 'content-type: application/json' -d '{"token":"${token}"}'`,
      '',
      'If you did not sign up or ask for this change, ignore this mail.',
    ].join('\n'),
  });
  return { message_id: messageId };
}
