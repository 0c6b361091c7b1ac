import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
import { buildApp, type AppDependencies } from '../../src/api/app.js';
import { createApiKey } from '../../src/api/auth/api-key.service.js';
import type { Config } from '../../src/config.js';
import { createPlainLogger } from '../../src/logger.js';
import { openRedis } from '../../src/redis.js';
import { testConfig, uniqueName } from './config.js';
import { createTestDatabase, type TestDatabase } from './database.js';

/** The env admin key of harness apps. */
export const ENV_ADMIN_KEY = 'env-admin-key-0123456789abcdef';

/** A test database, Redis prefix, API keys and a way to build apps on them. */
export interface ApiHarness {
  database: TestDatabase;
  config: Config;
  prefix: string;
  keys: { admin: string; viewer: string; envAdmin: string };
  /** Plain secrets that must never appear in a response body. */
  secrets: Set<string>;
  /** Builds an app on the harness's database and Redis prefix; closed by close(). */
  build(extra?: Partial<AppDependencies>): Promise<FastifyInstance>;
  /** Records a response body for the secret check. */
  record(body: string): void;
  /** inject() on the app, recording the body. */
  inject(app: FastifyInstance, options: InjectOptions): Promise<LightMyRequestResponse>;
  /** Bearer header for a key. */
  auth(key: string): Record<string, string>;
  /** Closes apps and connections, drops the database, then fails if a secret leaked. */
  close(): Promise<void>;
}

/** Sets up an ApiHarness for one test file. */
export async function createApiHarness(label: string): Promise<ApiHarness> {
  const database = await createTestDatabase(label);
  const prefix = uniqueName(`api_${label}`);
  const config = testConfig({ REDIS_PREFIX: prefix, ADMIN_API_KEY: ENV_ADMIN_KEY });
  const em = database.orm.em.fork();
  const admin = await createApiKey(em, { name: 'test-admin', role: 'admin' });
  const viewer = await createApiKey(em, { name: 'test-viewer', role: 'viewer' });
  const bodies: string[] = [];
  const secrets = new Set<string>();
  const apps: FastifyInstance[] = [];
  const redises: Redis[] = [];

  const harness: ApiHarness = {
    database,
    config,
    prefix,
    keys: { admin: admin.key, viewer: viewer.key, envAdmin: ENV_ADMIN_KEY },
    secrets,
    build: async (extra = {}) => {
      const redis = openRedis('redis://127.0.0.1:6379');
      redises.push(redis);
      const app = await buildApp({
        config,
        orm: database.orm,
        redis,
        logger: createPlainLogger('silent'),
        ...extra,
      });
      apps.push(app);
      await app.ready();
      return app;
    },
    record: (body) => bodies.push(body),
    inject: async (app, options) => {
      const response = await app.inject(options);
      bodies.push(response.body);
      return response;
    },
    auth: (key) => ({ authorization: `Bearer ${key}` }),
    close: async () => {
      for (const app of apps) await app.close();
      for (const redis of redises) redis.disconnect();
      const stored = await storedCiphertexts(database);
      await database.drop();
      assertNoSecretIn(bodies, [...secrets, ...stored]);
    },
  };
  return harness;
}

async function storedCiphertexts(database: TestDatabase): Promise<string[]> {
  const rows = await database.orm.em
    .getConnection()
    .execute<{ password_encrypted: string }[]>(
      'select password_encrypted from mqtt_connection where password_encrypted is not null',
    );
  return rows.map((row) => row.password_encrypted);
}

/** Throws when any body contains any secret (plain password or its ciphertext). */
export function assertNoSecretIn(bodies: string[], secrets: string[]): void {
  for (const secret of secrets) {
    const leaked = bodies.find((body) => body.includes(secret));
    if (leaked !== undefined) {
      throw new Error(`a response body contains a secret: ${leaked.slice(0, 200)}`);
    }
  }
}
