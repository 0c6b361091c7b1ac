import { Redis } from 'ioredis';

/**
 * Opens an ioredis connection for BullMQ or pub/sub. `maxRetriesPerRequest: null` is what
 * BullMQ workers need: commands wait for Redis to come back instead of failing after a few
 * retries. The caller owns the connection and must `disconnect()` it (BullMQ never closes
 * connections it was given).
 */
export function openRedis(url: string, connectionName?: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    ...(connectionName ? { connectionName } : {}),
  });
}
