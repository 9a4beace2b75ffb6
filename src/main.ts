// The entry point of the `intake` command. `--version` is answered from here, before anything
// else loads: the commands in cli.ts pull in Fastify, the database drivers and the job
// handlers, which a version check never needs.
import { parseArgs } from 'node:util';
import { VERSION } from './version.ts';

const { values } = parseArgs({
  args: process.argv.slice(2),
  strict: false,
  allowPositionals: true,
  options: { version: { type: 'boolean', short: 'v' } },
});

if (values.version === true) process.stdout.write(`${VERSION}\n`);
else await import('./cli.ts');
