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
  if (config.log.pretty) return { ...baseOptions(config), transport: PRETTY_TRANSPORT };
  return { ...baseOptions(config), stream: standardOutput() };
}

/** A logger outside Fastify (the worker, the cluster's primary), writing where the server's does. */
export function createLogger(config: Config, name: string): pino.Logger {
  if (config.log.pretty) return pino({ ...baseOptions(config), name, transport: PRETTY_TRANSPORT });
  return pino({ ...baseOptions(config), name }, standardOutput());
}

const PRETTY_TRANSPORT = { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } };

let stdoutDestination: DestinationStream | undefined;

/**
 * Standard output, written asynchronously: pino's default writes each line with its own
 * synchronous `write(2)`, which was a quarter of the CPU of `GET /health` with the access line
 * on. Here a line goes out at once when nothing is being written, and lines that arrive while a
 * write is in flight go out together with the next one, so an idle service's lines are not
 * delayed and a busy one makes one system call per batch. pino flushes what is pending,
 * synchronously, when the process exits. One destination per process, shared by every logger
 * in it, so that two writers never interleave their batches on the same descriptor.
 */
function standardOutput(): DestinationStream {
  stdoutDestination ??= pino.destination({ dest: 1, sync: false });
  return stdoutDestination;
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

const { chindingsSym, streamSym } = pino.symbols;

/**
 * The logger of the one line written per request (see app.ts): the server's level, destination
 * and base fields, without the redaction. Every field of that line is chosen by the hook that
 * writes it (request id, method, route template, status, duration), none can carry a credential,
 * and the redaction's wildcard paths cost a fifth of the CPU of `GET /health` there.
 */
export function accessLogger(logger: FastifyBaseLogger): pino.Logger {
  const server = logger as pino.Logger & { [streamSym]?: DestinationStream };
  const destination = server[streamSym];
  if (!destination) return server;
  return pino({ level: server.level }, destination);
}

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
