import websocket from '@fastify/websocket';
import type { FastifyRequest } from 'fastify';
import { Type } from '../vendor/typebox.ts';
import { bearerCredential } from '../auth/authenticate.ts';
import { AUTH_SECURITY, requireUser } from '../http/caller.ts';
import type { Authenticator } from '../auth/authenticator.ts';
import { ACCESS_COOKIE } from '../auth/cookies.ts';
import type { RealtimeConfig } from '../config/config.ts';
import { isAppError } from '../errors/app-error.ts';
import { ERRORS } from '../errors/catalog.ts';
import { toClientEvent, type RealtimeEvent } from '../events/realtime-events.ts';
import type { App } from '../http/app-types.ts';
import { JobIdParams } from '../jobs/job-responses.ts';
import { FINISHED_STATUSES } from '../jobs/jobs.schema.ts';
import { CLOSE, RealtimeConnection, type HandshakeCredential } from './realtime-connection.ts';
import { isFinalJobStatus, jobSnapshot, SubjectNotFound, type RealtimeService } from './realtime.service.ts';

export interface RealtimeRoutesOptions {
  service: RealtimeService;
  authenticator: Authenticator;
  limits: RealtimeConfig;
  /** Origins whose pages may open a cookie-authenticated socket: CORS_ORIGINS and PUBLIC_URL's. */
  allowedOrigins: readonly string[];
  /** The time in ms; tests pass their own clock (see ConnectionDeps.now). */
  now?: () => number;
  /** Told when sockets open and close and when frames are sent (metrics). */
  observer?: RealtimeObserver;
}

export interface RealtimeObserver {
  opened(): void;
  closed(): void;
  sent(): void;
}

const WS_DESCRIPTION = `WebSocket (upgrade with GET). Authenticate with the access cookie (browsers: the handshake's
Origin must be an allowed origin), an \`Authorization: Bearer\` header, or a first message
\`{"type":"auth","token":"<access token or API key>"}\` → \`{"type":"auth.ok","user_id":…}\`.
Then \`{"type":"subscribe","channel":"job:<id>" | "file:<id>" | "user"}\` → \`{"type":"subscribed","channel":…}\`
followed by the subject's current state; \`unsubscribe\` alike. Server events:
\`job.progress\` {job_id, file_id, progress {current,total,percent,message}}, \`job.status\` {job_id, file_id, status, error?},
\`file.status\` {file_id, status}. Errors: \`{"type":"error","code","message"}\`; someone else's job or file answers
\`not_found\`, as a missing one does. Close codes: 4001 bad, missing or expired credentials; 4008 client too slow;
4029 too many messages; 1009 message too large. See the README's Realtime section.`;

const SSE_DESCRIPTION = `Server-Sent Events of one job of mine: the current state first (\`job.progress\`, \`job.status\`),
then every \`job.progress\` and \`job.status\` as it happens; the stream ends after the job's final status
(at once when it has already finished). Each event: \`event: <type>\` and \`data: <JSON>\`; comment lines keep it alive.`;

export async function realtimeRoutes(app: App, options: RealtimeRoutesOptions): Promise<void> {
  const { service, limits } = options;
  const connections = new Set<RealtimeConnection>();
  const streams = new Set<() => void>();

  await app.register(websocket, {
    options: { maxPayload: limits.maxMessageBytes, perMessageDeflate: false },
  });

  // One timer for every socket of this process, rather than one per socket.
  const heartbeat = setInterval(() => {
    for (const connection of connections) connection.heartbeat();
  }, limits.heartbeatMs);
  heartbeat.unref();
  app.addHook('preClose', async () => {
    clearInterval(heartbeat);
    for (const connection of [...connections]) connection.close(CLOSE.goingAway, 'server shutting down');
    for (const end of [...streams]) end();
  });

  app.get(
    '/ws',
    {
      websocket: true,
      schema: { tags: ['realtime'], summary: 'Live job and file events over a WebSocket.', description: WS_DESCRIPTION },
    },
    (socket, request) => {
      const { observer } = options;
      const connection = new RealtimeConnection(
        socket,
        {
          service,
          authenticator: options.authenticator,
          limits,
          log: request.log,
          ...(observer ? { onSent: observer.sent } : {}),
          ...(options.now ? { now: options.now } : {}),
        },
        (closed) => {
          if (connections.delete(closed)) observer?.closed();
        },
      );
      connections.add(connection);
      observer?.opened();
      connection.start(handshakeCredential(request, options.allowedOrigins));
    },
  );

  app.get(
    '/jobs/:id/events',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['jobs', 'realtime'],
        summary: 'A job of mine as Server-Sent Events, ending after its final status.',
        description: SSE_DESCRIPTION,
        params: JobIdParams,
        security: AUTH_SECURITY,
        produces: ['text/event-stream'],
        response: { 200: Type.String({ description: 'text/event-stream' }) },
      },
    },
    async (request, reply) => {
      const user = requireUser(request);
      const jobId = request.params.id.toLowerCase();
      // Listen before reading the row, so nothing between the read and the stream is lost.
      const pending: RealtimeEvent[] = [];
      let deliver: (event: RealtimeEvent) => void = (event) => pending.push(event);
      const unlisten = await service.listen(user.id, (event) => {
        if (event.type !== 'file.status' && event.job_id === jobId) deliver(event);
      });
      let row;
      try {
        row = await service.job(jobId, user.id);
      } catch (error) {
        await unlisten();
        throw error instanceof SubjectNotFound ? ERRORS.jobNotFound() : error;
      }

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // Proxies such as nginx would otherwise hold events back in their buffers.
        'x-accel-buffering': 'no',
      });
      let ended = false;
      const ping = setInterval(() => write(': ping\n\n'), limits.heartbeatMs);
      ping.unref();
      const end = () => {
        if (ended) return;
        ended = true;
        clearInterval(ping);
        streams.delete(end);
        void unlisten().catch(() => undefined);
        raw.end();
      };
      streams.add(end);
      raw.on('close', end);
      function write(chunk: string): void {
        if (ended) return;
        // A reader that does not keep up is cut off rather than buffered without bound.
        if (raw.writableLength > limits.maxBufferedBytes) {
          end();
          return;
        }
        raw.write(chunk);
      }
      function send(event: RealtimeEvent): void {
        write(`event: ${event.type}\ndata: ${JSON.stringify(toClientEvent(event))}\n\n`);
        if (isFinalJobStatus(event)) end();
      }

      for (const event of jobSnapshot(row)) send(event);
      if (FINISHED_STATUSES.includes(row.status)) {
        end();
        return;
      }
      deliver = send;
      for (const event of pending) send(event);
    },
  );
}

/** What the upgrade request carries: a bearer header, or the access cookie from an allowed origin. */
function handshakeCredential(request: FastifyRequest, allowedOrigins: readonly string[]): HandshakeCredential {
  let bearer: string | undefined;
  try {
    bearer = bearerCredential(request);
  } catch (error) {
    return { kind: 'refused', reason: isAppError(error) ? error.code : 'invalid authorization header' };
  }
  if (bearer !== undefined) return { kind: 'bearer', token: bearer };
  const cookie = request.cookies[ACCESS_COOKIE];
  if (!cookie) return { kind: 'none' };
  // A cross-site page can make a browser send our cookie with the handshake (WebSockets have
  // no CORS), so the cookie counts only when the page comes from an origin we trust.
  const origin = request.headers.origin;
  if (!origin || !allowedOrigins.includes(origin)) return { kind: 'refused', reason: 'origin not allowed' };
  return { kind: 'cookie', token: cookie };
}
