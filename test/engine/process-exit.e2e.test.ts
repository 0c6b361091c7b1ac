import { describe, expect, it } from 'vitest';
import { spawnEngine } from '../support/engine-process.js';

// Each process exits non-zero when it cannot do its job, so compose, systemd or Kubernetes
// restart it, instead of limping on.
describe('process exits', () => {
  it('exits 2 listing every problem when the environment is bad', async () => {
    const engine = spawnEngine({ PORT: 'eighty', ROLES: 'api,janitor' });

    const code = await engine.exited;

    expect(code).toBe(2);
    expect(engine.output()).toContain('PORT');
    expect(engine.output()).toContain('ROLES');
  }, 60_000);

  it('exits 1 when PostgreSQL cannot be reached at start', async () => {
    const engine = spawnEngine({
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/sitewire',
      PORT: '0',
      ROLES: 'worker',
    });

    const code = await engine.exited;

    expect(code).toBe(1);
    expect(engine.output()).toContain('engine failed to start');
  }, 60_000);
});
