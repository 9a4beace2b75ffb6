import type { FastifyReply } from 'fastify';
import { Type } from '../vendor/typebox.ts';
import type { AuthConfig } from '../config/config.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { App } from '../http/app-types.ts';
import { AUTH_SECURITY, requireUser } from '../http/caller.ts';
import { API_PREFIX } from '../http/openapi.ts';
import { Id, Nullable, Text } from '../http/schema-types.ts';
import { clientOf } from './auth.routes.ts';
import type { AuthService } from './auth.service.ts';
import { setSessionCookies } from './cookies.ts';
import type { IdentitySignIn } from './identity-sign-in.service.ts';

export interface IdentitySignInRoutesOptions {
  identities: IdentitySignIn;
  auth: AuthService;
  config: AuthConfig;
  flowTtlSeconds: number;
}

/** Holds the id of a started sign-in; sent back only to the callback. */
export const FLOW_COOKIE = 'oidc_flow';
const FLOW_COOKIE_PATH = `${API_PREFIX}/auth/oidc`;

const ProviderName = Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$' });
const ReturnTo = Text({
  maxLength: 2048,
  description: 'A path on this service to land on afterwards (`/files?page=2`); absolute URLs are refused. Default `/`.',
});

const ProviderParameter = Type.Optional(Type.String({ maxLength: 4096 }));
/** What providers send back; others they add (Google's `authuser`, `hd`, …) are passed on as sent. */
const CallbackQuery = Type.Object(
  {
    code: ProviderParameter,
    state: ProviderParameter,
    iss: ProviderParameter,
    error: ProviderParameter,
    error_description: ProviderParameter,
  },
  { patternProperties: { '^(?!(code|state|iss|error|error_description)$)[a-z_]{1,64}$': Type.String({ maxLength: 4096 }) } },
);

const ProviderSummary = Type.Object({
  name: Type.String(),
  label: Type.String({ description: 'What a sign-in button says.' }),
  kind: Type.Union([Type.Literal('oidc'), Type.Literal('github')]),
});

const IdentityResponse = Type.Object({
  id: Type.String({ format: 'uuid' }),
  provider: Type.String(),
  email: Nullable(Type.String()),
  email_verified: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.String({ format: 'date-time' }),
});

