import type { MikroORM } from '@mikro-orm/postgresql';
import { autocommitRunner } from '../src/ingest/sql-runner.js';
import { SAMPLE_PAYLOAD_LIMIT, type TopicStats } from './aggregate-topic-stats.operator.js';

// One statement per flush, whatever the number of topics and messages behind it. The
// average stays exact across flushes because each flush carries its byte sum and count.
// Rows are sorted by key so this cannot deadlock with a worker marking topics processable.
const UPSERT_TOPIC_STATS = `
insert into discovered_topic as t (site_id, topic_path, first_seen_at, last_seen_at,
  message_count, sample_payload, payload_size_avg)
select r.site_id, left(r.topic_path, 500), r.first_seen_at, r.last_seen_at, r.message_count,
  r.sample_payload, r.payload_bytes::float8 / r.message_count
from jsonb_to_recordset(?::jsonb) as r(site_id int, topic_path text, first_seen_at timestamptz,
    last_seen_at timestamptz, message_count bigint, payload_bytes bigint, sample_payload jsonb)
order by r.site_id, r.topic_path
on conflict (site_id, topic_path) do update set
  first_seen_at = least(t.first_seen_at, excluded.first_seen_at),
  last_seen_at = greatest(t.last_seen_at, excluded.last_seen_at),
  payload_size_avg = (coalesce(t.payload_size_avg, 0) * t.message_count
    + excluded.payload_size_avg * excluded.message_count)
    / nullif(t.message_count + excluded.message_count, 0),
  message_count = t.message_count + excluded.message_count,
  sample_payload = coalesce(excluded.sample_payload, t.sample_payload)`;

// Configured topics no parser can take; written with the flush, not per message.
const MARK_NOT_PROCESSABLE = `
update discovered_topic t set is_processable = false, parser_name = ''
from jsonb_to_recordset(?::jsonb) as r(site_id int, topic_path text)
where t.site_id = r.site_id and t.topic_path = left(r.topic_path, 500)
  and (t.is_processable or t.parser_name <> '')`;

/** Writes one flush of the topic catalogue: counts, sizes, samples, unparsable topics. */
export async function writeTopicStats(orm: MikroORM, stats: TopicStats[]): Promise<void> {
  if (!stats.length) return;

  const run = autocommitRunner(orm);
  const rows = stats.map((entry) => ({
    site_id: entry.siteId,
    topic_path: entry.topicPath,
    first_seen_at: entry.firstSeenAt.toISOString(),
    last_seen_at: entry.lastSeenAt.toISOString(),
    message_count: entry.messageCount,
    payload_bytes: entry.payloadBytes,
    sample_payload: samplePayload(entry.lastPayload, entry.lastPayloadBytes),
  }));
  await run(UPSERT_TOPIC_STATS, [JSON.stringify(rows)]);

  const unparsable = stats.filter((entry) => entry.noParser);
  if (unparsable.length) {
    const keys = unparsable.map((entry) => ({
      site_id: entry.siteId,
      topic_path: entry.topicPath,
    }));
    await run(MARK_NOT_PROCESSABLE, [JSON.stringify(keys)]);
  }
}

/**
 * A payload as the catalogue keeps it: the decoded JSON when it is JSON and at most
 * SAMPLE_PAYLOAD_LIMIT bytes; for a larger one (never kept nor decoded, so a huge payload
 * costs nothing) the marker `{sample_omitted, size_bytes}`; null for anything else, which
 * keeps the last JSON sample stored.
 */
export function samplePayload(payload: Buffer | undefined, sizeBytes: number): unknown {
  if (payload === undefined || sizeBytes > SAMPLE_PAYLOAD_LIMIT) {
    return {
      sample_omitted: `payload larger than ${SAMPLE_PAYLOAD_LIMIT} bytes`,
      size_bytes: sizeBytes,
    };
  }

  try {
    const text = payload.toString('utf8');
    // PostgreSQL's jsonb cannot hold a NUL character.
    if (text.includes('\u0000') || text.includes('\\u0000')) return null;
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
