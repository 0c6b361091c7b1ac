import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { replayParsingLogs } from '../../src/ingest/parsing-log.replay.js';
import { collectQueueMetrics, EXPORTED_JOB_STATES } from '../../src/ingest/queue-metrics.js';
import { INGEST_QUEUE } from '../../src/ingest/queue-names.js';
import type { Parser } from '../../src/parsers/parser.js';
import { createDefaultRegistry } from '../../src/parsers/index.js';
import { counterTotal, startIngestHarness, type IngestHarness } from '../support/ingest-harness.js';
import { waitFor } from '../support/mqtt-source.js';

/** A parser whose schema a test can loosen, as an integrator fixing a parser would. */
let probeAcceptsText = false;
const ProbeStrictSchema = z.object({ serial: z.string(), level: z.number() });
const ProbeLenientSchema = z.object({ serial: z.string(), level: z.coerce.number() });
const probeParser: Parser<{ serial: string; level: number }> = {
  parserName: 'probe',
  topicFilter: '+/probe/+',
  description: 'A level probe, for tests.',
  get schema() {
    return probeAcceptsText ? ProbeLenientSchema : ProbeStrictSchema;
  },
  samples: [],
  process(payload, context, batch) {
    const seenAt = context.receivedAt;
    const gateway = `PG-${payload.serial}`;
    batch.upsertGateway({ serialNumber: gateway, seenAt, isOnline: true });
    const datalogger = `PL-${payload.serial}`;
    batch.upsertDatalogger({
      serialNumber: datalogger,
      gatewaySerialNumber: gateway,
      status: 'ok',
      seenAt,
    });
    batch.upsertDevice({
      serialNumber: payload.serial,
      dataloggerSerialNumber: datalogger,
      deviceType: 'Probe',
      seenAt,
    });
    const sensor = `${payload.serial}-level`;
    batch.upsertSensor({
      serialNumber: sensor,
      deviceSerialNumber: payload.serial,
      sensorType: 'level',
    });
    batch.addReading({ sensorSerialNumber: sensor, ts: seenAt, value: { value: payload.level } });
  },
};

const registry = createDefaultRegistry().register(probeParser);

/** The SPEC's sample telemetry, for a given gateway and time. */
function telemetry(gateway: string, timestamp: string, extra: object = {}) {
  return JSON.stringify({
    serial_number_gateway: gateway,
    timestamp,
    message_interval_seconds: 60,
    mqtt_api_version: '1.0.0',
    dataloggers: [
      {
        serial_number_datalogger: `DL-${gateway}`,
        status_datalogger: 'ok',
        devices: [
          {
            type: 'TLT-01',
            'serial number device': `DEV-${gateway}`,
            data: [
              { type: 'accelerometer', value: [0.01, -0.02, 9.81] },
              { type: 'inclinometer', value: [1.2, -0.4] },
              { type: 'temperature', value: 21.5 },
            ],
          },
        ],
      },
    ],
    ...extra,
  });
}

/** A one-sensor telemetry message with a chosen value. */
function temperature(gateway: string, timestamp: string, value: unknown) {
  return JSON.stringify({
    serial_number_gateway: gateway,
    timestamp,
    dataloggers: [
      {
        serial_number_datalogger: `DL-${gateway}`,
        status_datalogger: 'ok',
        devices: [
          { type: 'T', serial_number_device: `DEV-${gateway}`, data: [{ type: 'temp', value }] },
        ],
      },
    ],
  });
}

const telemetryTopic = (gateway: string) => `gateway/${gateway}/dataloggers/telemetry`;

