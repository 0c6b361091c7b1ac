import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/app.js';
import { createPlainLogger } from '../../src/logger.js';
import { openRedis } from '../../src/redis.js';
import { testConfig } from '../support/config.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

describe('health and readiness', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase('health');
  });

  afterAll(async () => {
    await database.drop();
  });

  async function appWith(
    redisUrl: string,
  ): Promise<{ app: FastifyInstance; close(): Promise<void> }> {
    const redis = openRedis(redisUrl);
    redis.on('error', () => undefined);
    const app = await buildApp({
      config: testConfig(),
      orm: database.orm,
      redis,
      logger: createPlainLogger('silent'),
    });
    return {
      app,
      close: async () => {
        await app.close();
        redis.disconnect();
      },
    };
  }

  it('answers alive and ready while PostgreSQL and Redis answer', async () => {
    const { app, close } = await appWith('redis://127.0.0.1:6379');

    const health = await app.inject({ method: 'GET', url: '/healthz' });
    const ready = await app.inject({ method: 'GET', url: '/readyz' });

    expect(health.statusCode).toBe(200);
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { postgres: 'up', redis: 'up' } });
    await close();
  });

  it('is alive but not ready while Redis is unreachable', async () => {
    const { app, close } = await appWith('redis://127.0.0.1:1');

    const health = await app.inject({ method: 'GET', url: '/healthz' });
    const ready = await app.inject({ method: 'GET', url: '/readyz' });

    expect(health.statusCode).toBe(200);
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ status: 'unready', checks: { redis: 'down' } });
    await close();
  });
});
