import { parseArgs } from 'node:util';
import { buildApp } from './app.ts';
import { ConfigError, loadConfig, loadDotEnv, type Config } from './config/config.ts';
import { openDatabase } from './db/database.ts';
import { startServer } from './server.ts';
import { VERSION } from './version.ts';

const HELP = `intake ${VERSION} — upload files, process them in the background, read the results.

Usage: intake <command> [options]

Commands:
  serve      Start the HTTP API (default). In embedded mode it also runs the workers.
  migrate    Apply database migrations and exit.
  worker     Run background workers as their own process.

Options:
  -h, --help       Show this help.
  -v, --version    Print the version.

Configuration comes from environment variables and ./.env; see the README's table.
Without DATABASE_URL the data lives in an embedded PostgreSQL (PGlite) under DATA_DIR.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
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

  loadDotEnv();
  const config = loadConfig();

  switch (command) {
    case 'serve':
      return serve(config);
    case 'migrate':
      return migrate(config);
    case 'worker':
      console.error('intake worker: background jobs are not available yet; `intake serve` is the whole service for now.');
      return 2;
    default:
      console.error(`intake: unknown command "${command}". Run \`intake --help\` for the list.`);
      return 2;
  }
}

async function serve(config: Config): Promise<number> {
  const app = await buildApp(config);
  const server = await startServer(app, config);
  const origin = server.address;
  const data = config.database.url ? 'PostgreSQL' : `${config.dataDir} (embedded PGlite)`;
  app.log.info(
    { address: origin, docs: `${origin}/docs`, data_dir: config.dataDir },
    `Intake ${VERSION} listening on ${origin} — API docs at ${origin}/docs — data in ${data}`,
  );
  return server.closed;
}

async function migrate(config: Config): Promise<number> {
  const database = await openDatabase({ ...config.database, dataDir: config.dataDir });
  try {
    await database.migrate();
    console.log(`Migrations applied to ${database.kind} ${database.location}.`);
    return 0;
  } finally {
    await database.close();
  }
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
