import { isIP } from 'node:net';
import { isLoopback } from './first-admin.service.ts';

export type ThroughServerOutcome =
  | { kind: 'done'; created: boolean; email: string; id: string }
  /** An administrator exists: the first-run endpoint is closed. */
  | { kind: 'setup_complete' }
  /** The server wants the setup token (TRUST_PROXY, or it does not listen on loopback). */
  | { kind: 'token_required' }
  | { kind: 'refused'; detail: string }
  | { kind: 'unreachable'; url: string };

/**
 * Where this machine reaches a server configured with `host`/`port` over loopback, which the
 * first-run endpoint accepts without a token. Undefined when it listens only elsewhere.
 */
export function loopbackBaseUrl(host: string, port: number): string | undefined {
  if (port === 0) return undefined;
  if (host === '0.0.0.0' || host === '::' || isLoopback(host)) {
    const target = host === '::' || host === '::1' ? '[::1]' : isIP(host) === 4 && isLoopback(host) ? host : '127.0.0.1';
    return `http://${target}:${port}`;
  }
  return undefined;
}

/**
 * `intake create-admin` while `intake serve` holds the embedded database: the first
 * administrator is created by the running server itself, through its first-run endpoint,
 * which trusts loopback clients exactly as it trusts the console opened on this machine.
 */
export async function createFirstAdminThroughServer(
  baseUrl: string,
  input: { email: string; password: () => Promise<string>; fullName: string | undefined },
): Promise<ThroughServerOutcome> {
  let state: { needs_setup: boolean; token_required: boolean };
  try {
    const response = await fetch(`${baseUrl}/api/v1/setup`, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) return { kind: 'unreachable', url: baseUrl };
    state = (await response.json()) as typeof state;
  } catch {
    return { kind: 'unreachable', url: baseUrl };
  }
  if (!state.needs_setup) return { kind: 'setup_complete' };
  if (state.token_required) return { kind: 'token_required' };
  const response = await fetch(`${baseUrl}/api/v1/setup/admin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: input.email,
      password: await input.password(),
      ...(input.fullName ? { full_name: input.fullName } : {}),
    }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await response.json()) as { id?: string; email?: string; code?: string; detail?: string };
  if (response.ok && body.id && body.email)
    return { kind: 'done', created: response.status === 201, email: body.email, id: body.id };
  if (body.code === 'setup_complete') return { kind: 'setup_complete' };
  if (body.code === 'setup_token_required') return { kind: 'token_required' };
  return { kind: 'refused', detail: body.detail ?? `the server answered ${response.status}` };
}
