import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { buildApp, type AppOverrides } from '../../src/app.ts';
import { JwtTokens } from '../../src/auth/jwt-tokens.ts';
import { PasswordHasher } from '../../src/auth/password-hasher.ts';
import { generateSigningKeys, type SigningKeys } from '../../src/auth/signing-keys.ts';
import { loadConfig, type Config } from '../../src/config/config.ts';
import type { Database } from '../../src/db/database.ts';
import type { App } from '../../src/http/app-types.ts';
import { users, type UserRole } from '../../src/users/user.schema.ts';
import { createTestDatabase } from './database.ts';

export const DEFAULT_PASSWORD = 'correct horse battery staple';

export interface TestAppOptions {
  /** Extra environment for `loadConfig`, e.g. `{ REGISTRATION_OPEN: 'false' }`. */
  env?: Record<string, string | undefined>;
  /** Adapters (and a log stream) to use instead of the ones built from config. */
  overrides?: AppOverrides;
  /** Extra routes a test needs (a slow route, one that throws), added before the app is ready. */
  routes?: (app: App) => void;
}

/** A signed-in user, with ready-made headers for each way of authenticating. */
export interface TestUser {
  id: string;
  email: string;
  password: string;
  role: UserRole;
  accessToken: string;
  refreshToken: string;
  /** `{ authorization: 'Bearer <access token>' }` */
  bearer: { authorization: string };
}

/** What `POST /auth/login` set, as a browser would keep it. */
export interface CookieSession {
  userId: string;
  accessToken: string;
  refreshToken: string;
  csrfToken: string;
  /** A `cookie` header carrying the access and csrf cookies (what a browser sends to /api/v1). */
  cookie: string;
  /** The same plus the refresh cookie (what a browser sends to /api/v1/auth). */
  authCookie: string;
  /** `cookie` and a matching `x-csrf-token`, for unsafe methods. */
  headers: { cookie: string; 'x-csrf-token': string };
}

export interface TestApp {
  app: App;
  config: Config;
  database: Database;
  signingKeys: SigningKeys;
  /** Signs with the app's own key, for forging expired or odd tokens. */
  tokens: JwtTokens;
  /** Creates a user directly in the database and signs them in with the password grant. */
  createUser(input?: { email?: string; password?: string; role?: UserRole; fullName?: string }): Promise<TestUser>;
  /** Signs in through `POST /auth/token`. */
  tokenLogin(email: string, password: string): Promise<{ accessToken: string; refreshToken: string }>;
  /** Signs in through `POST /auth/login` and keeps the cookies. */
  cookieLogin(email: string, password: string): Promise<CookieSession>;
  close(): Promise<void>;
}

/** Relaxed limits so suites can sign in many times; rate-limit tests pass their own. */
const TEST_ENV = {
  NODE_ENV: 'test',
  LOG_LEVEL: 'silent',
  // The test database is migrated already.
  MIGRATE_ON_BOOT: 'false',
  LOGIN_RATE_LIMIT_PER_IP: '100000',
  LOGIN_RATE_LIMIT_PER_ACCOUNT: '100000',
  REGISTER_RATE_LIMIT_PER_IP: '100000',
} as const;

