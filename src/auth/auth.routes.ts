import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '../vendor/typebox.ts';
import { Text } from '../http/schema-types.ts';
import type { AuthConfig } from '../config/config.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { App } from '../http/app-types.ts';
import { isCrossSiteRequest } from '../http/security.ts';
import { Email, FullName, Password, toUserResponse, UserResponse } from '../users/user.contract.ts';
import { AUTH_SECURITY, requireUser } from '../http/caller.ts';
import { checkCsrf } from './authenticate.ts';
import type { AuthService, IssuedSession, SignInOutcome } from './auth.service.ts';
import type { ClientInfo } from './sign-in-limits.ts';
import { clearSessionCookies, REFRESH_COOKIE, setSessionCookies } from './cookies.ts';

export interface AuthRoutesOptions {
  auth: AuthService;
  config: AuthConfig;
  /** Origins whose pages may sign in with cookies (login CSRF: see `refuseCrossSite`). */
  allowedOrigins: readonly string[];
}

const RegisterBody = Type.Object({ email: Email, password: Password, full_name: Type.Optional(FullName) });

// One schema for JSON ({email, password}) and HTML/OAuth2 forms (username, password).
const CredentialsBody = Type.Object({
  email: Type.Optional(Text({ maxLength: 254 })),
  username: Type.Optional(Text({ maxLength: 254 })),
  password: Type.String({ minLength: 1, maxLength: 128 }),
  grant_type: Type.Optional(Type.Literal('password')),
});

const CookieSessionResponse = Type.Object({
  user: UserResponse,
  /** The same value as the csrf_token cookie, for clients that cannot read cookies. */
  csrf_token: Type.String(),
  expires_in: Type.Integer({ description: 'Seconds the access cookie stays valid.' }),
});

const TokenResponse = Type.Object({
  access_token: Type.String(),
  refresh_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer(),
});

/** With two-factor on, a proven password answers this instead of a session (no cookies, no tokens). */
const TwoFactorChallengeResponse = Type.Object({
  two_factor_required: Type.Literal(true),
  challenge_token: Type.String({
    description: 'Send it with a code to /auth/login/two-factor (browsers) or /auth/token/two-factor (programs).',
  }),
  expires_in: Type.Integer({ description: 'Seconds the challenge stays open (TWO_FACTOR_CHALLENGE_TTL_SECONDS).' }),
});

const TwoFactorBody = Type.Object({
  challenge_token: Text({ minLength: 20, maxLength: 200 }),
  code: Text({
    minLength: 6,
    maxLength: 32,
    description: 'The 6-digit code of the authenticator app, or one of the recovery codes.',
  }),
});

const RefreshBody = Type.Union([Type.Object({ refresh_token: Type.Optional(Text({ maxLength: 4096 })) }), Type.Null()]);

const RefreshResponse = Type.Object({
  access_token: Type.Optional(Type.String()),
  refresh_token: Type.Optional(Type.String()),
  token_type: Type.Optional(Type.Literal('bearer')),
  csrf_token: Type.Optional(Type.String()),
  expires_in: Type.Integer(),
});

