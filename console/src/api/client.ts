import createClient from 'openapi-fetch';
import type { components, paths } from './schema';

/** The API's error body (RFC 9457) as the console reads it. */
export interface Problem {
  title?: string;
  detail?: string;
  code?: string;
  status?: number;
  errors?: { path: string; message: string }[];
}

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The double-submit value: the API wants the csrf_token cookie echoed in X-CSRF-Token on changes. */
export function csrfToken(): string | undefined {
  for (const part of document.cookie.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === 'csrf_token') return decodeURIComponent(value.join('='));
  }
  return undefined;
}

let sessionExpired: () => void = () => undefined;
/** Called when a call answers 401 and a refresh cannot renew the session. */
export function onSessionExpired(listener: () => void): void {
  sessionExpired = listener;
}

let refreshing: Promise<boolean> | null = null;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;

let lastExpiresIn = 900;

/**
 * Renews the cookies with the refresh cookie. One refresh at a time, across tabs too: the API
 * spends a refresh token on each use and treats a second use as theft (ending the session), so
 * concurrent 401s share one attempt, and tabs take turns through a Web Lock. A tab that waited
 * while another refreshed sees a new csrf_token cookie and uses the cookies it left.
 */
export function refreshSession(): Promise<boolean> {
  refreshing ??= refreshInTurn()
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

async function refreshInTurn(): Promise<boolean> {
  const before = csrfToken();
  const refresh = async (): Promise<boolean> => {
    if (before !== undefined && csrfToken() !== before) {
      scheduleRefresh(lastExpiresIn);
      return true;
    }
    const { data } = await api.POST('/api/v1/auth/refresh', { body: {} });
    if (data) scheduleRefresh(data.expires_in);
    return data !== undefined;
  };
  return navigator.locks ? navigator.locks.request('intake-session-refresh', refresh) : refresh();
}

/** Refreshes ahead of the access cookie's expiry so that pages and the WebSocket never see it lapse. */
export function scheduleRefresh(expiresInSeconds: number): void {
  lastExpiresIn = expiresInSeconds;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => void refreshSession(), Math.max(5, expiresInSeconds * 0.8) * 1000);
}

export function stopRefreshing(): void {
  clearTimeout(refreshTimer);
}

function withCsrf(request: Request): Request {
  const token = csrfToken();
  if (token && UNSAFE_METHODS.has(request.method)) request.headers.set('X-CSRF-Token', token);
  return request;
}

const isAuthCall = (request: Request) => new URL(request.url).pathname.startsWith('/api/v1/auth/');

/** Cookie credentials plus CSRF, and one transparent refresh-and-retry when the access cookie has expired. */
async function sessionFetch(request: Request): Promise<Response> {
  const retry = request.clone();
  const response = await fetch(withCsrf(request));
  if (response.status !== 401 || isAuthCall(request)) return response;
  if (!(await refreshSession())) {
    sessionExpired();
    return response;
  }
  return fetch(withCsrf(retry));
}

export const api = createClient<paths>({ baseUrl: location.origin, credentials: 'same-origin', fetch: sessionFetch });

export type Schemas = components['schemas'];

/** A sentence for a person: the API's detail, with the wait spelled out for rate limits. */
export function describeProblem(error: unknown, response?: Response): string {
  const problem = (error ?? {}) as Problem;
  if (response?.status === 429) {
    const seconds = Number(response.headers.get('Retry-After'));
    const wait = Number.isFinite(seconds) && seconds > 0 ? ` Try again in ${formatWait(seconds)}.` : ' Try again later.';
    return `Too many attempts.${wait}`;
  }
  const fields = problem.errors?.map((item) => `${item.path.replace(/^\//, '') || 'request'}: ${item.message}`).join('; ');
  return [problem.detail ?? problem.title ?? `The request failed (${response?.status ?? 'network error'}).`, fields]
    .filter(Boolean)
    .join(' ');
}

export function formatWait(seconds: number): string {
  if (seconds < 90) return `${Math.ceil(seconds)} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}
