import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds: from a 5 ms API answer to a 10-minute import. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const JOB_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800];

/**
 * Every metric one process exposes, on a registry of its own (never prom-client's global one,
 * so that two apps in one test process do not share counters). Label values are bounded by
 * construction: route templates, methods, status classes, queue and job type names, outcomes.
 */
export class IntakeMetrics {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'intake_http_request_duration_seconds',
    help: 'HTTP requests by method, route template and status class, from arrival to the last byte sent.',
    labelNames: ['method', 'route', 'status_class'] as const,
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  });

  readonly httpInFlight = new Gauge({
    name: 'intake_http_requests_in_flight',
    help: 'HTTP requests being answered now.',
    registers: [this.registry],
  });

  readonly uploadBytes = new Counter({
    name: 'intake_upload_bytes_total',
    help: 'Bytes of files recorded as uploaded (multipart and direct uploads).',
    registers: [this.registry],
  });

  readonly uploadFiles = new Counter({
    name: 'intake_upload_files_total',
    help: 'Files recorded as uploaded (multipart and direct uploads).',
    registers: [this.registry],
  });

  readonly jobsStarted = this.jobCounter('intake_jobs_started_total', 'Job attempts started by this process.');
  readonly jobsSucceeded = this.jobCounter('intake_jobs_succeeded_total', 'Jobs that succeeded in this process.');
  readonly jobsFailed = new Counter({
    name: 'intake_jobs_failed_total',
    help: 'Jobs that ended failed or timed out (no attempt left, a permanent error, or stalled too often), by error code.',
    labelNames: ['queue', 'type', 'error_code'] as const,
    registers: [this.registry],
  });
  readonly jobsRetried = this.jobCounter('intake_jobs_retried_total', 'Attempts that failed and were scheduled again.');
  readonly jobsStalled = this.jobCounter(
    'intake_jobs_stalled_total',
    'Attempts whose worker stopped heartbeating, recovered by this process.',
  );
  readonly jobsCancelled = this.jobCounter(
    'intake_jobs_cancelled_total',
    'Jobs cancelled (queued or running) whose cancellation this process wrote.',
  );

  readonly jobDuration = new Histogram({
    name: 'intake_job_attempt_duration_seconds',
    help: 'Job attempts run by this process, from claim to the recorded outcome.',
    labelNames: ['queue', 'type', 'outcome'] as const,
    buckets: JOB_BUCKETS,
    registers: [this.registry],
  });

  readonly webSocketConnections = new Gauge({
    name: 'intake_websocket_connections',
    help: 'Open WebSocket connections on this process.',
    registers: [this.registry],
  });

  readonly webSocketMessagesSent = new Counter({
    name: 'intake_websocket_messages_sent_total',
    help: 'Frames sent to WebSocket clients (events, replies, errors).',
    registers: [this.registry],
  });

  readonly webhookDeliveries = new Counter({
    name: 'intake_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome: delivered, retrying (will be tried again) or failed (given up).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly workerRecycles = new Counter({
    name: 'intake_worker_recycles_total',
    help: 'Job runners this process replaced after WORKER_MAX_JOBS attempts (reason "jobs") or past WORKER_MAX_RSS_MB (reason "memory").',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    // Process CPU, memory, handles, GC and event-loop lag (nodejs_eventloop_lag_*), with the library's names.
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
  }

  /** A gauge whose value is read at scrape time. A failing reader leaves the gauge empty for that scrape. */
  gauge<Label extends string>(
    name: string,
    help: string,
    labelNames: readonly Label[],
    read: () =>
      | Promise<Iterable<{ labels: Partial<Record<Label, string>>; value: number }>>
      | Iterable<{ labels: Partial<Record<Label, string>>; value: number }>,
  ): Gauge<Label> {
    return new Gauge<Label>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        this.reset();
        let samples;
        try {
          samples = await read();
        } catch {
          // A scrape must not fail because one source is down; /ready reports that.
          return;
        }
        for (const sample of samples) this.set(sample.labels, sample.value);
      },
    });
  }

  /** The Prometheus text exposition of every metric. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private jobCounter(name: string, help: string): Counter<'queue' | 'type'> {
    return new Counter({ name, help, labelNames: ['queue', 'type'] as const, registers: [this.registry] });
  }
}