export async function identitySignInRoutes(app: App, options: IdentitySignInRoutesOptions): Promise<void> {
  const { identities, auth, config } = options;

  const setFlowCookie = (reply: FastifyReply, flowId: string) => {
    // Lax, unlike the session cookies: the provider sends the browser back with a top-level
    // navigation from its own site, which a Strict cookie would not follow.
    reply.setCookie(FLOW_COOKIE, flowId, {
      httpOnly: true,
      sameSite: 'lax',
      secure: config.cookieSecure,
      path: FLOW_COOKIE_PATH,
      maxAge: options.flowTtlSeconds,
    });
  };

  app.get(
    '/auth/providers',
    {
      schema: {
        tags: ['auth'],
        summary: 'The identity providers this server signs in with (for sign-in buttons); no secrets.',
        response: { 200: Type.Object({ items: Type.Array(ProviderSummary) }) },
      },
    },
    async () => ({ items: identities.providers() }),
  );

  app.get(
    '/auth/oidc/:provider',
    {
      schema: {
        tags: ['auth'],
        summary: 'Starts signing in with a provider: redirects (302) to it and sets the short-lived `oidc_flow` cookie.',
        description:
          'Open it in the browser (a link or `location.href`). The provider sends the browser back to `/auth/oidc/{provider}/callback`, which signs in and redirects to `return_to`.',
        params: Type.Object({ provider: ProviderName }),
        querystring: Type.Object({ return_to: Type.Optional(ReturnTo) }),
        response: { 302: Type.Null() },
      },
    },
    async (request, reply) => {
      const started = await identities.start(request.params.provider, { returnTo: returnPath(request.query.return_to) });
      setFlowCookie(reply, started.flowId);
      reply.header('Cache-Control', 'no-store');
      return reply.redirect(started.authorizationUrl, 302);
    },
  );

  app.get(
    '/auth/oidc/:provider/callback',
    {
      schema: {
        tags: ['auth'],
        summary:
          'Where the provider sends the browser back: sets the same cookies as a password sign-in and redirects (302) to `return_to`.',
        description:
          'Checks the `oidc_flow` cookie and `state`, exchanges the code (PKCE) and validates the ID token. Linking (started from `POST /users/me/identities`) adds the identity and sets no new cookies.',
        params: Type.Object({ provider: ProviderName }),
        // The provider's parameters (code, state, iss, error, …) are read as sent.
        querystring: CallbackQuery,
        response: { 302: Type.Null() },
      },
    },
    async (request, reply) => {
      const query = new URLSearchParams(request.query as Record<string, string>);
      const client = clientOf(request);
      reply.clearCookie(FLOW_COOKIE, { path: FLOW_COOKIE_PATH });
      reply.header('Cache-Control', 'no-store');
      const signIn = await identities.finish(request.params.provider, request.cookies[FLOW_COOKIE], query, client);
      if (signIn.linked) return reply.redirect(signIn.returnTo, 302);
      const outcome = await auth.afterFirstFactor(signIn.user, client, `provider:${signIn.provider}`);
      if (outcome.kind === 'challenge') {
        // Two-factor is on: the console asks for the code. The token travels in the fragment,
        // which browsers never send to a server (no access log holds it).
        return reply.redirect(`/#/two-factor?challenge=${encodeURIComponent(outcome.challengeToken)}`, 302);
      }
      await identities.recordSignIn(signIn, outcome.session.sessionId, client);
      setSessionCookies(
        reply,
        {
          accessToken: outcome.session.accessToken,
          refreshToken: outcome.session.refreshToken,
          csrfToken: outcome.session.csrfToken,
          accessMaxAgeSeconds: outcome.session.accessExpiresInSeconds,
          refreshMaxAgeSeconds: outcome.session.refreshExpiresInSeconds,
        },
        config.cookieSecure,
      );
      return reply.redirect(signIn.returnTo, 302);
    },
  );

  app.get(
    '/users/me/identities',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'The provider accounts linked to mine, and whether the account has a password.',
        security: AUTH_SECURITY,
        response: {
          200: Type.Object({
            items: Type.Array(IdentityResponse),
            password_set: Type.Boolean({ description: 'False for an account made by a provider sign-in that never set one.' }),
          }),
        },
      },
    },
    async (request) => {
      const found = await identities.identities(requireUser(request).id);
      return {
        items: found.items.map((row) => ({
          id: row.id,
          provider: row.provider,
          email: row.email,
          email_verified: row.emailVerified,
          created_at: row.createdAt.toISOString(),
          last_used_at: row.lastUsedAt.toISOString(),
        })),
        password_set: found.passwordSet,
      };
    },
  );

  app.post(
    '/users/me/identities',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'Starts linking a provider to my account: answers the URL to send the browser to, and sets `oidc_flow`.',
        security: AUTH_SECURITY,
        body: Type.Object({ provider: ProviderName, return_to: Type.Optional(ReturnTo) }),
        response: { 200: Type.Object({ authorization_url: Type.String({ format: 'uri' }) }) },
      },
    },
    async (request, reply) => {
      const started = await identities.start(request.body.provider, {
        returnTo: returnPath(request.body.return_to),
        linkUserId: requireUser(request).id,
      });
      setFlowCookie(reply, started.flowId);
      reply.header('Cache-Control', 'no-store');
      return { authorization_url: started.authorizationUrl };
    },
  );

  app.delete(
    '/users/me/identities/:id',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'Unlinks a provider account. 409 `last_sign_in_method` when it is the only way left to sign in.',
        security: AUTH_SECURITY,
        params: Type.Object({ id: Id() }),
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await identities.unlink(requireUser(request).id, request.params.id, clientOf(request));
      return reply.code(204).send(null);
    },
  );
}

/**
 * Only a path on this service: `//host`, `/\host` and absolute URLs would make the callback an
 * open redirect to any site.
 */
export function returnPath(raw: string | undefined): string {
  if (raw === undefined || raw === '') return '/';
  const base = 'http://intake.invalid';
  let parsed: URL;
  try {
    parsed = new URL(raw, base);
  } catch {
    parsed = new URL('http://elsewhere.invalid');
  }
  if (!raw.startsWith('/') || raw.startsWith('//') || raw.includes('\\') || parsed.origin !== base) {
    throw ERRORS.validation([{ path: 'return_to', message: 'must be a path on this service, starting with a single /' }]);
  }
  return `${parsed.pathname}${parsed.search}${parsed.hash}`;
}
