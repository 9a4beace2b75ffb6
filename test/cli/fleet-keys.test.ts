import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadSigningKeys } from '../../src/auth/signing-keys.ts';
import { JwtTokens } from '../../src/auth/jwt-tokens.ts';
import { loadConfig } from '../../src/config/config.ts';
import { ConfigError } from '../../src/config/config-spec.ts';
import { generateFleetKeys } from '../../src/config/fleet-keys.ts';
import { assertFleetSharesState } from '../../src/config/fleet-sharing.ts';
import { makeTempDir } from '../helpers/database.ts';

const BIN = 'bin/intake.js';
// Never connected to: the check runs before anything is opened.
const UNREACHABLE_DB = 'postgres://nobody@127.0.0.1:1/nothing';

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, NODE_ENV: 'test', DATA_DIR: makeTempDir('intake-fleet'), ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

/** What `intake keys generate` prints, read as a .env file is. */
function printedKeys(): Record<string, string> {
  const result = run(['keys', 'generate']);
  expect(result.status, result.stderr).toBe(0);
  return parseEnv(result.stdout) as Record<string, string>;
}

function generatedKeys(): Record<string, string> {
  return parseEnv(generateFleetKeys().join('\n')) as Record<string, string>;
}

describe('intake keys generate', () => {
  it('prints one .env line per shared secret, fresh each time, that the configuration accepts', async () => {
    const keys = printedKeys();
    expect(Object.keys(keys).sort()).toEqual(['JWT_PRIVATE_KEY', 'STORAGE_SIGNING_SECRET', 'WEBHOOK_SECRET_KEY']);
    expect(generatedKeys().STORAGE_SIGNING_SECRET).not.toBe(keys.STORAGE_SIGNING_SECRET);

    const config = loadConfig({ ...keys, NODE_ENV: 'production', DATA_DIR: makeTempDir('intake-fleet') });
    expect(config.storage.local.signingSecret).toBe(keys.STORAGE_SIGNING_SECRET);
    // Two processes loading the same line (with DATA_DIRs of their own) verify each other's tokens.
    const source = { privateKey: config.auth.jwtPrivateKey, retiredPublicKeys: undefined };
    const lifetimes = { accessSeconds: 60, refreshSeconds: 600 };
    const one = new JwtTokens(await loadSigningKeys({ ...source, dataDir: makeTempDir('intake-fleet') }), lifetimes);
    const other = new JwtTokens(await loadSigningKeys({ ...source, dataDir: makeTempDir('intake-fleet') }), lifetimes);
    const sub = randomUUID();
    const issued = await one.sign({ type: 'access', sub, sid: randomUUID(), lifetimeSeconds: 60 });
    expect((await other.verify(issued.token, 'access')).sub).toBe(sub);
  });
});

describe('the fleet check of serve and worker', () => {
  it('refuses to serve on a shared database without a shared JWT key, in one line naming it', () => {
    const result = run(['serve'], { DATABASE_URL: UNREACHABLE_DB });
    expect(result.status).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Invalid configuration: JWT_PRIVATE_KEY must be set when DATABASE_URL or REDIS_URL is shared/);
    expect(lines[0]).toContain('intake keys generate');
    expect(lines[0]).toContain('DATA_DIR_SHARED=true');
  });

  it('refuses a worker on a shared Redis whose blobs would stay in its own DATA_DIR', () => {
    const keys = generatedKeys();
    const result = run(['worker'], { ...keys, REDIS_URL: 'redis://127.0.0.1:1' });
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toMatch(
      /^Invalid configuration: STORAGE_LOCAL_DIR must be a directory every process mounts, outside DATA_DIR/,
    );
  });

  it('names each secret a fleet would not share, and accepts a fleet that shares them all', () => {
    const dataDir = makeTempDir('intake-fleet');
    const keys = generatedKeys();
    const check = (env: Record<string, string>) => {
      try {
        assertFleetSharesState(loadConfig({ DATA_DIR: dataDir, DATABASE_URL: UNREACHABLE_DB, ...env }));
        return 'accepted';
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        return error.variable;
      }
    };
    expect(check({ JWT_PRIVATE_KEY: keys.JWT_PRIVATE_KEY! })).toBe('WEBHOOK_SECRET_KEY');
    expect(check({ JWT_PRIVATE_KEY: keys.JWT_PRIVATE_KEY!, WEBHOOK_SECRET_KEY: keys.WEBHOOK_SECRET_KEY! })).toBe(
      'STORAGE_SIGNING_SECRET',
    );
    expect(check({ ...keys, STORAGE_LOCAL_DIR: `${dataDir}/blobs` })).toBe('STORAGE_LOCAL_DIR');
    expect(check({ ...keys, STORAGE_LOCAL_DIR: makeTempDir('intake-shared-blobs') })).toBe('accepted');
    // Cloud storage needs no local directory nor link secret.
    expect(
      check({ JWT_PRIVATE_KEY: keys.JWT_PRIVATE_KEY!, WEBHOOK_SECRET_KEY: keys.WEBHOOK_SECRET_KEY!, S3_BUCKET: 'intake' }),
    ).toBe('accepted');
    // The escape hatch: one process on PostgreSQL, or one DATA_DIR volume for all.
    expect(check({ DATA_DIR_SHARED: 'true' })).toBe('accepted');
    // The embedded mode shares nothing with anyone.
    expect(assertFleetSharesState(loadConfig({ DATA_DIR: dataDir }))).toBeUndefined();
  });
});
