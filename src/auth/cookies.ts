import type { FastifyReply } from 'fastify';
import type {} from '@fastify/cookie';
import { API_PREFIX } from '../http/openapi.ts';

export const ACCESS_COOKIE = 'access_token';
export const REFRESH_COOKIE = 'refresh_token';
export const CSRF_COOKIE = 'csrf_token';
export const CSRF_HEADER = 'x-csrf-token';
/** The refresh cookie is sent only to the auth routes, never with ordinary API calls. */
export const REFRESH_COOKIE_PATH = `${API_PREFIX}/auth`;

export interface SessionCookies {
  accessToken: string;
  refreshToken: string;
  csrfToken: string;
  accessMaxAgeSeconds: number;
  refreshMaxAgeSeconds: number;
}

export function setSessionCookies(reply: FastifyReply, cookies: SessionCookies, secure: boolean): void {
  const common = { sameSite: 'strict' as const, secure };
  reply.setCookie(ACCESS_COOKIE, cookies.accessToken, {
    ...common,
    httpOnly: true,
    path: '/',
    maxAge: cookies.accessMaxAgeSeconds,
  });
  reply.setCookie(REFRESH_COOKIE, cookies.refreshToken, {
    ...common,
    httpOnly: true,
    path: REFRESH_COOKIE_PATH,
    maxAge: cookies.refreshMaxAgeSeconds,
  });
  // Readable by scripts on purpose: the page copies it into X-CSRF-Token (double submit).
  // It lives as long as the refresh cookie, since refreshing needs it too.
  reply.setCookie(CSRF_COOKIE, cookies.csrfToken, {
    ...common,
    httpOnly: false,
    path: '/',
    maxAge: cookies.refreshMaxAgeSeconds,
  });
}

export function clearSessionCookies(reply: FastifyReply, secure: boolean): void {
  const common = { sameSite: 'strict' as const, secure };
  reply.clearCookie(ACCESS_COOKIE, { ...common, httpOnly: true, path: '/' });
  reply.clearCookie(REFRESH_COOKIE, { ...common, httpOnly: true, path: REFRESH_COOKIE_PATH });
  reply.clearCookie(CSRF_COOKIE, { ...common, path: '/' });
}
