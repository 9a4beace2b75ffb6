import { Type } from '../vendor/typebox.ts';
import { AUTH_SECURITY, requireUser } from '../http/caller.ts';
import type { App } from '../http/app-types.ts';
import { Nullable, Text } from '../http/schema-types.ts';
import type { TwoFactorService } from './two-factor.service.ts';

export interface TwoFactorRoutesOptions {
  twoFactor: TwoFactorService;
  /** REQUIRE_2FA_FOR_ADMINS, shown to the account it applies to. */
  requiredForAdmins: boolean;
}

const Code = Text({ minLength: 6, maxLength: 32, description: 'A 6-digit code of the authenticator app.' });

const TwoFactorStatusResponse = Type.Object({
  enabled: Type.Boolean(),
  enabled_at: Nullable(Type.String({ format: 'date-time' })),
  recovery_codes_left: Type.Integer({ description: 'Recovery codes not used yet.' }),
  required: Type.Boolean({
    description: 'Whether this server requires two-factor for this account (administrators, REQUIRE_2FA_FOR_ADMINS).',
  }),
});

const EnrolmentResponse = Type.Object({
  otpauth_uri: Type.String({ description: 'The `otpauth://totp/…` URI authenticator apps read.' }),
  qr_svg: Type.String({ description: 'The same URI as a QR code, an SVG document.' }),
  secret: Type.String({ description: 'The secret in base32, for apps that cannot scan.' }),
});

const RecoveryCodesResponse = Type.Object({
  recovery_codes: Type.Array(Type.String(), {
    description: 'Ten one-time codes, each completing one sign-in without the app. Shown this once: only digests are kept.',
  }),
});

export async function twoFactorRoutes(app: App, options: TwoFactorRoutesOptions): Promise<void> {
  const { twoFactor, requiredForAdmins } = options;

  app.get(
    '/users/me/two-factor',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'Whether two-factor authentication is on for my account, and how many recovery codes are left.',
        security: AUTH_SECURITY,
        response: { 200: TwoFactorStatusResponse },
      },
    },
    async (request) => {
      const caller = requireUser(request);
      const status = await twoFactor.status(caller.id);
      return {
        enabled: status.enabled,
        enabled_at: status.enabledAt?.toISOString() ?? null,
        recovery_codes_left: status.recoveryCodesLeft,
        required: requiredForAdmins && (caller.role === 'admin' || caller.adminWithoutTwoFactor === true),
      };
    },
  );

  app.post(
    '/users/me/two-factor',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'Starts enrolling an authenticator app: a new secret as an `otpauth://` URI and a QR code (SVG).',
        description:
          'Nothing changes at sign-in until POST /users/me/two-factor/confirm proves the app with a first code. Starting again before that replaces the secret. 409 `two_factor_already_enabled` when it is on.',
        security: AUTH_SECURITY,
        response: { 201: EnrolmentResponse },
      },
    },
    async (request, reply) => {
      const enrolment = await twoFactor.startEnrolment(requireUser(request).id, request.ip);
      reply.header('Cache-Control', 'no-store');
      return reply.code(201).send({ otpauth_uri: enrolment.otpauthUri, qr_svg: enrolment.qrSvg, secret: enrolment.secret });
    },
  );

  app.post(
    '/users/me/two-factor/confirm',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'Turns two-factor on with a first code of the app, and returns ten recovery codes (shown this once).',
        description: '400 `two_factor_code_wrong` for a wrong code; codes are rate-limited per account.',
        security: AUTH_SECURITY,
        body: Type.Object({ code: Code }),
        response: { 200: RecoveryCodesResponse },
      },
    },
    async (request, reply) => {
      const codes = await twoFactor.confirmEnrolment(requireUser(request).id, request.body.code, request.ip);
      reply.header('Cache-Control', 'no-store');
      return { recovery_codes: codes };
    },
  );

  app.post(
    '/users/me/two-factor/disable',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'Turns two-factor off: needs the password and a current code (or a recovery code).',
        description:
          '400 `invalid_current_password` or `two_factor_code_wrong`; 409 `two_factor_not_enrolled` when it is off. The recovery codes are deleted.',
        security: AUTH_SECURITY,
        body: Type.Object({
          password: Type.String({ minLength: 1, maxLength: 128 }),
          code: Text({ minLength: 6, maxLength: 32, description: 'A code of the app, or a recovery code.' }),
        }),
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await twoFactor.disable(requireUser(request).id, { password: request.body.password, code: request.body.code }, request.ip);
      return reply.code(204).send(null);
    },
  );
}
