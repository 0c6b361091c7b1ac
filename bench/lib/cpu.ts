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

/** CPU seconds of each process of named groups, to difference before and after a phase. */
export type CpuSample = Record<string, Map<number, number>>;

/** Reads the CPU seconds of every process of each group. */
export function sampleCpu(groups: Record<string, () => number[]>): CpuSample {
  const sample: CpuSample = {};
  for (const [name, pids] of Object.entries(groups)) {
    sample[name] = new Map(pids().map((pid) => [pid, cpuSecondsOf(pid)]));
  }
  return sample;
}

/**
 * CPU seconds each group used between two samples, process by process: one that started in
 * between counts from zero, one that ended in between is lost (its last seconds unread).
 */
export function cpuUsedBetween(before: CpuSample, after: CpuSample): Record<string, number> {
  const used: Record<string, number> = {};
  for (const [name, processes] of Object.entries(after)) {
    let seconds = 0;
    for (const [pid, total] of processes) seconds += total - (before[name]?.get(pid) ?? 0);
    used[name] = seconds;
  }
  return used;
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
