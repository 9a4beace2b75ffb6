import { parseArgs } from 'node:util';
import { ShutdownSignals } from './composition/shutdown-signals.ts';
import { ConfigError, loadConfig, loadDotEnv, type Config } from './config/config.ts';
import { runOverDatabase } from './cli/command-outcome.ts';
import { ERRORS } from './errors/catalog.ts';
import { DirectoryInUseError } from './db/directory-lock.ts';
import type { RunningServer } from './server.ts';
import type { buildWorker } from './worker.ts';
import type { startMetricsServer } from './metrics/metrics-server.ts';
import type { openConfiguredDatabase } from './composition/infrastructure.ts';
import type { App } from './http/app-types.ts';
import { createLogger } from './logging/logger.ts';
import { VERSION } from './version.ts';
import { generateFleetKeys } from './config/fleet-keys.ts';
import { assertFleetSharesState } from './config/fleet-sharing.ts';

// What only one command needs is imported by that command (the API, the drivers, the job
// handlers): `intake --help` or `intake keys generate` then start in the time of an empty Node.
type Worker = Awaited<ReturnType<typeof buildWorker>>;
type MetricsServer = Awaited<ReturnType<typeof startMetricsServer>>;
type ConfiguredDatabase = Awaited<ReturnType<typeof openConfiguredDatabase>>;

const HELP = `intake ${VERSION} — upload files, process them in the background, read the results.

Usage: intake <command> [options]

Commands:
  serve [--workers N]
             Start the HTTP API (default). In embedded mode it also runs the workers.
             --workers N (or WEB_CONCURRENCY) runs N API processes on one port
             (PostgreSQL only; the embedded database allows one process).
  migrate    Apply database migrations and exit.
  worker     Run background workers as their own process.
  keys generate
             Print the .env lines of the secrets every process of a fleet must share
             (JWT_PRIVATE_KEY, STORAGE_SIGNING_SECRET, WEBHOOK_SECRET_KEY).
  create-admin --email <email> [--full-name <name>] [--reset-password]
             Create an administrator, or promote an existing account to administrator.
             The password is asked for (not echoed) on a terminal, or read from stdin:
               printf '%s' "$ADMIN_PASSWORD" | intake create-admin --email admin@example.com
  reset-password --email <email>
             Set a new password for an account (when the server sends no e-mail) and sign
             out all its sessions; the password is read like create-admin's.

Options:
  -h, --help       Show this help.
  -v, --version    Print the version.
  --queues LIST    worker: serve only these queues (comma-separated, e.g. files), so that
                   heavy and light work can run on different machines.

Configuration comes from environment variables and ./.env; see docs/configuration.md.
Without DATABASE_URL the data lives in an embedded PostgreSQL (PGlite) under DATA_DIR.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      email: { type: 'string' },
      'full-name': { type: 'string' },
      'reset-password': { type: 'boolean' },
      queues: { type: 'string' },
      workers: { type: 'string' },
    },
  });
  if (values.version) {
    console.log(VERSION);
    return 0;
  }
  const command = positionals[0] ?? 'serve';
  if (values.help || command === 'help') {
    console.log(HELP);
    return 0;
  }

  if (command === 'keys') return keysCommand(positionals[1]);

  loadDotEnv();
  const config = loadConfig();
  // A fleet whose processes keep their own keys or blobs boots fine and then fails request by request.
  if (command === 'serve' || command === 'worker') assertFleetSharesState(config);

  switch (command) {
    case 'serve':
      return serve(config, values.workers);
    case 'migrate':
      return migrate(config);
    case 'create-admin':
      return createAdminCommand(config, {
        email: values.email,
        fullName: values['full-name'],
        resetPassword: values['reset-password'] === true,
      });
    case 'reset-password': {
      const { resetPasswordCommand } = await import('./cli/reset-password.ts');
      return resetPasswordCommand(config, { email: values.email, readPassword });
    }
    case 'worker':
      return worker(
        config,
        values.queues
          ?.split(',')
          .map((name) => name.trim())
          .filter(Boolean),
      );
    default:
      console.error(`intake: unknown command "${command}". Run \`intake --help\` for the list.`);
      return 2;
  }
}

async function serve(config: Config, workersFlag: string | undefined): Promise<number> {
  let processes = config.http.processes;
  if (workersFlag !== undefined) {
    if (!/^\d+$/.test(workersFlag) || Number(workersFlag) < 1 || Number(workersFlag) > 256) {
      console.error(`intake serve: --workers must be a whole number between 1 and 256 (got "${workersFlag}").`);
      return 2;
    }
    processes = Number(workersFlag);
  }
  if (processes === 1) return (await startServing(config)).closed;
  if (config.database.url === undefined) {
    console.error(
      `intake serve: ${processes} API processes (--workers/WEB_CONCURRENCY) need PostgreSQL (DATABASE_URL); the embedded database (PGlite) belongs to one process: use 1.`,
    );
    return 2;
  }
  // Loaded only here: every other command (and a single process) does without the cluster machinery.
  const { runServeCluster } = await import('./server-cluster.ts');
  const log = createLogger(config, 'cluster');
  return runServeCluster(config, {
    processes,
    log,
    async prepare() {
      if (!config.database.migrateOnBoot) return;
      const { openConfiguredDatabase } = await import('./composition/infrastructure.ts');
      const database = await openConfiguredDatabase(config);
      try {
        await database.migrate();
      } finally {
        await database.close();
      }
    },
    startChild: () => startServing(config),
  });
}