export async function authRoutes(app: App, options: AuthRoutesOptions): Promise<void> {
  const { auth, config } = options;

  // Login CSRF: a page on another site could sign the browser into the attacker's account
  // (and a refresh re-arms cookies), so the endpoints that set session cookies refuse it.
  const refuseCrossSite = async (request: FastifyRequest) => {
    if (isCrossSiteRequest(request.headers, options.allowedOrigins)) throw ERRORS.crossSiteRequest();
  };

  const cookieSession = (reply: FastifyReply, session: IssuedSession) => {
    setSessionCookies(
      reply,
      {
        accessToken: session.accessToken,
        refreshToken: session.refreshToken,
        csrfToken: session.csrfToken,
        accessMaxAgeSeconds: session.accessExpiresInSeconds,
        refreshMaxAgeSeconds: session.refreshExpiresInSeconds,
      },
      config.cookieSecure,
    );
    reply.header('Cache-Control', 'no-store');
  };

  app.post(
    '/auth/register',
    {
      schema: {
        tags: ['auth'],
        summary: 'Creates an account. 409 `email_taken` when the email exists; 403 when registration is closed.',
        body: RegisterBody,
        response: { 201: UserResponse },
      },
    },
    async (request, reply) => {
      const user = await auth.register(
        { email: request.body.email, password: request.body.password, fullName: request.body.full_name ?? null },
        clientOf(request),
      );
      return reply.code(201).send(toUserResponse(user));
    },
  );

  const cookieSignIn = (reply: FastifyReply, session: IssuedSession) => {
    cookieSession(reply, session);
    return { user: toUserResponse(session.user), csrf_token: session.csrfToken, expires_in: session.accessExpiresInSeconds };
  };

  app.post(
    '/auth/login',
    {
      preHandler: refuseCrossSite,
      schema: {
        tags: ['auth'],
        summary: 'Signs in a browser: sets the access_token, refresh_token and csrf_token cookies.',
        description:
          'JSON `{email, password}` or a form with `username` and `password`. Send the `csrf_token` value as `X-CSRF-Token` on every cookie-authenticated POST, PUT, PATCH and DELETE. With two-factor on for the account, no cookies yet: `{two_factor_required, challenge_token, expires_in}`, completed at POST /auth/login/two-factor.',
        body: CredentialsBody,
        response: { 200: Type.Union([CookieSessionResponse, TwoFactorChallengeResponse]) },
      },
    },
    async (request, reply) => {
      const outcome = await auth.login(credentialsOf(request.body), clientOf(request));
      if (outcome.kind === 'challenge') return challengeBody(reply, outcome);
      return cookieSignIn(reply, outcome.session);
    },
  );

  app.post(
    '/auth/login/two-factor',
    {
      preHandler: refuseCrossSite,
      schema: {
        tags: ['auth'],
        summary: 'Completes a browser sign-in with a two-factor code (or a recovery code): sets the same cookies as /auth/login.',
        description:
          'Codes are rate-limited per account (TWO_FACTOR_RATE_LIMIT_PER_ACCOUNT) and each is accepted once. 401 `invalid_two_factor_code` leaves the challenge open; 401 `two_factor_challenge_invalid` means sign in again.',
        body: TwoFactorBody,
        response: { 200: CookieSessionResponse },
      },
    },
    async (request, reply) => {
      const session = await auth.completeTwoFactor(request.body.challenge_token, request.body.code, clientOf(request));
      return cookieSignIn(reply, session);
    },
  );

  app.post(
    '/auth/token',
    {
      schema: {
        tags: ['auth'],
        summary: 'OAuth2 password grant for programs: returns a bearer access token and a refresh token. No cookies.',
        description:
          'With two-factor on for the account: `{two_factor_required, challenge_token, expires_in}` instead, completed at POST /auth/token/two-factor.',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: CredentialsBody,
        response: { 200: Type.Union([TokenResponse, TwoFactorChallengeResponse]) },
      },
    },
    async (request, reply) => {
      const outcome = await auth.login(credentialsOf(request.body), clientOf(request));
      if (outcome.kind === 'challenge') return challengeBody(reply, outcome);
      reply.header('Cache-Control', 'no-store');
      return tokenBody(outcome.session);
    },
  );

  app.post(
    '/auth/token/two-factor',
    {
      schema: {
        tags: ['auth'],
        summary:
          'Completes a password grant with a two-factor code (or a recovery code): returns the same tokens as /auth/token.',
        body: TwoFactorBody,
        response: { 200: TokenResponse },
      },
    },
    async (request, reply) => {
      const session = await auth.completeTwoFactor(request.body.challenge_token, request.body.code, clientOf(request));
      reply.header('Cache-Control', 'no-store');
      return tokenBody(session);
    },
  );

  app.post(
    '/auth/refresh',
    {
      preHandler: refuseCrossSite,
      schema: {
        tags: ['auth'],
        summary:
          'Rotates the refresh token: from `{refresh_token}` in the body (bearer clients) or the cookie (browsers, with X-CSRF-Token).',
        description:
          'Every refresh spends the token presented. Presenting a spent token again revokes its whole session and answers 401 `token_reused` — except for the same client (address and User-Agent) repeating the refresh within REFRESH_REUSE_GRACE_SECONDS (two tabs at once), which gets the same new pair again.',
        body: Type.Optional(RefreshBody),
        response: { 200: RefreshResponse },
      },
    },
    async (request, reply) => {
      const fromBody = request.body?.refresh_token;
      if (fromBody) {
        const session = await auth.refresh(fromBody, clientOf(request));
        reply.header('Cache-Control', 'no-store');
        return tokenBody(session);
      }
      const fromCookie = request.cookies[REFRESH_COOKIE];
      if (!fromCookie) throw ERRORS.unauthenticated('Send the refresh_token cookie or {"refresh_token": "..."} in the body.');
      // The refresh cookie is a credential the browser attaches by itself, so the same
      // double-submit check as any cookie-authenticated change applies.
      checkCsrf(request);
      const session = await auth.refresh(fromCookie, clientOf(request));
      cookieSession(reply, session);
      return { csrf_token: session.csrfToken, expires_in: session.accessExpiresInSeconds };
    },
  );

  app.post(
    '/auth/logout',
    {
      preHandler: app.authenticate,
      config: { allowUnverified: true },
      schema: {
        tags: ['auth'],
        summary: 'Revokes the access token used and its whole session, and clears the cookies.',
        security: AUTH_SECURITY,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const user = requireUser(request);
      await auth.logout(user, request.ip);
      clearSessionCookies(reply, config.cookieSecure);
      return reply.code(204).send(null);
    },
  );
}

/** The address and User-Agent kept with a session and in the audit log. */
export function clientOf(request: FastifyRequest): ClientInfo {
  const agent = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof agent === 'string' && agent !== '' ? agent : null };
}

function credentialsOf(body: { email?: string; username?: string; password: string }): { email: string; password: string } {
  const email = body.email ?? body.username;
  if (!email) throw ERRORS.validation([{ path: 'body.email', message: 'must have required property email (or username)' }]);
  return { email, password: body.password };
}

function challengeBody(reply: FastifyReply, challenge: Extract<SignInOutcome, { kind: 'challenge' }>) {
  reply.header('Cache-Control', 'no-store');
  return {
    two_factor_required: true as const,
    challenge_token: challenge.challengeToken,
    expires_in: challenge.expiresInSeconds,
  };
}

function tokenBody(session: IssuedSession) {
  return {
    access_token: session.accessToken,
    refresh_token: session.refreshToken,
    token_type: 'bearer' as const,
    expires_in: session.accessExpiresInSeconds,
  };
}
