import { createHash, timingSafeEqual } from 'node:crypto';
import type {} from '@fastify/cookie';
import type { FastifyRequest } from 'fastify';
import { ERRORS } from '../errors/catalog.ts';
import type { App } from '../http/app-types.ts';
import { requireUser, type AuthPreHandler, type Caller } from '../http/caller.ts';
import type { Authenticator } from './authenticator.ts';
import { ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER } from './cookies.ts';

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Decorates the root instance so that every route plugin can protect itself with
 * `preHandler: app.authenticate` (or `app.requireAdmin`) and read `requireUser(request)`.
 * Must be called on the root app before routes are registered.
 */
export function registerAuthentication(
  app: App,
  authenticator: Authenticator,
  options: {
    requireVerifiedEmail?: boolean;
    /** Given with REQUIRE_2FA_FOR_ADMINS: whether an administrator has two-factor on (asked for administrators only). */
    adminHasTwoFactor?: (userId: string) => Promise<boolean>;
  } = {},
): void {
  app.decorateRequest('user', null);

  const authenticate: AuthPreHandler = async (request) => {
    if (request.user) return;
    let caller = await authenticateRequest(request, authenticator);
    if (options.adminHasTwoFactor && caller.role === 'admin' && !(await options.adminHasTwoFactor(caller.id))) {
      // Every role check downstream sees a user: no admin power leaks through a route that
      // checks the role itself rather than through requireAdmin. Enrolling stays possible.
      caller = { ...caller, role: 'user', adminWithoutTwoFactor: true };
    }
    request.user = caller;
    // The flag comes from the user row the authenticator reads anyway: no extra query.
    if (options.requireVerifiedEmail && caller.emailVerified === false && request.routeOptions.config.allowUnverified !== true) {
      throw ERRORS.emailNotVerified();
    }
  };
  const requireAdmin: AuthPreHandler = async (request, reply) => {
    await authenticate(request, reply);
    const caller = requireUser(request);
    if (caller.adminWithoutTwoFactor) throw ERRORS.twoFactorRequired();
    if (caller.role !== 'admin') throw ERRORS.forbidden('Only administrators may do this.');
  };
  app.decorate('authenticate', authenticate);
  app.decorate('requireAdmin', requireAdmin);
}

/** Reads the bearer credential of the `Authorization` header, if any. */
export function bearerCredential(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  if (!match?.[1]) throw ERRORS.invalidToken('The Authorization header must be "Bearer <token>".');
  return match[1];
}

async function authenticateRequest(request: FastifyRequest, authenticator: Authenticator): Promise<Caller> {
  // A header wins over the cookie: a cross-site page can make the browser send cookies but
  // cannot set Authorization, so header calls need no CSRF check.
  const bearer = bearerCredential(request);
  if (bearer !== undefined) return authenticator.fromBearer(bearer);
  const cookie = request.cookies[ACCESS_COOKIE];
  if (!cookie) throw ERRORS.unauthenticated();
  const caller = await authenticator.fromAccessToken(cookie, 'cookie');
  if (UNSAFE_METHODS.has(request.method)) checkCsrf(request);
  return caller;
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