/** One API process (with the workers too when JOBS_WORKERS_IN_SERVE), listening. */
async function startServing(config: Config): Promise<RunningServer> {
  if (config.jobs.workersInServe) return serveWithWorkers(config);
  const [{ buildApp }, { startServer }] = await Promise.all([import('./app.ts'), import('./server.ts')]);
  const app = await buildApp(config);
  const server = await startServer(app, config);
  announce(app, server.address, config);
  return server;
}

/**
 * The embedded mode: one process serves the API and runs the jobs, on one infrastructure (PGlite
 * allows one connection, so the main thread owns the database and the queue; handlers run in
 * worker threads, JOBS_WORKER_THREADS, started with the first job, and reach the database through
 * the main thread). One set of metrics for both, served at /metrics.
 */
async function serveWithWorkers(config: Config): Promise<RunningServer> {
  const log = createLogger(config, 'worker');
  const [{ buildApp }, { buildInfrastructure }, { startServer }, { buildWorker }] = await Promise.all([
    import('./app.ts'),
    import('./composition/infrastructure.ts'),
    import('./server.ts'),
    import('./worker.ts'),
  ]);
  // Migrated here (MIGRATE_ON_BOOT) before the API answers or a worker claims.
  const infrastructure = await buildInfrastructure(config, log);
  let runtime: Worker | undefined;
  let app: App;
  try {
    app = await buildApp(config, { infrastructure });
  } catch (error) {
    await infrastructure.close();
    throw error;
  }
  const api = app;
  // The API answers while the worker threads load the parsers; jobs wait in the queue meanwhile.
  let starting: Promise<void> = Promise.resolve();
  api.addHook('onClose', async () => {
    await starting;
    // Within the HTTP grace period: jobs still running after it go back to the queue.
    await runtime?.close(Math.max(0, config.http.shutdownGraceMs - 2_000));
    await infrastructure.close();
  });
  const server = await startServer(api, config);
  announce(api, server.address, config);
  starting = buildWorker(config, { infrastructure, log }, { threads: config.jobs.workerThreads, threadsOnFirstJob: true }).then(
    (started) => {
      runtime = started;
    },
    (error: unknown) => {
      api.log.error({ err: error }, 'the workers could not start; shutting down');
      void server.shutdown('workers failed to start');
    },
  );
  return server;
}

function announce(app: App, origin: string, config: Config): void {
  const data = config.database.url ? 'PostgreSQL' : `${config.dataDir} (embedded PGlite)`;
  app.log.info(
    { address: origin, docs: `${origin}/docs`, data_dir: config.dataDir },
    `Intake ${VERSION} listening on ${origin} — API docs at ${origin}/docs — data in ${data}`,
  );
}

/** `intake worker`: runs jobs until SIGTERM/SIGINT, then finishes or hands back the running ones. */
async function worker(config: Config, queues: string[] | undefined): Promise<number> {
  // Heard from the start: a signal arriving while the worker starts stops it once started.
  const signals = new ShutdownSignals();
  let runtime: Worker;
  let metricsServer: MetricsServer | undefined;
  try {
    const [{ buildWorker }, { startMetricsServer }] = await Promise.all([
      import('./worker.ts'),
      import('./metrics/metrics-server.ts'),
    ]);
    runtime = await buildWorker(config, {}, { queues });
    const { workerPort, workerHost, token } = config.metrics;
    if (workerPort !== undefined)
      metricsServer = await startMetricsServer({ metrics: runtime.metrics, host: workerHost, port: workerPort, token });
  } catch (error) {
    signals.dispose();
    throw error;
  }
  const { log } = runtime;
  if (metricsServer) log.info({ address: `${metricsServer.address}/metrics` }, 'serving worker metrics');
  return signals.handle({
    async graceful(signal) {
      log.info({ signal, grace_ms: config.jobs.shutdownGraceMs }, 'worker shutting down: finishing running jobs');
      try {
        await runtime.close();
        await metricsServer?.close();
        log.info('worker stopped cleanly');
        return 0;
      } catch (error) {
        log.error({ err: error }, 'error while stopping the worker');
        return 1;
      }
    },
    immediate(signal) {
      log.warn({ signal }, 'second signal: exiting now; running jobs will be re-run after their lease');
      return 130;
    },
  });
}

/** `intake keys generate`: needs no configuration, so it runs before any is read. */
function keysCommand(action: string | undefined): number {
  if (action !== 'generate') {
    console.error('intake keys: the only action is `intake keys generate`.');
    return 2;
  }
  console.log('# Secrets every Intake process of this deployment must share (intake keys generate).');
  for (const line of generateFleetKeys()) console.log(line);
  return 0;
}

