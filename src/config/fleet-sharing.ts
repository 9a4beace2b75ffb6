import path from 'node:path';
import { ConfigError } from './config-spec.ts';
import type { Config } from './config.ts';

const ESCAPE_HATCH = 'or DATA_DIR_SHARED=true when this is the only process, or DATA_DIR is one volume every process mounts';

/**
 * Refuses a configuration where processes share a database or Redis (so they serve one set of
 * users and jobs) but would each keep a secret, or the blobs, in their own DATA_DIR: tokens
 * signed by one API would be refused by the others, links signed by one would not verify
 * elsewhere, webhook secrets encrypted by one could not be read by a worker, and a worker would
 * not find the file an API stored. The first such variable is named, with the way out.
 */
export function assertFleetSharesState(config: Config): void {
  const shared = config.database.url !== undefined || config.redis.url !== undefined;
  if (!shared || config.dataDirShared) return;
  const why = `set when DATABASE_URL or REDIS_URL is shared by several processes (run \`intake keys generate\` and give every process its lines, ${ESCAPE_HATCH})`;
  if (config.auth.jwtPrivateKey === undefined) throw new ConfigError('JWT_PRIVATE_KEY', why, '');
  if (config.webhooks.secretKey === undefined) throw new ConfigError('WEBHOOK_SECRET_KEY', why, '');
  if (config.storage.driver !== 'local') return;
  if (config.storage.local.signingSecret === undefined) throw new ConfigError('STORAGE_SIGNING_SECRET', why, '');
  if (isInside(config.storage.local.directory, config.dataDir)) {
    throw new ConfigError(
      'STORAGE_LOCAL_DIR',
      `a directory every process mounts, outside DATA_DIR, when DATABASE_URL or REDIS_URL is shared (or use Azure Blob or S3, ${ESCAPE_HATCH})`,
      config.storage.local.directory,
    );
  }
}

function isInside(child: string, parent: string): boolean {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}
