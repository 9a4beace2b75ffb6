import compress from '@fastify/compress';
import cors from '@fastify/cors';
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config/config.ts';
import type { App } from './app-types.ts';

/**
 * The security headers of every answer (helmet's defaults, with a CSP for an API that answers
 * JSON, never pages: nothing may load or frame it). They never vary with the request, so they
 * are set from this table by one hook instead of being recomputed by helmet's middleware chain
 * on each request; the answers written before any hook runs (a path Fastify cannot route, a
 * request Node's HTTP parser refuses) send the same table. Routes that serve pages (/docs, the
 * console) replace the CSP with their own.
 */
export const BASELINE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none';frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-site',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

/** Origins whose pages may use the cookie session: this service's own, and the CORS allow-list. */
export function browserOrigins(config: Config): string[] {
  return [...new Set([...config.http.corsOrigins.filter((origin) => origin !== '*'), new URL(config.publicUrl).origin])];
}

/**
 * Whether a request that would set session cookies comes from a page we trust. A browser
 * sends `Origin` on every cross-origin POST and `Sec-Fetch-Site` on every request; a client
 * that sends neither is not a browser, and has no ambient cookies to be tricked with.
 */
export function isCrossSiteRequest(headers: IncomingHttpHeaders, allowedOrigins: readonly string[]): boolean {
  const origin = headers.origin;
  if (origin !== undefined) return !allowedOrigins.includes(origin);
  const site = headers['sec-fetch-site'];
  return site !== undefined && site !== 'same-origin' && site !== 'none';
}

const SECURITY_HEADER_ENTRIES = Object.entries(BASELINE_SECURITY_HEADERS);

/**
 * The first hook of every request: the `X-Request-ID` of the answer, then the security headers.
 * One synchronous hook for both (an async one costs a promise and a microtask turn per request).
 */
export function registerResponseHeaders(app: App): void {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('X-Request-ID', request.id);
    for (const [name, value] of SECURITY_HEADER_ENTRIES) reply.header(name, value);
    done();
  });
}

export async function registerSecurity(app: App, config: Config): Promise<void> {
  // Closed unless origins are listed: a browser on another origin cannot call the API. With
  // none listed the plugin is not registered at all: with `origin: false` it only ran a hook on
  // every request that added nothing, and its OPTIONS route handed every preflight to the
  // not-found handler, which answers an unrouted OPTIONS the same way by itself.
  const origins = config.http.corsOrigins;
  if (origins.length > 0) {
    await app.register(cors, {
      origin: origins.includes('*') ? true : [...origins],
      credentials: !origins.includes('*'),
      exposedHeaders: ['X-Request-ID', 'Retry-After', 'Location', 'Content-Disposition', 'ETag'],
      allowedHeaders: ['Content-Type', 'Authorization', 'X-CSRF-Token', 'X-Request-ID', 'Idempotency-Key', 'Range'],
      maxAge: 600,
    });
  }

  await app.register(compress, { global: true, threshold: 1024 });
}
