import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The engine's Prometheus metrics, on a registry of its own (tests create several engines in
 * one process). How the message counters add up:
 *
 *   received = routed + skipped + dropped     (pipeline: configured, catalogue only, lost)
 *   routed   = enqueued + dropped_after_route (enqueue failures that gave up)
 *   enqueued = persisted + quarantined        (once the queue is drained)
 */
export interface Metrics {
  registry: Registry;
  messagesReceived: Counter<'site_id'>;
  messagesRouted: Counter<'site_id'>;
  messagesSkipped: Counter<'site_id' | 'reason'>;
  messagesEnqueued: Counter<'site_id'>;
  messagesPersisted: Counter<'site_id'>;
  messagesQuarantined: Counter<'site_id' | 'error_type'>;
  messagesDropped: Counter<'site_id' | 'reason'>;
  readingsPersisted: Counter;
  batches: Counter<'queue'>;
  batchSize: Histogram<'queue'>;
  queueDepth: Gauge<'queue' | 'state'>;
  queueOldestWaitingSeconds: Gauge<'queue'>;
  connections: Gauge<'state'>;
  ingestLagSeconds: Histogram;
  databaseErrors: Counter<'operation'>;
  redisErrors: Counter<'operation'>;
}

/** Creates the metrics on a fresh registry; `defaults` adds Node's process metrics. */
export function createMetrics(options: { defaults?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaults) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });

  return {
    registry,
    messagesReceived: counter('sitewire_messages_received_total', 'MQTT messages received', [
      'site_id',
    ]),
    messagesRouted: counter('sitewire_messages_routed_total', 'Messages sent on to parsing', [
      'site_id',
    ]),
    messagesSkipped: counter('sitewire_messages_skipped_total', 'Messages catalogued only', [
      'site_id',
      'reason',
    ]),
    messagesEnqueued: counter('sitewire_messages_enqueued_total', 'Messages safe in the queue', [
      'site_id',
    ]),
    messagesPersisted: counter('sitewire_messages_persisted_total', 'Messages stored', ['site_id']),
    messagesQuarantined: counter(
      'sitewire_messages_quarantined_total',
      'Messages quarantined in the parsing log',
      ['site_id', 'error_type'],
    ),
    messagesDropped: counter('sitewire_messages_dropped_total', 'Messages lost by the engine', [
      'site_id',
      'reason',
    ]),
    readingsPersisted: counter('sitewire_readings_persisted_total', 'Sensor readings stored'),
    batches: counter('sitewire_batches_total', 'Ingest batches processed', ['queue']),
    batchSize: new Histogram({
      name: 'sitewire_batch_size',
      help: 'Messages per ingest batch',
      labelNames: ['queue'],
      buckets: [1, 5, 10, 25, 50, 100, 200, 500, 1000],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'sitewire_queue_jobs',
      help: 'Jobs in the ingest queue by state',
      labelNames: ['queue', 'state'],
      registers,
    }),
    queueOldestWaitingSeconds: new Gauge({
      name: 'sitewire_queue_oldest_waiting_seconds',
      help: 'Age of the oldest waiting job',
      labelNames: ['queue'],
      registers,
    }),
    connections: new Gauge({
      name: 'sitewire_connections',
      help: 'Connection actors by state',
      labelNames: ['state'],
      registers,
    }),
    ingestLagSeconds: new Histogram({
      name: 'sitewire_ingest_lag_seconds',
      help: 'From MQTT receipt to committed row',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    databaseErrors: counter('sitewire_database_errors_total', 'PostgreSQL errors', ['operation']),
    redisErrors: counter('sitewire_redis_errors_total', 'Redis errors', ['operation']),
  };
}
