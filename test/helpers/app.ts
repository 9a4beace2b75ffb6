import { buildApp, type AppOverrides } from '../../src/app.ts';
import type { App } from '../../src/http/app-types.ts';
import { testConfig } from './config.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export interface TestApp {
  app: App;
  testDatabase: TestDatabase;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string | undefined>;
  overrides?: AppOverrides;
  /** Extra routes a test needs (a slow route, one that throws), added before the app is ready. */
  routes?: (app: App) => void;
}

/** An app on its own fresh database, ready for `inject()`. */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const testDatabase = await createTestDatabase();
  const config = testConfig(testDatabase.dataDir, options.env);
  const app = await buildApp(config, { database: testDatabase.database, ...options.overrides });
  options.routes?.(app);
  await app.ready();
  return {
    app,
    testDatabase,
    async close() {
      await app.close();
      await testDatabase.dispose();
    },
  };
}
