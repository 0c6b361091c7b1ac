import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU seconds (user + system) a process and its reaped children have used so far. */
export function cpuSecondsOf(pid: number): number {
  try {
    // Fields after the command name (which may contain spaces) start at field 3 (state).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index]), 0);
    return ticks / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** The pids of every running process with this exact command name. */
export function pidsNamed(name: string): number[] {
  try {
    return execFileSync('pgrep', ['-x', name])
      .toString()
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** CPU seconds of named process groups, to difference before and after a phase. */
export function sampleCpu(groups: Record<string, () => number[]>): Record<string, number> {
  const sample: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups)) {
    sample[name] = pids().reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);
  }
  return sample;
}

/** Resident memory of a process in bytes. */
export function residentBytesOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
