import { randomUUID } from 'node:crypto';
import type { TelemetryConfig } from '../config/config.ts';
import { loggableError } from '../jobs/job-error.ts';
import type { JobLogger } from '../jobs/job-queue.ts';
import { VERSION } from '../version.ts';

/** Where an unexpected error happened: bounded names only (route templates, job types), never a URL, body or header. */
export type ErrorScene =
  | { kind: 'http'; method: string; route: string | null; status: number; requestId: string }
  | { kind: 'job'; queue: string; type: string; jobId: string; attempt: number };

export interface ErrorReporter {
  /** Fire and forget: a report never delays or fails the request or job it is about. */
  report(error: unknown, scene: ErrorScene): void;
  /** Waits for reports still on their way (bounded by each request's timeout). */
  close(): Promise<void>;
}

/** Reports a process sends at once at most; past it, new ones are dropped (and logged) rather than queued. */
const MAX_IN_FLIGHT = 20;
const SEND_TIMEOUT_MS = 5_000;

/**
 * A Sentry client of our own, speaking the envelope protocol over `fetch`. `@sentry/node` would
 * do it, but since version 8 it is built on OpenTelemetry and installs its own global tracer
 * provider and instrumentation at start-up: it would fight OTEL_EXPORTER_OTLP_ENDPOINT tracing for
 * the global context and make every start pay for hooks we do not use. What Intake reports is
 * small — one event per unexpected error, with a stack, tags and no request data — so an envelope
 * is all it takes (https://develop.sentry.dev/sdk/data-model/envelopes/).
 */
export function sentryReporter(
  config: Pick<TelemetryConfig, 'sentryEnvironment'> & { dsn: string },
  log: JobLogger,
): ErrorReporter {
  const dsn = new URL(config.dsn);
  const projectId = dsn.pathname.split('/').pop() ?? '';
  const basePath = dsn.pathname.slice(0, dsn.pathname.length - projectId.length);
  const endpoint = `${dsn.protocol}//${dsn.host}${basePath}api/${projectId}/envelope/`;
  const auth = `Sentry sentry_version=7, sentry_key=${dsn.username}, sentry_client=intake/${VERSION}`;
  const publicDsn = `${dsn.protocol}//${dsn.username}@${dsn.host}${dsn.pathname}`;
  const inFlight = new Set<Promise<void>>();
  let dropped = 0;

  const send = async (body: string, eventId: string): Promise<void> => {
    try {
      const response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-sentry-envelope', 'x-sentry-auth': auth },
        body,
        signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      });
      await response.body?.cancel();
      if (!response.ok) log.warn({ status: response.status, event_id: eventId }, 'sentry refused an error report');
    } catch (error) {
      log.warn({ err: error, event_id: eventId }, 'could not send an error report to sentry');
    }
  };

  return {
    report(error, scene) {
      if (inFlight.size >= MAX_IN_FLIGHT) {
        dropped += 1;
        if (dropped === 1 || dropped % 100 === 0) log.warn({ dropped }, 'too many error reports on their way; dropping');
        return;
      }
      const eventId = randomUUID().replaceAll('-', '');
      const event = sentryEvent(error, scene, eventId, config.sentryEnvironment);
      const body = [
        JSON.stringify({ event_id: eventId, sent_at: new Date().toISOString(), dsn: publicDsn }),
        JSON.stringify({ type: 'event' }),
        JSON.stringify(event),
      ].join('\n');
      const sending = send(body, eventId).finally(() => inFlight.delete(sending));
      inFlight.add(sending);
    },
    async close() {
      await Promise.all(inFlight);
    },
  };
}

function sentryEvent(error: unknown, scene: ErrorScene, eventId: string, environment: string) {
  // Bounded message and stack, causes included: the same view of the error the log keeps.
  const loggable = loggableError(error);
  const frames = (loggable.stack ?? '')
    .split('\n')
    .map((line) => /^\s*at (?:(.+?) \()?(.+?):(\d+):(\d+)\)?$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map(([, fn, file, line, column]) => ({
      function: fn ?? '<anonymous>',
      filename: file,
      lineno: Number(line),
      colno: Number(column),
      in_app: !file?.includes('node_modules') && !file?.startsWith('node:'),
    }))
    // Sentry lists the outermost call first.
    .reverse();
  const tags =
    scene.kind === 'http'
      ? { kind: 'http', method: scene.method, route: scene.route ?? 'unrouted', status: String(scene.status) }
      : { kind: 'job', queue: scene.queue, job_type: scene.type, attempt: String(scene.attempt) };
  const extra = scene.kind === 'http' ? { request_id: scene.requestId } : { job_id: scene.jobId };
  return {
    event_id: eventId,
    timestamp: Date.now() / 1000,
    platform: 'node',
    level: 'error',
    logger: scene.kind === 'http' ? 'intake.http' : 'intake.jobs',
    release: `intake@${VERSION}`,
    environment,
    transaction: scene.kind === 'http' ? `${scene.method} ${scene.route ?? 'unrouted'}` : `${scene.queue}/${scene.type}`,
    tags,
    extra,
    exception: {
      values: [
        {
          type: loggable.type,
          value: loggable.message,
          ...(frames.length > 0 ? { stacktrace: { frames } } : {}),
        },
      ],
    },
  };
}
