// The ingest layer's entry points, for the engine (roles) and the API (replay, queue metrics).
export { INGEST_JOB_NAME, type IngestJobData, type IngestJobMessage } from './ingest-job.js';
export { ingestJobOptions, openIngestQueue } from './ingest-queue.js';
export { startIngestWorkers, type IngestWorkerDeps, type IngestWorkers } from './ingest.worker.js';
export {
  pruneLogs,
  startMaintenance,
  sweepOfflineGateways,
  type Maintenance,
  type MaintenanceDeps,
} from './maintenance.worker.js';
export {
  replayParsingLogs,
  type ReplayDeps,
  type ReplayOutcome,
  type ReplayResult,
  type ReplaySelection,
} from './parsing-log.replay.js';
export type { ParserLookup } from './parser-lookup.js';
export { collectQueueMetrics, EXPORTED_JOB_STATES } from './queue-metrics.js';
export { INGEST_QUEUE, MAINTENANCE_QUEUE } from './queue-names.js';
