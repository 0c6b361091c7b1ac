import { map, type OperatorFunction } from 'rxjs';

/**
 * Counts the messages the pipeline holds in memory (received, not yet safe in Redis). A slot
 * is taken on admission and given back once the message is enqueued; `highWater` records the
 * most ever held, so tests and metrics can check the bound was kept.
 */
export class PendingCounter {
  #count = 0;
  #highWater = 0;

  /** Messages held right now. */
  get count(): number {
    return this.#count;
  }

  /** The most messages held at any moment. */
  get highWater(): number {
    return this.#highWater;
  }

  /** Takes a slot when fewer than `limit` are held; false when the limit is reached. */
  tryAcquire(limit: number): boolean {
    if (this.#count >= limit) return false;

    this.#count += 1;
    this.#highWater = Math.max(this.#highWater, this.#count);
    return true;
  }

  /** Gives back `slots` slots, once their messages are safe or given up. */
  release(slots: number): void {
    this.#count = Math.max(0, this.#count - slots);
  }
}

/** A value with the verdict of the pending limit: held in memory, or turned away. */
export interface Admission<T> {
  admitted: boolean;
  value: T;
}

/**
 * Marks each value admitted while fewer than `limit` values are pending, and turned away
 * otherwise. Turned-away values are passed on as values (not errors) so the caller decides
 * what refusing means for each one: dropping a QoS 0 message, or leaving a QoS 1/2 message
 * unacknowledged with the broker.
 */
export function admitWithinLimit<T>(
  pending: PendingCounter,
  limit: number,
): OperatorFunction<T, Admission<T>> {
  return map((value) => ({ admitted: pending.tryAcquire(limit), value }));
}