async function migrate(config: Config): Promise<number> {
  const { openConfiguredDatabase } = await import('./composition/infrastructure.ts');
  const database = await openConfiguredDatabase(config);
  try {
    await database.migrate();
    console.log(`Migrations applied to ${database.kind} ${database.location}.`);
    return 0;
  } finally {
    await database.close();
  }
}

async function createAdminCommand(
  config: Config,
  options: { email: string | undefined; fullName: string | undefined; resetPassword: boolean },
): Promise<number> {
  if (!options.email || !/^[^@\s]+@[^@\s]+$/.test(options.email)) {
    console.error('intake create-admin: --email <address> is required.');
    return 2;
  }
  const { openConfiguredDatabase } = await import('./composition/infrastructure.ts');
  let database: ConfiguredDatabase;
  try {
    database = await openConfiguredDatabase(config);
  } catch (error) {
    if (error instanceof DirectoryInUseError) return createAdminWhileServing(config, options, error.holderPid);
    throw error;
  }
  const email = options.email;
  return runOverDatabase('create-admin', database, async () => {
    await database.migrate();
    const [{ UserService }, { createAdmin }, { PasswordHasher }] = await Promise.all([
      import('./users/user.service.ts'),
      import('./auth/create-admin.ts'),
      import('./auth/password-hasher.ts'),
    ]);
    const users = new UserService(database.db);
    const exists = (await users.findByEmail(email)) !== undefined;
    const password = !exists || options.resetPassword ? await readPassword() : undefined;
    const { user, created } = await createAdmin(
      { db: database.db, users, passwords: new PasswordHasher() },
      { email: email, password, fullName: options.fullName ?? null, resetPassword: options.resetPassword },
    );
    console.log(
      created
        ? `Created administrator ${user.email} (${user.id}).`
        : `${user.email} (${user.id}) is now an active administrator${options.resetPassword ? ' with a new password' : ''}.`,
    );
    return 0;
  });
}

/**
 * The embedded database belongs to a running `intake serve`: the first administrator is
 * created through that server (loopback is trusted there); anything else says what to do.
 */
async function createAdminWhileServing(
  config: Config,
  options: { email: string | undefined; fullName: string | undefined; resetPassword: boolean },
  serverPid: number,
): Promise<number> {
  const busy = `the embedded database in ${config.dataDir} is held by a running Intake server (process ${serverPid})`;
  const stopAndRetry = 'or stop the server (Ctrl-C) and run this command again';
  const { createFirstAdminThroughServer, loopbackBaseUrl } = await import('./users/create-admin-through-server.ts');
  const baseUrl = loopbackBaseUrl(config.host, config.port);
  if (options.resetPassword || !baseUrl || !options.email) {
    console.error(`intake create-admin: ${busy}; ${stopAndRetry}.`);
    return 1;
  }
  const outcome = await createFirstAdminThroughServer(baseUrl, {
    email: options.email,
    password: readPassword,
    fullName: options.fullName,
  });
  switch (outcome.kind) {
    case 'done':
      console.log(
        `${outcome.created ? 'Created administrator' : 'Promoted to administrator:'} ${outcome.email} (${outcome.id}), through the running server.`,
      );
      return 0;
    case 'setup_complete':
      console.error(
        `intake create-admin: ${busy}, and an administrator already exists. Sign in to the console as an administrator to promote accounts, ${stopAndRetry}.`,
      );
      return 1;
    case 'token_required':
      console.error(
        `intake create-admin: ${busy}, which wants the setup token for this. Open the setup link it printed in its log at start ("No administrator exists yet…"), ${stopAndRetry}.`,
      );
      return 1;
    case 'unreachable':
      console.error(
        `intake create-admin: ${busy}, but it does not answer at ${outcome.url}. Open the setup link it printed in its log at start, ${stopAndRetry}.`,
      );
      return 1;
    case 'refused':
      console.error(`intake create-admin: ${outcome.detail}`);
      return 2;
  }
}

/** On a terminal: asks twice without echo. Otherwise: the whole of stdin, minus one trailing newline. */
async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  const first = await promptHidden('Password: ');
  const second = await promptHidden('Repeat password: ');
  if (first !== second) throw ERRORS.badRequest('The passwords do not match.');
  return first;
}

function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    let typed = '';
    process.stdout.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const onData = (text: string) => {
      for (const character of text) {
        if (character === '\r' || character === '\n') {
          finish();
          resolve(typed);
          return;
        }
        if (character === '\u0003') {
          finish();
          reject(new Error('cancelled'));
          return;
        }
        if (character === '\u007f' || character === '\b') typed = typed.slice(0, -1);
        else typed += character;
      }
    };
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stdout.write('\n');
    };
    stdin.on('data', onData);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // A lingering handle (a pool timer, a pino transport) must not keep a finished command alive.
    setTimeout(() => process.exit(code), 1_000).unref();
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    console.error(`intake: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
