import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import pino, { type Bindings, type ChildLoggerOptions, type DestinationStream } from 'pino';
import type { Config } from '../config/config.ts';

/**
 * Paths pino blanks before a line is written. Credentials arrive in headers, cookies and a
 * handful of body fields; none of them may reach a log, whatever the log level.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.current_password',
  '*.new_password',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.api_key',
  '*.secret',
  '*.key',
] as const;

export function loggerOptions(config: Config, stream?: DestinationStream): FastifyServerOptions['logger'] {
  if (stream) return { ...baseOptions(config), stream };
  return {
    ...baseOptions(config),
    ...(config.log.pretty
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  };
}

function baseOptions(config: Config) {
  return {
    level: config.log.level,
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
    // The default request serializer logs the full URL, which can carry a signed link's
    // signature; only the path is kept.
    serializers: {
      req: (request: { method?: string; url?: string; id?: string }) => ({
        method: request.method,
        path: request.url?.split('?')[0],
        request_id: request.id,
      }),
    },
  };
}

const { chindingsSym } = pino.symbols;

/**
 * Fastify's `childLoggerFactory`: the logger of one request, carrying its `request_id`. pino's
 * own `child` rebuilds the formatters and runs the id through the redaction stringifiers on every
 * request (5 % of the CPU of `GET /health`), whether or not anything is logged; this one only
 * appends the id to the parent's serialised bindings. The lines written are the same: the
 * formatters it skips rebuilding are the identity, and an id (a UUID or an incoming one of
 * `[A-Za-z0-9._:-]`, see request-id.ts) has nothing to redact. Anything other than the plain case
 * (a route's own log level or serializers) goes through pino.
 */
export function requestChildLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  const parent = logger as FastifyBaseLogger & { [chindingsSym]?: string };
  const keys = Object.keys(bindings);
  const parentBindings = parent[chindingsSym];
  if (
    options.level !== undefined ||
    options.serializers !== undefined ||
    keys.length !== 1 ||
    typeof bindings[keys[0]!] !== 'string' ||
    typeof parentBindings !== 'string'
  ) {
    return logger.child(bindings, options);
  }
  const child = Object.create(parent) as FastifyBaseLogger & { [chindingsSym]?: string };
  child[chindingsSym] = `${parentBindings},${JSON.stringify(keys[0])}:${JSON.stringify(bindings[keys[0]!])}`;
  return child;
}
