import pg from 'pg';

/** The database server the bench uses; the same one `npm start` uses by default. */
export const BENCH_SERVER_URL =
  process.env.BENCH_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432';

/** A site the bench configures: its topic prefix and the connection's id. */
export interface BenchSite {
  code: string;
  siteId: number;
  connectionId: number;
}

/** Drops and recreates the bench database; the engine migrates it when it starts. */
export async function recreateDatabase(name: string): Promise<string> {
  await adminQuery(`drop database if exists "${name}" with (force)`);
  await adminQuery(`create database "${name}"`);
  return `${BENCH_SERVER_URL}/${name}`;
}

/** Drops the bench database, ending any session still open on it. */
export async function dropDatabase(name: string): Promise<void> {
  await adminQuery(`drop database if exists "${name}" with (force)`);
}

async function adminQuery(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: `${BENCH_SERVER_URL}/postgres` });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/**
 * A column of the bench's own on the readings table: the clock at the row's insert, inside
 * the transaction that commits it. Added while the table is empty, so no rewrite; the
 * engine's INSERT names its columns, so the default fills it.
 */
export async function addInsertClock(db: pg.Client): Promise<void> {
  await db.query(
    'alter table sensor_reading add column if not exists bench_inserted_at timestamptz ' +
      'not null default clock_timestamp()',
  );
}

/** Creates sites with a connection to the broker and the two shipped parsers' topics. */
export async function seedSites(
  db: pg.Client,
  codes: string[],
  brokerPort: number,
  options: { topics?: boolean; active?: boolean } = {},
): Promise<BenchSite[]> {
  // One transaction, so the engine never sees a connection without its topics.
  await db.query('begin');
  try {
    const sites = await insertSites(db, codes, brokerPort, options);
    await db.query('commit');
    return sites;
  } catch (error) {
    await db.query('rollback');
    throw error;
  }
}

async function insertSites(
  db: pg.Client,
  codes: string[],
  brokerPort: number,
  options: { topics?: boolean; active?: boolean },
): Promise<BenchSite[]> {
  const result = await db.query<{ code: string; site_id: number; connection_id: number }>(
    `with s as (
       insert into site (name) select unnest($1::text[]) returning id, name
     ), c as (
       insert into mqtt_connection (site_id, broker_host, broker_port, client_id_prefix,
         discovery_pattern, is_active)
       select s.id, '127.0.0.1', $2, 'bench', s.name || '/#', $3 from s
       returning id, site_id
     )
     select s.name as code, s.id as site_id, c.id as connection_id
     from s join c on c.site_id = s.id`,
    [codes, brokerPort, options.active ?? true],
  );
  const sites = result.rows.map((row) => ({
    code: row.code,
    siteId: row.site_id,
    connectionId: row.connection_id,
  }));
  if (options.topics ?? true) await addTopics(db, sites);
  return sites;
}

async function addTopics(db: pg.Client, sites: BenchSite[]): Promise<void> {
  const ids = sites.flatMap((site) => [site.connectionId, site.connectionId]);
  const patterns = sites.flatMap((site) => [
    `${site.code}/gateway/+/dataloggers/telemetry`,
    `${site.code}/gateway/+/status`,
  ]);
  const parsers = sites.flatMap(() => ['telemetry', 'gateway_status']);
  await db.query(
    `insert into mqtt_topic (mqtt_connection_id, topic_pattern, qos_level, parser_name)
     select * from unnest($1::int[], $2::text[], array_fill(1, array[$4::int])::smallint[],
       $3::text[])`,
    [ids, patterns, parsers, ids.length],
  );
}

/** Readings stored so far. */
export async function countReadings(db: pg.Client): Promise<number> {
  const result = await db.query<{ n: string }>('select count(*) as n from sensor_reading');
  return Number(result.rows[0]!.n);
}

/** How many of these connections have the given status, as the engine recorded it. */
export async function countStatus(db: pg.Client, ids: number[], status: string): Promise<number> {
  const result = await db.query<{ n: string }>(
    'select count(*) as n from mqtt_connection where id = any($1) and status = $2',
    [ids, status],
  );
  return Number(result.rows[0]!.n);
}