describe('ingest from broker to database', () => {
  let h: IngestHarness;
  /** Messages published per topic (relative to the prefix), to check the catalogue. */
  const sent = new Map<string, number>();

  async function publish(sub: string, payload: string | Buffer, qos: 0 | 1 = 1) {
    sent.set(sub, (sent.get(sub) ?? 0) + 1);
    await h.publish(sub, payload, qos);
  }

  async function parsingLogs(topicSub: string) {
    return h.rows<{
      error_type: string;
      error_message: string;
      raw_payload: Buffer | null;
      raw_payload_truncated: boolean;
      exception_type: string;
      payload_sample: string;
      qos: number;
      id: string;
    }>('select * from mqtt_parsing_log where topic = $1 order by id', [`${h.prefix}/${topicSub}`]);
  }

  beforeAll(async () => {
    h = await startIngestHarness({
      label: 'ingest',
      registry,
      topics: [
        { pattern: 'gateway/+/dataloggers/telemetry' },
        { pattern: 'gateway/+/status' },
        { pattern: 'probe/+', parserName: 'probe' },
        { pattern: 'paused/#', isActive: false },
        { pattern: 'unknown-format/#' },
      ],
    });
  });

  afterAll(async () => {
    await h?.stop();
  });

  it('stores the sample telemetry as the whole gateway tree with normalised values', async () => {
    await publish(telemetryTopic('GW-0001'), telemetry('GW-0001', '2026-12-03T15:00:00Z'));

    const readings = await waitFor(async () => {
      const rows = await h.rows<{ sensor_type: string; value: unknown; ts: Date }>(
        `select s.sensor_type, r.value, r.ts from sensor_reading r
         join sensor s on s.id = r.sensor_id join device d on d.id = s.device_id
         where d.serial_number = 'DEV-GW-0001' order by s.sensor_type`,
      );
      return rows.length === 3 ? rows : undefined;
    });

    expect(readings.map((row) => [row.sensor_type, row.value])).toEqual([
      ['accelerometer', { x: 0.01, y: -0.02, z: 9.81 }],
      ['inclinometer', { pitch: 1.2, roll: -0.4 }],
      ['temperature', { value: 21.5 }],
    ]);
    const [tree] = await h.rows<Record<string, unknown>>(
      `select g.site_id, g.is_online, g.expected_heartbeat_interval, g.mqtt_api_version,
         dl.status, dl.site_id as dl_site, d.device_type, d.device_type_normalized,
         (select count(*)::int from sensor where device_id = d.id) as sensors,
         (select last_reading from sensor where device_id = d.id and sensor_type = 'temperature')
           as last_temperature
       from gateway g join datalogger dl on dl.gateway_id = g.id
         join device d on d.datalogger_id = dl.id
       where g.serial_number = 'GW-0001'`,
    );
    expect(tree).toMatchObject({
      site_id: h.site.id,
      is_online: true,
      expected_heartbeat_interval: 60,
      mqtt_api_version: '1.0.0',
      status: 'ok',
      dl_site: h.site.id,
      device_type: 'TLT-01',
      device_type_normalized: 'tlt-01',
      sensors: 3,
      last_temperature: { value: 21.5 },
    });

    const [topic] = await h.rows(
      'select is_processable, parser_name from discovered_topic where topic_path = $1',
      [`${h.prefix}/${telemetryTopic('GW-0001')}`],
    );
    expect(topic).toEqual({ is_processable: true, parser_name: 'telemetry' });
    await waitFor(() => h.events.some((e) => e.type === 'data_update' && e.siteId === h.site.id));
    expect(h.events.some((e) => e.type === 'gateway.online')).toBe(true);
  });

  it('stores one reading when the same message is delivered twice', async () => {
    const payload = telemetry('GW-TWICE', '2026-12-03T15:01:00Z');
    await publish(telemetryTopic('GW-TWICE'), payload);
    await publish(telemetryTopic('GW-TWICE'), payload);

    await waitFor(async () => (await counterTotal(h.metrics.messagesPersisted)) >= 3);
    await waitFor(async () => {
      const [row] = await h.rows<{ message_count: string }>(
        'select message_count from discovered_topic where topic_path = $1',
        [`${h.prefix}/${telemetryTopic('GW-TWICE')}`],
      );
      return Number(row?.message_count) === 2;
    });
    const [count] = await h.rows<{ n: number }>(
      `select count(*)::int as n from sensor_reading r join sensor s on s.id = r.sensor_id
       where s.serial_number like 'DEV-GW-TWICE-%'`,
    );
    expect(count?.n).toBe(3);
  });

  it('stores 99 of 100 messages and quarantines the malformed one with its failing paths', async () => {
    const topic = telemetryTopic('GW-BATCH');
    for (let i = 0; i < 100; i += 1) {
      const ts = new Date(Date.UTC(2026, 11, 3, 10, 0, i)).toISOString();
      await publish(topic, temperature('GW-BATCH', ts, i === 42 ? 'hot' : i));
    }

    const stored = await waitFor(async () => {
      const [row] = await h.rows<{ n: number }>(
        `select count(*)::int as n from sensor_reading r join sensor s on s.id = r.sensor_id
         where s.serial_number = 'DEV-GW-BATCH-temp'`,
      );
      return row?.n === 99 ? row.n : undefined;
    });
    expect(stored).toBe(99);

    const logs = await waitFor(async () => {
      const rows = await parsingLogs(topic);
      return rows.length ? rows : undefined;
    });
    expect(logs).toHaveLength(1);
    expect(logs[0]!.error_type).toBe('VALIDATION_ERROR');
    expect(logs[0]!.error_message).toContain('dataloggers.0.devices.0.data.0.value');
    expect(logs[0]!.raw_payload?.toString()).toContain('"hot"');
    expect(logs[0]!.qos).toBe(1);
  });

  it('quarantines non-JSON, wrong schema, bad timestamp and oversized payloads', async () => {
    const cases = {
      'GW-TEXT': Buffer.from('temperature=21.5'),
      'GW-SCHEMA': JSON.stringify({ serial_number_gateway: 'GW-SCHEMA', dataloggers: 'none' }),
      'GW-CLOCK': temperature('GW-CLOCK', 'yesterday at noon', 1),
      'GW-HUGE': Buffer.alloc(1024 * 1024 + 10, 0x20),
    };
    for (const [gateway, payload] of Object.entries(cases)) {
      await publish(telemetryTopic(gateway), payload);
    }

    const reasons: Record<string, string> = {};
    for (const gateway of Object.keys(cases)) {
      const [log] = await waitFor(async () => {
        const rows = await parsingLogs(telemetryTopic(gateway));
        return rows.length ? rows : undefined;
      });
      expect(log!.error_type).toBe('VALIDATION_ERROR');
      reasons[gateway] = log!.error_message;
      if (gateway === 'GW-HUGE') {
        expect(log!.raw_payload_truncated).toBe(true);
        expect(log!.raw_payload?.length).toBe(256 * 1024);
      }
    }

    expect(reasons['GW-TEXT']).toMatch(/not JSON/);
    expect(reasons['GW-SCHEMA']).toMatch(/timestamp/);
    expect(reasons['GW-SCHEMA']).toMatch(/dataloggers/);
    expect(reasons['GW-CLOCK']).toMatch(/timestamp/);
    expect(reasons['GW-HUGE']).toMatch(/limit/);

    const topics = await waitFor(async () => {
      const rows = await h.rows<{ topic_path: string; sample_payload: unknown }>(
        `select topic_path, sample_payload from discovered_topic where topic_path = any($1)`,
        [Object.keys(cases).map((gateway) => `${h.prefix}/${telemetryTopic(gateway)}`)],
      );
      return rows.length === 4 ? rows : undefined;
    });
    const samples = Object.fromEntries(
      topics.map((row) => [row.topic_path.split('/')[2], row.sample_payload]),
    );
    expect(samples['GW-TEXT']).toBeNull();
    expect(samples['GW-HUGE']).toMatchObject({ size_bytes: 1024 * 1024 + 10 });
    expect(h.events.some((e) => e.type === 'parsing_error')).toBe(true);
  });

  it('catalogues unconfigured, inactive and parserless topics without parsing them', async () => {
    await publish('elsewhere/thing', '{"a":1}');
    await publish('paused/thing', '{"a":2}');
    await publish('unknown-format/thing', '{"a":3}');

    const rows = await waitFor(async () => {
      const found = await h.rows<{
        topic_path: string;
        is_processable: boolean;
        sample_payload: unknown;
      }>(
        `select topic_path, is_processable, sample_payload from discovered_topic
         where topic_path = any($1) order by topic_path`,
        [
          ['elsewhere/thing', 'paused/thing', 'unknown-format/thing'].map(
            (t) => `${h.prefix}/${t}`,
          ),
        ],
      );
      return found.length === 3 ? found : undefined;
    });
    expect(rows.map((row) => [row.is_processable, row.sample_payload])).toEqual([
      [false, { a: 1 }],
      [false, { a: 2 }],
      [false, { a: 3 }],
    ]);
    expect(await counterTotal(h.metrics.messagesSkipped, { reason: 'unconfigured' })).toBe(1);
    expect(await counterTotal(h.metrics.messagesSkipped, { reason: 'inactive' })).toBe(1);
    expect(await counterTotal(h.metrics.messagesSkipped, { reason: 'no_parser' })).toBe(1);
    const logs = await h.rows(`select id from mqtt_parsing_log where topic like $1`, [
      `${h.prefix}/%/thing`,
    ]);
    expect(logs).toHaveLength(0);
  });

  it('replays a quarantined message once its parser accepts it', async () => {
    await publish('probe/P-1', JSON.stringify({ serial: 'P-1', level: '7.5' }));
    const [log] = await waitFor(async () => {
      const rows = await parsingLogs('probe/P-1');
      return rows.length ? rows : undefined;
    });
    expect(log!.error_message).toContain('level');

    const refused = await replayParsingLogs(
      { orm: h.db.orm, registry },
      { ids: [Number(log!.id)] },
    );
    expect(refused.outcomes[0]!.outcome).toMatch(/^failed: .*level/);

    probeAcceptsText = true;
    const replayed = await replayParsingLogs(
      { orm: h.db.orm, registry },
      { ids: [Number(log!.id)] },
    );
    expect(replayed.outcomes).toEqual([{ id: Number(log!.id), outcome: 'stored' }]);

    const [reading] = await h.rows<{ value: unknown }>(
      `select r.value from sensor_reading r join sensor s on s.id = r.sensor_id
       where s.serial_number = 'P-1-level'`,
    );
    expect(reading?.value).toEqual({ value: 7.5 });
    const [row] = await h.rows<{ replay_outcome: string; replayed_at: Date | null }>(
      'select replay_outcome, replayed_at from mqtt_parsing_log where id = $1',
      [log!.id],
    );
    expect(row?.replay_outcome).toBe('stored');
    expect(row?.replayed_at).not.toBeNull();
  });

  it('parses a topic as soon as its pattern is configured, without a restart', async () => {
    await publish('later/P-9', JSON.stringify({ serial: 'P-9', level: 1 }));
    await waitFor(
      async () => (await counterTotal(h.metrics.messagesSkipped, { reason: 'unconfigured' })) === 2,
    );

    await h.rows(
      `insert into mqtt_topic (mqtt_connection_id, topic_pattern, parser_name)
       values ($1, $2, 'probe')`,
      [h.connection.id, `${h.prefix}/later/+`],
    );
    await waitFor(
      () => h.pipeline.routes.decide(h.connection.id, `${h.prefix}/later/P-9`).kind === 'route',
      5_000,
      20,
    );
    await publish('later/P-9', JSON.stringify({ serial: 'P-9', level: 2 }));

    const [reading] = await waitFor(async () => {
      const found = await h.rows<{ value: unknown }>(
        `select r.value from sensor_reading r join sensor s on s.id = r.sensor_id
         where s.serial_number = 'P-9-level'`,
      );
      return found.length ? found : undefined;
    });
    expect(reading?.value).toEqual({ value: 2 });
  });

  it('exports queue depth on demand', async () => {
    const queue = new Queue(INGEST_QUEUE, { connection: h.redis, prefix: h.prefix });
    try {
      await collectQueueMetrics([queue], h.metrics);
      const { values } = await h.metrics.queueDepth.get();
      expect(values.map((v) => v.labels.state).sort()).toEqual([...EXPORTED_JOB_STATES].sort());
    } finally {
      await queue.close();
    }
  });

  it('counts every message sent in the topic catalogue, and the metrics add up', async () => {
    const expected = Object.fromEntries(
      [...sent.entries()].map(([sub, count]) => [`${h.prefix}/${sub}`, count]),
    );
    await waitFor(async () => {
      const rows = await h.rows<{ topic_path: string; message_count: string }>(
        'select topic_path, message_count from discovered_topic where site_id = $1',
        [h.site.id],
      );
      const actual = Object.fromEntries(
        rows.map((row) => [row.topic_path, Number(row.message_count)]),
      );
      return JSON.stringify(sortKeys(actual)) === JSON.stringify(sortKeys(expected));
    });

    const total = [...sent.values()].reduce((sum, count) => sum + count, 0);
    const m = h.metrics;
    const received = await counterTotal(m.messagesReceived);
    expect(received).toBe(total);
    const accounted =
      (await counterTotal(m.messagesRouted)) +
      (await counterTotal(m.messagesSkipped)) +
      (await counterTotal(m.messagesDropped));
    expect(accounted).toBe(received);
    await waitFor(async () => {
      const done =
        (await counterTotal(m.messagesPersisted)) + (await counterTotal(m.messagesQuarantined));
      return done === (await counterTotal(m.messagesEnqueued));
    });
  });
});

function sortKeys(record: Record<string, number>): Array<[string, number]> {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
}
