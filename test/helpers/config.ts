import { loadConfig, type Config } from '../../src/config/config.ts';

/**
 * Configuration as a test needs it: quiet logs, no migration at boot (the test database is
 * already migrated) and the given data directory; `env` overrides any variable.
 */
export function testConfig(dataDir: string, env: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    MIGRATE_ON_BOOT: 'false',
    ...env,
  });
}
