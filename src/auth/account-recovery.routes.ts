import { Type } from '../vendor/typebox.ts';
import { AUTH_SECURITY, requireUser } from '../http/caller.ts';
import type { App } from '../http/app-types.ts';
import { Email, Password, toUserResponse, UserResponse } from '../users/user.contract.ts';
import type { UserService } from '../users/user.service.ts';
import type { AccountRecoveryService } from './account-recovery.service.ts';

export interface AccountRecoveryRoutesOptions {
  recovery: AccountRecoveryService;
  users: UserService;
}

/** Tokens are 32 random bytes in base64url (43 characters); anything far off is refused by the schema. */
const LinkToken = Type.String({ minLength: 20, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' });

const Accepted = Type.Object({ status: Type.Literal('accepted'), detail: Type.String() });

const RESET_ACCEPTED = {
  status: 'accepted' as const,
  detail: 'If an active account has this address, a link to choose a new password is on its way.',
};

export async function accountRecoveryRoutes(app: App, options: AccountRecoveryRoutesOptions): Promise<void> {
  const { recovery, users } = options;

  app.post(
    '/auth/password-reset',
    {
      schema: {
        tags: ['auth'],
        summary: 'Mails a single-use password-reset link. The same 202 whether or not the account exists.',
        description:
          'Rate-limited per address and per client IP (429 `rate_limited`). Without SMTP_URL: 501 `email_not_configured` (an operator can run `intake reset-password --email <address>`).',
        body: Type.Object({ email: Email }),
        response: { 202: Accepted },
      },
    },
    async (request, reply) => {
      await recovery.requestPasswordReset(request.body.email, request.ip);
      return reply.code(202).send(RESET_ACCEPTED);
    },
  );

  app.post(
    '/auth/password-reset/confirm',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sets a new password with the token of a reset link, and signs out every session of the account.',
        description:
          'API keys stay valid (revoke them under /api-keys). 400 `reset_token_invalid` for an unknown, expired or spent token.',
        body: Type.Object({ token: LinkToken, new_password: Password }),
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await recovery.confirmPasswordReset(request.body.token, request.body.new_password, request.ip);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/auth/verify-email',
    {
      schema: {
        tags: ['auth'],
        summary: 'Proves an e-mail address with the token of a verification link (also completes an address change).',
        body: Type.Object({ token: LinkToken }),
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await recovery.verifyEmail(request.body.token, request.ip);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/auth/verify-email/resend',
    {
      preHandler: app.authenticate,
      config: { allowUnverified: true },
      schema: {
        tags: ['auth'],
        summary: 'Sends the signed-in user a new verification link (for a pending address change, to that address).',
        security: AUTH_SECURITY,
        response: { 202: Accepted },
      },
    },
    async (request, reply) => {
      await recovery.resendVerification(requireUser(request).id, request.ip);
      return reply
        .code(202)
        .send({ status: 'accepted' as const, detail: 'A verification link is on its way, if one is needed.' });
    },
  );

  app.get(
    '/users/me/email-verification',
    {
      preHandler: app.authenticate,
      config: { allowUnverified: true },
      schema: {
        tags: ['users'],
        summary:
          'Whether this server verifies addresses (EMAIL_VERIFICATION) and where mine stands, for a "verify your e-mail" prompt.',
        security: AUTH_SECURITY,
        response: {
          200: Type.Object({
            mode: Type.Union([Type.Literal('off'), Type.Literal('optional'), Type.Literal('required')]),
            email_verified: Type.Boolean(),
            pending_email: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
    },
    async (request) => {
      const user = await users.get(requireUser(request).id);
      return { mode: recovery.verificationMode, email_verified: user.emailVerifiedAt !== null, pending_email: user.pendingEmail };
    },
  );

  app.put(
    '/users/me/email',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'Changes my e-mail address. With verification on, it becomes `pending_email` until its link is followed.',
        security: AUTH_SECURITY,
        body: Type.Object({ email: Email }),
        response: { 200: UserResponse },
      },
    },
    async (request) => {
      const caller = requireUser(request);
      await recovery.requestEmailChange(caller.id, request.body.email, request.ip);
      return toUserResponse(await users.get(caller.id));
    },
  );
}
