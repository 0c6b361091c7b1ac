import type { Logger } from 'pino';
import type { ConnectionRegistry } from './connection-registry.js';
import type { ConnectionStore, DesiredState } from './connection-store.js';
import type { LeaseStore } from './lease-store.js';

/** What the keeper works with. */
export interface LeaseKeeperDependencies {
  leases: LeaseStore;
  store: Pick<ConnectionStore, 'writeOwner' | 'clearOwner'>;
  registry: Pick<ConnectionRegistry, 'apply' | 'stopped'>;
  logger: Logger;
}

/**
 * Runs only the desired connections whose lease this instance holds, and keeps its share of
 * them: ceil(desired / live instances). Every tick (a fifth of the TTL) it announces itself,
 * renews its leases in one call, gives back what is over its share and takes free leases up
 * to it. Free means expired or released: a crashed instance's connections move once their
 * leases run out, a stopped one's at once.
 *
 * One client id at a time: a new owner only ever takes a lease that no longer exists in
 * Redis, and an owner that cannot renew stops its clients when its last successful renewal
 * is older than the TTL minus two ticks, so its clients are closed before the lease can
 * expire and be taken. Leases handed over on purpose are released only after the client is
 * closed.
 */
export class LeaseKeeper {
  readonly #deps: LeaseKeeperDependencies;
  readonly #log: Logger;
  readonly #held = new Map<number, number>();
  readonly #unwrittenOwners = new Set<number>();
  #desired: DesiredState = { connections: [], expectedIntervalsMs: new Map() };
  #validUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(deps: LeaseKeeperDependencies) {
    this.#deps = deps;
    this.#log = deps.logger.child({ component: 'leases', instanceId: deps.leases.instanceId });
  }

  /** How often leases are renewed and shares recomputed, in milliseconds. */
  get tickMs(): number {
    return Math.max(200, Math.floor(this.#deps.leases.ttlMs / 5));
  }

  /** The fencing token of a held lease. */
  tokenOf(connectionId: number): number | undefined {
    return this.#held.get(connectionId);
  }

  /** Connection ids this instance holds a lease for. */
  held(): number[] {
    return [...this.#held.keys()];
  }

  /** Starts ticking; resolves after the first tick so a start already owns its share. */
  async start(): Promise<void> {
    this.#deadlineTimer = setInterval(() => this.#enforceDeadline(), this.tickMs / 2);
    this.#runTick();
    await this.#ticking;
  }

  /** Takes the latest desired state from the supervisor and applies it to what is held. */
  apply(desired: DesiredState): void {
    this.#desired = desired;
    this.#applyHeld();
    // A new connection should not wait up to one tick for an owner.
    if (desired.connections.some((item) => !this.#held.has(item.connectionId))) {
      this.#tickSoon();
    }
  }

  /** Stops renewing; the caller closes the registry, then calls `releaseAll`. */
  async halt(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#deadlineTimer);
    await this.#ticking;
  }

  /** Gives every lease back and leaves the live set: the graceful hand-over. */
  async releaseAll(): Promise<void> {
    const held = new Map(this.#held);
    this.#held.clear();
    try {
      await this.#deps.leases.release(held);
      await this.#deps.leases.leave();
      this.#log.info({ released: held.size }, 'leases handed over');
    } catch (error) {
      this.#log.warn({ err: error, held: held.size }, 'leases not released, they will expire');
    }
    await Promise.all([...held].map(([id, token]) => this.#clearOwner(id, token)));
  }

  #tickSoon(): void {
    if (this.#stopped) return;

    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#runTick(), 0);
  }

  #runTick(): void {
    this.#ticking = this.#ticking.then(() => this.#tick());
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;

    const sentAt = Date.now();
    try {
      const live = await this.#deps.leases.heartbeat();
      await this.#renew(sentAt);
      await this.#rebalance(live);
    } catch (error) {
      this.#log.warn({ err: error, held: this.#held.size }, 'lease renewal failed');
    }
    this.#enforceDeadline();
    if (this.#unwrittenOwners.size) {
      await this.#writeOwners();
      this.#applyHeld();
    }
    if (!this.#stopped) {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.#runTick(), this.tickMs);
    }
  }

  async #renew(sentAt: number): Promise<void> {
    const lost = await this.#deps.leases.renew(this.#held);
    // The TTL started when Redis ran the renewal, which is after sentAt: counting from sentAt
    // errs on the safe side.
    this.#validUntil = sentAt + this.#deps.leases.ttlMs;
    if (!lost.length) return;

    this.#log.warn({ connectionIds: lost }, 'leases lost to another instance');
    for (const id of lost) this.#held.delete(id);
    this.#applyHeld();
  }

  async #rebalance(live: number): Promise<void> {
    const wanted = this.#desired.connections.map((item) => item.connectionId);
    const share = Math.ceil(wanted.length / Math.max(1, live));
    const wantedSet = new Set(wanted);
    const unwanted = [...this.#held.keys()].filter((id) => !wantedSet.has(id));
    const kept = [...this.#held.keys()].filter((id) => wantedSet.has(id));
    // The most recently won leases go first, so long-held connections stay put.
    const over = kept.slice(share);
    if (unwanted.length || over.length) await this.#handOver([...unwanted, ...over]);
    if (kept.length >= share) return;

    const free = shuffle(wanted.filter((id) => !this.#held.has(id)));
    const won = await this.#deps.leases.acquire(free, share - kept.length);
    for (const lease of won) {
      this.#held.set(lease.connectionId, lease.token);
      this.#unwrittenOwners.add(lease.connectionId);
    }
    if (won.length) {
      this.#log.info({ acquired: won.length, held: this.#held.size, share, live }, 'leases won');
      await this.#writeOwners();
      this.#applyHeld();
    }
  }

  // Stops the clients first and releases after, so the next owner cannot connect with the
  // same client id while ours is still open.
  async #handOver(ids: number[]): Promise<void> {
    const leases = new Map(ids.map((id) => [id, this.#held.get(id)!]));
    for (const id of ids) this.#held.delete(id);
    this.#applyHeld();
    await Promise.all(ids.map((id) => this.#deps.registry.stopped(id)));
    await this.#deps.leases.release(leases);
    await Promise.all([...leases].map(([id, token]) => this.#clearOwner(id, token)));
    this.#log.info({ connectionIds: ids, held: this.#held.size }, 'leases handed over');
  }

  #enforceDeadline(): void {
    if (!this.#held.size) return;

    const margin = 2 * this.tickMs;
    if (Date.now() < this.#validUntil - margin) return;

    this.#log.warn(
      { held: this.#held.size, validUntil: new Date(this.#validUntil).toISOString() },
      'leases could not be renewed, stopping their connections before they expire',
    );
    this.#held.clear();
    this.#applyHeld();
  }

  // A connection starts only once its owner and token are written: its first status writes
  // carry the token and would be refused before that.
  #applyHeld(): void {
    const connections = this.#desired.connections.filter(
      (item) => this.#held.has(item.connectionId) && !this.#unwrittenOwners.has(item.connectionId),
    );
    this.#deps.registry.apply({ ...this.#desired, connections });
  }

  // The owner column is informational (the API shows it) and the fence for status writes; a
  // failed write is retried on the next tick while the lease is still held.
  async #writeOwners(): Promise<void> {
    for (const id of [...this.#unwrittenOwners]) {
      const token = this.#held.get(id);
      if (token === undefined) {
        this.#unwrittenOwners.delete(id);
        continue;
      }
      try {
        await this.#deps.store.writeOwner(id, this.#deps.leases.instanceId, token);
        this.#unwrittenOwners.delete(id);
      } catch (error) {
        this.#log.warn({ err: error, connectionId: id }, 'owner write failed');
        return;
      }
    }
  }

  async #clearOwner(connectionId: number, token: number): Promise<void> {
    await this.#deps.store.clearOwner(connectionId, token).catch((error: unknown) => {
      this.#log.warn({ err: error, connectionId }, 'owner clear failed');
    });
  }
}

function shuffle<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
