import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { freePort, sleep } from './net.js';

/** An engine started as a child process, so its CPU and memory can be read by pid. */
export interface EngineProcess {
  pid: number;
  address: string;
  /** Prometheus text from the engine's /metrics. */
  metrics(): Promise<string>;
  /** SIGTERM (graceful stop), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Options of startEngineProcess. */
export interface EngineProcessOptions {
  /** Environment on top of the bench's own (DATABASE_URL, REDIS_PREFIX, ROLES...). */
  env: Record<string, string>;
  /** Where the engine's stdout and stderr go. */
  logFile: string;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeFlags?: string[];
}

const READY_TIMEOUT_MS = 60_000;

/** Starts `src/main.ts` under node + tsx and waits until /readyz answers 200. */
export async function startEngineProcess(options: EngineProcessOptions): Promise<EngineProcess> {
  const port = await freePort();
  const flags = ['--import', 'tsx', ...(options.nodeFlags ?? []), 'src/main.ts'].join(' ');
  // 1,000 connections need more descriptors than some shells allow by default.
  const script = `ulimit -n 65536 2>/dev/null || ulimit -n $(ulimit -Hn); exec node ${flags}`;
  const log = openSync(options.logFile, 'a');
  const child = spawn('bash', ['-c', script], {
    env: { ...process.env, ...options.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const address = `http://127.0.0.1:${port}`;

  const engine: EngineProcess = {
    pid: child.pid ?? 0,
    address,
    metrics: async () => (await fetch(`${address}/metrics`)).text(),
    stop: (graceMs = 30_000) => stopChild(child, graceMs),
  };
  try {
    await waitUntilReady(child, address, options.logFile);
  } catch (error) {
    await engine.stop(1_000);
    throw error;
  }
  return engine;
}

async function waitUntilReady(child: ChildProcess, address: string, logFile: string) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`engine exited (${child.exitCode}): ${tail(logFile)}`);
    }
    const ready = await fetch(`${address}/readyz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return;
    await sleep(200);
  }
  throw new Error(`engine not ready in time: ${tail(logFile)}`);
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;

  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-2_000);
  } catch {
    return '(no log)';
  }
}

/** Sum of every sample of a metric (all label sets) in Prometheus text. */
export function metricSum(text: string, name: string, labelFilter?: RegExp): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labelFilter && !labelFilter.test(rest)) continue;
    sum += Number(rest.slice(rest.lastIndexOf(' ') + 1)) || 0;
  }
  return sum;
}
