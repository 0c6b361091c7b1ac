import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { readingsPerMessage, type SimulatedGateway } from '../../src/simulator/fleet.js';
import { telemetryPayload } from '../../src/simulator/payloads.js';

/**
 * The machine's own limit for storing readings: PostgreSQL `COPY` of the same reading rows
 * the engine stores (same table, same primary key, same jsonb values), into a scratch copy
 * of sensor_reading. Returns rows per second.
 */
export async function measureCopyRate(
  databaseUrl: string,
  fleet: SimulatedGateway[],
  messages: number,
): Promise<{ rows: number; seconds: number; rowsPerSecond: number }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('drop table if exists bench_copy_reading');
    await client.query(
      `create table bench_copy_reading (like sensor_reading including defaults including indexes)`,
    );
    const rows = readingRows(fleet, messages);
    const started = process.hrtime.bigint();
    await pipeline(
      Readable.from(rows),
      client.query(copyFrom('copy bench_copy_reading (sensor_id, ts, value) from stdin')),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const count = fleet.length === 0 ? 0 : rowsCount(fleet, messages);
    return { rows: count, seconds, rowsPerSecond: count / seconds };
  } finally {
    await client.query('drop table if exists bench_copy_reading').catch(() => undefined);
    await client.end();
  }
}

function rowsCount(fleet: SimulatedGateway[], messages: number): number {
  let total = 0;
  for (let index = 0; index < messages; index += 1) {
    total += readingsPerMessage(fleet[index % fleet.length]!);
  }
  return total;
}

// Sensor ids are synthetic (one per sensor of the fleet): the scratch table has no foreign key.
function* readingRows(fleet: SimulatedGateway[], messages: number): Generator<string> {
  const base = Date.parse('2026-01-01T00:00:00Z');
  const sensorIds = new Map<string, number>();
  for (let index = 0; index < messages; index += 1) {
    const gateway = fleet[index % fleet.length]!;
    const ts = new Date(base + index);
    const payload = telemetryPayload(gateway, ts, index);
    let chunk = '';
    for (const datalogger of payload.dataloggers) {
      for (const device of datalogger.devices) {
        for (const item of device.data) {
          const serial = `${device['serial number device']}-${item.type}`;
          let id = sensorIds.get(serial);
          if (id === undefined) sensorIds.set(serial, (id = sensorIds.size + 1));
          const value = JSON.stringify({ value: item.value }).replace(/\\/g, '\\\\');
          chunk += `${id}\t${ts.toISOString()}\t${value}\n`;
        }
      }
    }
    yield chunk;
  }
}