/**
 * An app on its own fresh database (PGlite in a temp DATA_DIR, or a new PostgreSQL database
 * when DATABASE_URL is set) and, when REDIS_URL is set, a Redis key prefix of its own.
 * Build one per test file (`beforeAll`) and give each test its own users.
 */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const testDatabase = await createTestDatabase();
  const redisId = randomUUID();
  const env: Record<string, string> = {
    ...TEST_ENV,
    DATA_DIR: testDatabase.dataDir,
    ...(testDatabase.url ? { DATABASE_URL: testDatabase.url } : {}),
    ...(process.env.REDIS_URL
      ? {
          REDIS_URL: process.env.REDIS_URL,
          REDIS_KEY_PREFIX: `intake-test:${redisId}:`,
          JOBS_QUEUE_PREFIX: `intake-test-${redisId}`,
        }
      : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const signingKeys = options.overrides?.signingKeys ?? (await generateSigningKeys());
  let app: App;
  try {
    app = await buildApp(config, { database: testDatabase.database, signingKeys, ...options.overrides });
    // Not made ready here: a test may still add routes before its first inject().
    options.routes?.(app);
  } catch (error) {
    await testDatabase.close();
    throw error;
  }
  const tokens = new JwtTokens(signingKeys, {
    accessSeconds: config.auth.accessTokenTtlSeconds,
    refreshSeconds: config.auth.refreshTokenTtlSeconds,
  });
  const hasher = new PasswordHasher();
  const hashes = new Map<string, Promise<string>>();
  const db = testDatabase.database.db;

  const tokenLogin: TestApp['tokenLogin'] = async (email, password) => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'password', username: email, password }).toString(),
    });
    if (response.statusCode !== 200) throw new Error(`token login failed: ${response.statusCode} ${response.body}`);
    const body = response.json<{ access_token: string; refresh_token: string }>();
    return { accessToken: body.access_token, refreshToken: body.refresh_token };
  };

  const cookieLogin: TestApp['cookieLogin'] = async (email, password) => {
    const response = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });
    if (response.statusCode !== 200) throw new Error(`cookie login failed: ${response.statusCode} ${response.body}`);
    return cookieSessionFrom(response.cookies, response.json<{ user: { id: string } }>().user.id);
  };

  return {
    app,
    config,
    database: testDatabase.database,
    signingKeys,
    tokens,
    tokenLogin,
    cookieLogin,
    async createUser(input = {}) {
      const email = input.email ?? `user-${randomUUID()}@example.test`;
      const password = input.password ?? DEFAULT_PASSWORD;
      const role = input.role ?? 'user';
      // Hashing is the slow part; users sharing a password share one hash.
      let hash = hashes.get(password);
      if (!hash) {
        hash = hasher.hash(password);
        hashes.set(password, hash);
      }
      const [row] = await db
        .insert(users)
        .values({ email: email.toLowerCase(), passwordHash: await hash, role, fullName: input.fullName ?? null })
        .returning({ id: users.id });
      if (!row) throw new Error('user insert returned nothing');
      const session = await tokenLogin(email, password);
      return { id: row.id, email, password, role, ...session, bearer: { authorization: `Bearer ${session.accessToken}` } };
    },
    async close() {
      try {
        await app.close();
      } finally {
        await testDatabase.close();
        if (config.redis.url) {
          await deleteRedisKeys(config.redis.url, config.redis.keyPrefix);
          await deleteRedisKeys(config.redis.url, config.jobs.prefix);
        }
      }
    },
  };
}

async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

/** Builds a CookieSession from the cookies of a login or refresh answer. */
export function cookieSessionFrom(cookies: { name: string; value: string }[], userId: string): CookieSession {
  const value = (name: string) => {
    const found = cookies.find((cookie) => cookie.name === name);
    if (!found) throw new Error(`no ${name} cookie in the answer`);
    return found.value;
  };
  const accessToken = value('access_token');
  const refreshToken = value('refresh_token');
  const csrfToken = value('csrf_token');
  const cookie = `access_token=${accessToken}; csrf_token=${csrfToken}`;
  return {
    userId,
    accessToken,
    refreshToken,
    csrfToken,
    cookie,
    authCookie: `${cookie}; refresh_token=${refreshToken}`,
    headers: { cookie, 'x-csrf-token': csrfToken },
  };
}

export async function setUserActive(testApp: TestApp, userId: string, isActive: boolean): Promise<void> {
  await testApp.database.db.update(users).set({ isActive }).where(eq(users.id, userId));
}

/**
 * The environment of a child `intake worker` (or worker script) that must share this test app's
 * database, Redis prefixes and queue prefix; `extra` adds or overrides variables.
 */
export function workerEnvironmentFor(config: Config, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    LOG_PRETTY: 'false',
    MIGRATE_ON_BOOT: 'false',
    DATA_DIR: config.dataDir,
    // Empty, not absent: the child must not inherit the parent's DATABASE_URL or REDIS_URL.
    DATABASE_URL: config.database.url ?? '',
    REDIS_URL: config.redis.url ?? '',
    REDIS_KEY_PREFIX: config.redis.keyPrefix,
    JOBS_QUEUE_PREFIX: config.jobs.prefix,
    // The child shares this test's DATA_DIR (keys, blobs), which the fleet check must accept.
    DATA_DIR_SHARED: 'true',
    ...extra,
  };
}
