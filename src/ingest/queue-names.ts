/** The BullMQ queue that carries batches of received messages to the workers. */
export const INGEST_QUEUE = 'ingest';

/** The BullMQ queue of scheduled maintenance (gateway offline sweep, log retention). */
export const MAINTENANCE_QUEUE = 'maintenance';
