import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateApiKey } from '../../src/api/auth/api-key.service.js';
import { ApiKeySchema } from '../../src/entities/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const run = promisify(execFile);

describe('apikey command', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase('apikey_cli');
  });

  afterAll(async () => {
    await database.drop();
  });

  const apikey = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'scripts/apikey.ts', ...args], {
      env: { ...process.env, DATABASE_URL: database.url, LOG_LEVEL: 'silent' },
    });

  it('creates a key shown once, lists it without the key, and revokes it', async () => {
    const created = await apikey('create', '--role', 'viewer', '--name', 'ops');
    const key = created.stdout.trim().split('\n').at(-1)!;
    expect(key).toMatch(/^sw_[A-Za-z0-9_-]{43}$/);

    const row = await database.orm.em.fork().findOneOrFail(ApiKeySchema, { name: 'ops' });
    expect(row.keyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.keyHash).not.toContain(key);
    const principal = await authenticateApiKey(database.orm.em.fork(), key, undefined);
    expect(principal).toMatchObject({ role: 'viewer', name: 'ops' });

    const listed = await apikey('list');
    expect(listed.stdout).toContain('ops');
    expect(listed.stdout).not.toContain(key);

    const revoked = await apikey('revoke', String(row.id));
    expect(revoked.stdout).toContain(`revoked key ${row.id}`);
    expect(await authenticateApiKey(database.orm.em.fork(), key, undefined)).toBeNull();
  });

  it('refuses an unknown role', async () => {
    await expect(apikey('create', '--role', 'root', '--name', 'x')).rejects.toMatchObject({
      code: 2,
    });
  });
});
