import type { FastifyServerOptions } from 'fastify';
import type { DestinationStream } from 'pino';
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
