import type { FastifyBaseLogger } from 'fastify';

/**
 * Tells a dependency outage (PostgreSQL, Redis or blob storage unreachable) from a bug, so that
 * the client hears 503 `service_unavailable` with Retry-After instead of 500, whichever route
 * and adapter the failure came through. Drivers wrap their errors (Drizzle's query error, the
 * SDKs' RestError, Node's AggregateError for dual-stack connects), so the whole cause chain is
 * searched.
 */

export type Dependency = 'database' | 'redis' | 'network';

export interface Outage {
  dependency: Dependency;
  /** The error code or name that identified it (`ECONNREFUSED`, `57P01`, …). */
  reason: string;
  /** `host:port` when the error says where it tried to connect. */
  target?: string;
}

// Socket-level failures: whichever client raised them, the peer is unreachable.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

// PostgreSQL SQLSTATEs that mean the server is gone, going, or refusing sessions: class 08
// (connection exception), 57P01-57P03 (admin/crash shutdown, cannot connect now), 53300 (too
// many connections) and 3D000 (the database itself was dropped).
const POSTGRES_OUTAGE_STATES = new Set(['57P01', '57P02', '57P03', '53300', '3D000']);

// node-postgres and pg-pool raise these without a code; their wording is the only marker.
const POSTGRES_CLIENT_MESSAGES = [
  'Connection terminated unexpectedly',
  'Connection terminated due to connection timeout',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
];

// ioredis: a command given up after `maxRetriesPerRequest` reconnects, or flushed when the
// connection closed (ioredis's own error, again without a code).
const REDIS_ERROR_NAMES = new Set(['MaxRetriesPerRequestError']);
const REDIS_CLIENT_MESSAGES = ['Connection is closed.'];

const MAX_DEPTH = 8;

export function dependencyOutage(error: unknown): Outage | undefined {
  return search(error, 0);
}

function search(error: unknown, depth: number): Outage | undefined {
  if (depth > MAX_DEPTH || typeof error !== 'object' || error === null) return undefined;
  const candidate = error as {
    code?: unknown;
    name?: unknown;
    message?: unknown;
    address?: unknown;
    port?: unknown;
    errors?: unknown;
    cause?: unknown;
  };
  const found = classify(candidate);
  if (found) return found;
  if (Array.isArray(candidate.errors)) {
    for (const inner of candidate.errors) {
      const nested = search(inner, depth + 1);
      if (nested) return nested;
    }
  }
  return search(candidate.cause, depth + 1);
}

function classify(error: {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  address?: unknown;
  port?: unknown;
}): Outage | undefined {
  const code = typeof error.code === 'string' ? error.code : undefined;
  const message = typeof error.message === 'string' ? error.message : '';
  if (code && NETWORK_CODES.has(code)) {
    const target =
      typeof error.address === 'string' ? `${error.address}${typeof error.port === 'number' ? `:${error.port}` : ''}` : undefined;
    return { dependency: 'network', reason: code, ...(target ? { target } : {}) };
  }
  if (code && /^[0-9A-Z]{5}$/.test(code) && (code.startsWith('08') || POSTGRES_OUTAGE_STATES.has(code))) {
    return { dependency: 'database', reason: code };
  }
  if (POSTGRES_CLIENT_MESSAGES.includes(message)) return { dependency: 'database', reason: message };
  if (typeof error.name === 'string' && REDIS_ERROR_NAMES.has(error.name)) return { dependency: 'redis', reason: error.name };
  if (REDIS_CLIENT_MESSAGES.includes(message)) return { dependency: 'redis', reason: 'connection closed' };
  return undefined;
}

/**
 * Logs an outage once when it starts and once when it ends, instead of once per refused
 * request: during an outage every request fails the same way, and a log flooded with
 * identical stacks hides the one line that says what happened.
 */
export class OutageLog {
  private readonly active = new Map<string, { outage: Outage; since: number; refused: number }>();

  constructor(
    private readonly log: FastifyBaseLogger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records one request refused because of `outage`; logs only the first of an outage. */
  refused(outage: Outage, error: unknown, requestId: string): void {
    const key = `${outage.dependency}:${outage.target ?? ''}`;
    const current = this.active.get(key);
    if (current) {
      current.refused += 1;
      return;
    }
    this.active.set(key, { outage, since: this.now(), refused: 1 });
    this.log.error(
      { err: error, dependency: outage.dependency, reason: outage.reason, target: outage.target, request_id: requestId },
      'a dependency is unavailable; requests answer 503 until it is back (further failures are counted, not logged)',
    );
  }

  /** A request succeeded: whatever was down answers again. */
  succeeded(): void {
    if (this.active.size === 0) return;
    for (const { outage, since, refused } of this.active.values()) {
      this.log.warn(
        {
          dependency: outage.dependency,
          reason: outage.reason,
          target: outage.target,
          refused_requests: refused,
          duration_ms: this.now() - since,
        },
        'dependency available again',
      );
    }
    this.active.clear();
  }

  get outages(): number {
    return this.active.size;
  }
}
