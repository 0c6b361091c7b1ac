import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ENTRY_POINTS = {
  main: fileURLToPath(new URL('../../src/main.ts', import.meta.url)),
  demo: fileURLToPath(new URL('../../src/demo.ts', import.meta.url)),
};

/** The engine as its own process, started the way `npm start` starts it. */
export interface EngineProcess {
  readonly child: ChildProcess;
  /** stdout and stderr so far, for failure messages. */
  output(): string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `src/main.ts` (or the demo) under tsx with the environment on top of this one's. */
export function spawnEngine(
  env: Record<string, string>,
  entry: keyof typeof ENTRY_POINTS = 'main',
): EngineProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY_POINTS[entry]], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));

  return {
    child,
    output: () => output,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
