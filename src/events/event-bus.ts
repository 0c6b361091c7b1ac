import type { Redis } from 'ioredis';
import { Observable, share } from 'rxjs';
import { EVENTS_CHANNEL, type EngineEvent } from './event-types.js';

/**
 * Publishes engine events on Redis pub/sub, so a WebSocket client connected to any instance
 * sees every instance's events. Publishing never throws: a lost live event is acceptable,
 * a failed ingest because Redis blinked is not.
 */
export class EventPublisher {
  readonly #redis: Redis;
  readonly #channel: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#channel = `${prefix}:${EVENTS_CHANNEL}`;
  }

  /** Sends one event; resolves false when Redis did not take it. */
  async publish(event: EngineEvent): Promise<boolean> {
    try {
      await this.#redis.publish(this.#channel, JSON.stringify(event));
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * Every engine event published under the prefix, as a shared Observable. `subscriber` must be
 * a connection of its own: a Redis connection in subscribe mode can do nothing else.
 */
export function subscribeEvents(subscriber: Redis, prefix: string): Observable<EngineEvent> {
  const channel = `${prefix}:${EVENTS_CHANNEL}`;
  return new Observable<EngineEvent>((observer) => {
    const onMessage = (from: string, text: string) => {
      if (from !== channel) return;
      try {
        observer.next(JSON.parse(text) as EngineEvent);
      } catch {
        // A foreign publisher's garbage on our channel is ignored, not fatal to the stream.
      }
    };
    subscriber.on('message', onMessage);
    subscriber.subscribe(channel).catch((error: unknown) => observer.error(error));
    return () => {
      subscriber.off('message', onMessage);
      subscriber.unsubscribe(channel).catch(() => undefined);
    };
  }).pipe(share());
}
