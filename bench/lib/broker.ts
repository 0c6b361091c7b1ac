import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './net.js';

/** A Mosquitto of the benchmark's own, tuned so the broker is not what loses messages. */
export interface BenchBroker {
  port: number;
  url: string;
  /** The running broker's pid, for CPU and memory (0 while stopped). */
  pid(): number;
  start(): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

// The stock max_queued_messages (1000) drops even QoS 1 messages for a subscriber that
// stalls for a moment; the engine stalls on purpose when its pending limit is reached.
const CONFIG_LINES = [
  'allow_anonymous true',
  'log_dest none',
  'max_queued_messages 0',
  'max_queued_bytes 0',
  'max_inflight_messages 1000',
  'max_connections -1',
  'persistent_client_expiration 1h',
  'sys_interval 1',
];

/** Starts a private Mosquitto on a free loopback port with a raised file-descriptor limit. */
export async function startBenchBroker(): Promise<BenchBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'sitewire-bench-broker-'));
  const port = await freePort();
  const configFile = join(dir, 'mosquitto.conf');
  writeFileSync(configFile, [`listener ${port} 127.0.0.1`, ...CONFIG_LINES].join('\n') + '\n');

  let child: ChildProcess | undefined;
  const start = async () => {
    // `exec` keeps the pid: the shell becomes mosquitto after raising its own fd limit.
    const raiseLimit = 'ulimit -n 65536 2>/dev/null || ulimit -n $(ulimit -Hn)';
    const script = `${raiseLimit}; exec mosquitto -c ${configFile}`;
    child = spawn('bash', ['-c', script], { stdio: 'ignore' });
    await waitForPort(port, true);
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    await exited;
  };

  await start();
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    pid: () => child?.pid ?? 0,
    start,
    stop,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
