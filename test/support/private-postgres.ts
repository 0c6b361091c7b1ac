import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './private-redis.js';

const run = promisify(execFile);

/** Where the installed PostgreSQL keeps initdb and pg_ctl. */
export const POSTGRES_BIN = process.env.POSTGRES_BIN ?? '/usr/lib/postgresql/15/bin';

/** A PostgreSQL cluster of one test's own, which the test may stop and start again. */
export interface PrivatePostgres {
  port: number;
  /** Server URL without a database name (trust authentication, user postgres). */
  serverUrl: string;
  start(): Promise<void>;
  /** Stops the server: `fast` ends sessions cleanly, `immediate` is a crash-like stop. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Stops the server and removes its data folder. */
  dispose(): Promise<void>;
}

/**
 * Creates a cluster with initdb in a temporary folder and starts it with pg_ctl on a free
 * port, listening on 127.0.0.1 only. initdb refuses to run as root, so as root the commands
 * run as the `postgres` user, which then owns the folder.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'sitewire-pg-'));
  const data = join(dir, 'data');
  await chmod(dir, 0o777);
  await asPostgres('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync']);

  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const start = async () => {
    await asPostgres('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    await asPostgres('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']).catch(() => undefined);
  };

  await start();
  return {
    port,
    serverUrl: `postgres://postgres@127.0.0.1:${port}`,
    start,
    stop,
    dispose: async () => {
      await stop('immediate');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function asPostgres(command: string, args: string[]): Promise<void> {
  const binary = join(POSTGRES_BIN, command);
  const isRoot = process.getuid?.() === 0;
  if (isRoot) await run('runuser', ['-u', 'postgres', '--', binary, ...args]);
  else await run(binary, args);
}
