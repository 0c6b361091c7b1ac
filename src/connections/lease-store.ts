import { once } from 'node:events';
import { Redis } from 'ioredis';

/** Where leases live and how long they last. */
export interface LeaseStoreOptions {
  redisUrl: string;
  /** Key prefix shared by every instance of one deployment (REDIS_PREFIX). */
  prefix: string;
  instanceId: string;
  /** Lease lifetime in milliseconds. */
  ttlMs: number;
  /** Longest wait for one Redis answer, in milliseconds; a lease call fails after it. */
  commandTimeoutMs: number;
}

/** A lease this instance won: the connection and its fencing token. */
export interface AcquiredLease {
  connectionId: number;
  token: number;
}

// Values are `<instance id>:<fencing token>`. Leases are taken only where none exists, or
// where the value names this very instance (a restart with a stable INSTANCE_ID: the old
// process is gone, so nobody else holds the client id). The token comes from a counter per
// connection that only grows, so any later owner has a larger token than every earlier one.
const ACQUIRE = `
local won = {}
local limit = tonumber(ARGV[3])
for i = 1, #KEYS, 2 do
  if #won >= limit * 2 then break end
  local current = redis.call('GET', KEYS[i])
  local owner = current and string.match(current, '^(.*):%d+$')
  if not current or owner == ARGV[1] then
    local token = redis.call('INCR', KEYS[i + 1])
    redis.call('SET', KEYS[i], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
    table.insert(won, (i + 1) / 2)
    table.insert(won, token)
  end
end
return won`;

// Compare-and-set: only the holder of the exact value may extend it.
const RENEW = `
local kept = {}
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i + 1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
    kept[i] = 1
  else
    kept[i] = 0
  end
end
return kept`;

const RELEASE = `
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i] then redis.call('DEL', KEYS[i]) end
end
return 1`;

// Redis's clock, not each machine's, decides when an instance counts as gone.
const HEARTBEAT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return redis.call('ZCARD', KEYS[1])`;

/**
 * Connection leases in Redis. Redis rather than PostgreSQL advisory locks: every instance
 * already shares it, a lease that expires by itself frees a crashed instance's connections
 * without anyone noticing the crash, and an advisory lock lives as long as one database
 * session, so a PostgreSQL restart would drop every lock at once while the MQTT clients run
 * on. The connection uses no offline queue and a command timeout, so a call during a Redis
 * outage fails fast and the owner can stop its clients before its leases run out.
 */
export class LeaseStore {
  readonly #redis: Redis;
  readonly #options: LeaseStoreOptions;

  constructor(options: LeaseStoreOptions) {
    this.#options = options;
    this.#redis = new Redis(options.redisUrl, {
      connectionName: `sitewire-leases-${options.instanceId}`,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs,
      lazyConnect: false,
    });
    // Outages are seen as failed calls; the keeper logs those.
    this.#redis.on('error', () => undefined);
  }

  get instanceId(): string {
    return this.#options.instanceId;
  }

  get ttlMs(): number {
    return this.#options.ttlMs;
  }

  /** Announces this instance as alive for one TTL; resolves to the number of live instances. */
  async heartbeat(): Promise<number> {
    const { ttlMs, instanceId } = this.#options;
    await this.#ready();
    const live = await this.#redis.eval(HEARTBEAT, 1, this.#instancesKey(), instanceId, ttlMs);
    return Number(live);
  }

  /** Removes this instance from the live set, so the others' fair share grows at once. */
  async leave(): Promise<void> {
    await this.#ready();
    await this.#redis.zrem(this.#instancesKey(), this.#options.instanceId);
  }

  /** Takes free leases among `candidates`, in their order, at most `limit` of them. */
  async acquire(candidates: number[], limit: number): Promise<AcquiredLease[]> {
    if (!candidates.length || limit <= 0) return [];

    const keys = candidates.flatMap((id) => [this.#leaseKey(id), this.#fenceKey(id)]);
    const { instanceId, ttlMs } = this.#options;
    await this.#ready();
    const won = (await this.#redis.eval(
      ACQUIRE,
      keys.length,
      ...keys,
      instanceId,
      ttlMs,
      limit,
    )) as number[];
    const leases: AcquiredLease[] = [];
    for (let i = 0; i < won.length; i += 2) {
      leases.push({ connectionId: candidates[won[i]! - 1]!, token: Number(won[i + 1]) });
    }
    return leases;
  }

  /** Extends the held leases; resolves to the connection ids whose lease is no longer ours. */
  async renew(held: Map<number, number>): Promise<number[]> {
    if (!held.size) return [];

    const ids = [...held.keys()];
    const values = ids.map((id) => this.#valueOf(held.get(id)!));
    const keys = ids.map((id) => this.#leaseKey(id));
    await this.#ready();
    const kept = (await this.#redis.eval(
      RENEW,
      keys.length,
      ...keys,
      this.#options.ttlMs,
      ...values,
    )) as number[];
    return ids.filter((_, index) => Number(kept[index]) !== 1);
  }

  /** Gives leases back at once (graceful hand-over); a lease no longer ours is left alone. */
  async release(leases: Map<number, number>): Promise<void> {
    if (!leases.size) return;

    const ids = [...leases.keys()];
    const keys = ids.map((id) => this.#leaseKey(id));
    const values = ids.map((id) => this.#valueOf(leases.get(id)!));
    await this.#ready();
    await this.#redis.eval(RELEASE, keys.length, ...keys, ...values);
  }

  /** The current owner of each connection's lease, by connection id (null: free). */
  async owners(connectionIds: number[]): Promise<Map<number, string | null>> {
    if (!connectionIds.length) return new Map();

    await this.#ready();
    const values = await this.#redis.mget(...connectionIds.map((id) => this.#leaseKey(id)));
    return new Map(
      connectionIds.map((id, index) => [id, values[index]?.replace(/:\d+$/, '') ?? null]),
    );
  }

  // Without an offline queue a command sent while the link is still opening fails, so the
  // first calls and those right after a reconnect wait for it, no longer than one timeout.
  async #ready(): Promise<void> {
    const status = this.#redis.status;
    if (status !== 'connecting' && status !== 'connect' && status !== 'reconnecting') return;

    await once(this.#redis, 'ready', {
      signal: AbortSignal.timeout(this.#options.commandTimeoutMs),
    }).catch(() => undefined);
  }

  close(): void {
    this.#redis.disconnect();
  }

  #valueOf(token: number): string {
    return `${this.#options.instanceId}:${token}`;
  }

  #leaseKey(connectionId: number): string {
    return `${this.#options.prefix}:lease:connection:${connectionId}`;
  }

  #fenceKey(connectionId: number): string {
    return `${this.#options.prefix}:lease:token:${connectionId}`;
  }

  #instancesKey(): string {
    return `${this.#options.prefix}:lease:instances`;
  }
}
