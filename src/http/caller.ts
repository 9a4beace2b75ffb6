import type { FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS } from '../errors/catalog.ts';

export const CALLER_ROLES = ['user', 'admin'] as const;
export type CallerRole = (typeof CALLER_ROLES)[number];

export type AuthMethod = 'cookie' | 'bearer' | 'api_key';

/**
 * Who is calling, once a credential has been checked: the one type every layer uses for it.
 * Routes read it from `request.user`; services take it (or `Pick<Caller, 'id' | 'role'>`)
 * to decide what the caller may see. Authentication (src/auth) produces it.
 */
export interface Caller {
  id: string;
  role: CallerRole;
  method: AuthMethod;
  /** JWT callers (cookie or bearer): the session and the access token presented. */
  session: { id: string; tokenId: string; tokenExpiresAt: Date } | null;
  /** API-key callers: the key's id. */
  apiKeyId: string | null;
  /** Whether the account's address is proven; read from the same user row as the role. Absent: treated as proven. */
  emailVerified?: boolean;
  /**
   * An administrator without two-factor while REQUIRE_2FA_FOR_ADMINS is on: `role` reads `user`
   * (no admin powers anywhere) and admin-only routes answer 403 `two_factor_required`.
   */
  adminWithoutTwoFactor?: boolean;
}

export type AuthPreHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** With EMAIL_VERIFICATION=required: this route also serves accounts not yet verified. */
    allowUnverified?: boolean;
  }
  interface FastifyRequest {
    /** Set by `app.authenticate`; null on routes that do not authenticate. */
    user: Caller | null;
  }
  interface FastifyInstance {
    /** preHandler: accepts the access cookie (with CSRF on changes), a bearer JWT or an API key. */
    authenticate: AuthPreHandler;
    /** preHandler: `authenticate`, then 403 `forbidden` unless the caller is an admin (`two_factor_required` for one without it, when required). */
    requireAdmin: AuthPreHandler;
  }
}

/** OpenAPI `security` for a protected route: the cookie or a bearer credential (JWT or API key). */
export const AUTH_SECURITY: { [scheme: string]: string[] }[] = [{ cookieAuth: [] }, { bearerAuth: [] }, { oauth2: [] }];

/** The caller of a route protected by `app.authenticate`; throws 401 if the route forgot it. */
export function requireUser(request: FastifyRequest): Caller {
  if (!request.user) throw ERRORS.unauthenticated();
  return request.user;
}
