import { createHash, timingSafeEqual } from 'node:crypto';
import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS } from '../errors/catalog.ts';
import type { App } from '../http/app-types.ts';
import type { UserRole } from '../users/user.schema.ts';
import type { Authenticator, Principal } from './authenticator.ts';
import { ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER } from './cookies.ts';

export type AuthMethod = 'cookie' | 'bearer' | 'api_key';

/** What a protected route knows about its caller. */
export interface AuthenticatedUser {
  id: string;
  role: UserRole;
  auth_method: AuthMethod;
  /** JWT callers (cookie or bearer): the session and the access token presented. */
  session: { id: string; token_id: string; token_expires_at: Date } | null;
  /** API-key callers: the key's id. */
  api_key_id: string | null;
}

export type AuthPreHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `app.authenticate`; null on routes that do not authenticate. */
    user: AuthenticatedUser | null;
  }
  interface FastifyInstance {
    /** preHandler: accepts the access cookie (with CSRF on changes), a bearer JWT or an API key. */
    authenticate: AuthPreHandler;
    /** preHandler: `authenticate`, then 403 `forbidden` unless the caller is an admin. */
    requireAdmin: AuthPreHandler;
  }
}

/** OpenAPI `security` for a protected route: the cookie or a bearer credential (JWT or API key). */
export const AUTH_SECURITY: { [scheme: string]: string[] }[] = [{ cookieAuth: [] }, { bearerAuth: [] }, { oauth2: [] }];

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Decorates the root instance so that every route plugin can protect itself with
 * `preHandler: app.authenticate` (or `app.requireAdmin`) and read `requireUser(request)`.
 * Must be called on the root app before routes are registered.
 */
export function registerAuthentication(app: App, authenticator: Authenticator): void {
  app.decorateRequest('user', null);

  const authenticate: AuthPreHandler = async (request) => {
    if (request.user) return;
    request.user = await authenticateRequest(request, authenticator);
  };
  const requireAdmin: AuthPreHandler = async (request, reply) => {
    await authenticate(request, reply);
    if (requireUser(request).role !== 'admin') throw ERRORS.forbidden('Only administrators may do this.');
  };
  app.decorate('authenticate', authenticate);
  app.decorate('requireAdmin', requireAdmin);
}

/** The caller of a route protected by `app.authenticate`; throws 401 if the route forgot it. */
export function requireUser(request: FastifyRequest): AuthenticatedUser {
  if (!request.user) throw ERRORS.unauthenticated();
  return request.user;
}

/** Reads the bearer credential of the `Authorization` header, if any. */
export function bearerCredential(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  if (!match?.[1]) throw ERRORS.invalidToken('The Authorization header must be "Bearer <token>".');
  return match[1];
}

async function authenticateRequest(request: FastifyRequest, authenticator: Authenticator): Promise<AuthenticatedUser> {
  // A header wins over the cookie: a cross-site page can make the browser send cookies but
  // cannot set Authorization, so header calls need no CSRF check.
  const bearer = bearerCredential(request);
  if (bearer !== undefined) {
    const principal = await authenticator.fromBearer(bearer);
    return toUser(principal, principal.apiKeyId ? 'api_key' : 'bearer');
  }
  const cookie = request.cookies[ACCESS_COOKIE];
  if (!cookie) throw ERRORS.unauthenticated();
  const principal = await authenticator.fromAccessToken(cookie);
  if (UNSAFE_METHODS.has(request.method)) checkCsrf(request);
  return toUser(principal, 'cookie');
}

/** Double-submit check: the header a same-origin script copied from the csrf cookie. */
export function checkCsrf(request: FastifyRequest): void {
  const header = request.headers[CSRF_HEADER];
  const sent = Array.isArray(header) ? header[0] : header;
  if (!sent) throw ERRORS.csrfMissing();
  const cookie = request.cookies[CSRF_COOKIE];
  if (!cookie || !constantTimeEqual(sent, cookie)) throw ERRORS.csrfMismatch();
}

/** Compares digests so neither the contents nor the length of a secret leak through timing. */
export function constantTimeEqual(a: string, b: string): boolean {
  const digestA = createHash('sha256').update(a).digest();
  const digestB = createHash('sha256').update(b).digest();
  return timingSafeEqual(digestA, digestB);
}

function toUser(principal: Principal, method: AuthMethod): AuthenticatedUser {
  return {
    id: principal.id,
    role: principal.role,
    auth_method: method,
    session: principal.session
      ? { id: principal.session.id, token_id: principal.session.tokenId, token_expires_at: principal.session.tokenExpiresAt }
      : null,
    api_key_id: principal.apiKeyId ?? null,
  };
}
