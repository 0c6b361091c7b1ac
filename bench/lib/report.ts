import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionsResult } from '../phases/connections.phase.js';
import type { ControlResult } from '../phases/control.phase.js';
import type { LatencyResult } from '../phases/latency.phase.js';
import type { LimitsResult } from '../phases/limits.phase.js';
import type { OverloadResult } from '../phases/overload.phase.js';
import type { ThroughputResult } from '../phases/throughput.phase.js';
import { round } from './context.js';

/** Everything one run measured, as written to bench/results/. */
export interface BenchReport {
  profile: string;
  /** The simulated fleet: sites and gateways. */
  fleet: { sites: number; gateways: number };
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGb: number; node: string };
  loadAtStart: number[];
  engineSettings: Record<string, string | number>;
  limits?: LimitsResult;
  throughput?: ThroughputResult;
  latency?: LatencyResult;
  control?: ControlResult;
  overload?: OverloadResult;
  connections?: ConnectionsResult;
  errors: string[];
}

type Row = [string, string, string, string];

/** The table printed at the end: figure, value, target, verdict. */
export function formatTable(report: BenchReport): string {
  const rows: Row[] = [['measure', 'value', 'target', 'verdict']];
  throughputRows(report, rows);
  latencyRows(report, rows);
  connectionRows(report, rows);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  const line = (row: Row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join('\n');
}

function throughputRows(report: BenchReport, rows: Row[]): void {
  const { limits, throughput } = report;
  const best = throughput?.best;
  if (limits) {
    rows.push([
      'bare mqtt.js subscriber, QoS 1',
      `${fmt(limits.bareSubscriberMessagesPerSecond)} msg/s`,
      'limit',
      '',
    ]);
    rows.push([
      'PostgreSQL COPY, same rows',
      `${fmt(limits.copyRowsPerSecond)} rows/s`,
      'limit',
      '',
    ]);
  }
  if (!throughput) return;
  const msgs = best?.messagesPerSecond ?? 0;
  const readings = best?.readingsPerSecond ?? 0;
  rows.push([
    'engine sustained, lossless',
    `${fmt(msgs)} msg/s`,
    '>= 4,000 msg/s',
    verdict(msgs >= 4_000),
  ]);
  rows.push(['engine sustained readings', `${fmt(readings)} readings/s`, '~65,000', '']);
  if (limits) {
    const copyRatio = readings / limits.copyRowsPerSecond;
    const bareRatio = msgs / limits.bareSubscriberMessagesPerSecond;
    rows.push(['  ratio to bare subscriber', `${ratio(bareRatio)}`, '', '']);
    rows.push(['  ratio to COPY', `${ratio(copyRatio)}`, '>= 0.25', verdict(copyRatio >= 0.25)]);
  }
  const stored = throughput.storedInDatabase === throughput.expectedInDatabase;
  rows.push([
    'readings stored / published',
    `${fmt(throughput.storedInDatabase)} / ${fmt(throughput.expectedInDatabase)}`,
    'equal',
    verdict(stored),
  ]);
  for (const [name, seconds] of Object.entries(best?.cpuPer10kMessages ?? {})) {
    rows.push([`CPU s per 10k msg: ${name}`, String(seconds), '', '']);
  }
}

function latencyRows(report: BenchReport, rows: Row[]): void {
  const { latency, control } = report;
  if (latency) {
    const value = `${latency.p50Ms} / ${latency.p99Ms} / ${latency.maxMs} ms`;
    rows.push([
      `publish->row p50/p99/max @ ${fmt(latency.rate)} msg/s`,
      value,
      'p99 < 1,000 ms',
      verdict(latency.p99Ms < 1_000),
    ]);
  }
  if (control) {
    const flips = `${control.flips} flips, ${control.timedOut} timed out`;
    const value = `${control.p50Ms} / ${control.p99Ms} ms (${flips})`;
    rows.push([
      'control flag->effect p50/p99',
      value,
      'p99 < 1,000 ms',
      verdict(control.p99Ms < 1_000 && control.timedOut === 0),
    ]);
  }
}

function connectionRows(report: BenchReport, rows: Row[]): void {
  const { overload, connections } = report;
  if (overload) {
    rows.push([
      `overload ${fmt(overload.publishedPerSecond)} msg/s: engine RSS peak`,
      `${overload.rssPeakMb} MB (bound ${overload.rssBoundMb})`,
      'under bound',
      verdict(overload.withinBound),
    ]);
    rows.push([
      'overload: stored / published readings',
      `${fmt(overload.storedInDatabase)} / ${fmt(overload.expectedInDatabase)}` +
        ` (drain ${overload.drainSeconds ?? '-'} s)`,
      'equal',
      verdict(overload.lossless),
    ]);
  }
  if (connections) {
    const n = fmt(connections.connections);
    rows.push([
      `${n} connections: all connected`,
      `${connections.connectSeconds ?? 'timeout'} s @ ${connections.admissionRatePerSecond}/s`,
      '< 30 s (1,000)',
      verdict(connections.connectSeconds !== null && connections.connectSeconds < 30),
    ]);
    rows.push([
      'RSS per idle connection',
      `${connections.kbPerConnection} KB`,
      '< 200 KB',
      verdict(connections.kbPerConnection < 200),
    ]);
    rows.push([
      'broker restart: all back',
      `${connections.reconnectSeconds ?? 'timeout'} s`,
      '< 60 s',
      verdict(connections.reconnectSeconds !== null && connections.reconnectSeconds < 60),
    ]);
    const limit = connections.admissionRatePerSecond;
    // Attempts within any one second, timed as they reach the broker.
    const rate = (name: string, value: number) =>
      rows.push([name, `${value} /s`, `<= ${limit} /s`, verdict(value <= limit)]);
    rate('  highest connect rate', connections.highestConnectRatePerSecond);
    rate('  highest reconnect rate', connections.highestReconnectRatePerSecond);
  }
}

/** Writes the report as JSON under bench/results/ and returns the file's path. */
export function writeReport(report: BenchReport, folder: string): string {
  mkdirSync(folder, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const file = join(folder, `bench-${report.profile}-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(
    join(folder, `latest-${report.profile}.json`),
    `${JSON.stringify(report, null, 2)}\n`,
  );
  return file;
}

function fmt(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function ratio(value: number): string {
  return Number.isFinite(value) ? `${round(value, 3)}` : '-';
}

function verdict(ok: boolean): string {
  return ok ? 'met' : 'MISSED';
}
