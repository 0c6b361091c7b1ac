import { throwError, timer, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { PendingCounter } from '../../pipelines/admit-within-limit.operator.js';
import { ingestFlow, type IngestLimits, type RoutedMessage } from '../../pipelines/ingest.flow.js';
import type { TopicStats } from '../../pipelines/aggregate-topic-stats.operator.js';
import type { RouteDecision } from '../../src/ingest/topic-routes.js';
import type { QoS, ReceivedMessage } from '../../src/mqtt/received-message.js';

const LIMITS: IngestLimits = {
  pendingMessages: 100,
  batchMaxMessages: 2,
  batchMaxWaitMs: 10,
  catalogueFlushMs: 50,
  catalogueMaxTopics: 100,
  retryBaseMs: 10,
  retryCapMs: 40,
  enqueueTimeoutMs: 1_000,
};

/** A world of fake messages whose acknowledgements and drops are recorded with their time. */
class Harness {
  readonly acks: Array<[string, number]> = [];
  readonly drops: Array<[string, string]> = [];
  readonly skips: string[] = [];
  readonly enqueued: string[][] = [];
  readonly catalogue: TopicStats[][] = [];
  readonly pending = new PendingCounter();
  enqueueAttempts = 0;
  maxPending = 0;

  constructor(readonly scheduler: TestScheduler) {}

  message(id: string, qos: QoS, topic = `site/${id}`): ReceivedMessage {
    return {
      siteId: 1,
      connectionId: 7,
      topic,
      payload: Buffer.from(`{"id":"${id}"}`),
      qos,
      retain: false,
      receivedAt: new Date(0),
      acknowledge: () => this.acks.push([id, this.scheduler.now()]),
    };
  }

  /** Runs the flow; Redis "answers" enqueues after 2 ms, and fails before `redisBackAt`. */
  flow(
    messages$: Observable<ReceivedMessage>,
    limits: Partial<IngestLimits> = {},
    redisBackAt = 0,
  ): Observable<RoutedMessage[]> {
    const decide = (message: ReceivedMessage): RouteDecision =>
      message.topic.startsWith('skip/')
        ? { kind: 'skip', reason: 'unconfigured' }
        : { kind: 'route', parserName: 'test' };
    return ingestFlow(messages$, {
      decide,
      enqueue: (batch) => {
        this.enqueueAttempts += 1;
        this.maxPending = Math.max(this.maxPending, this.pending.count);
        if (this.scheduler.now() < redisBackAt) return throwError(() => new Error('ECONNREFUSED'));
        this.enqueued.push(batch.map(({ message }) => idOf(message)));
        return timer(2, this.scheduler);
      },
      writeCatalogue: (stats) => {
        this.catalogue.push(stats);
        return timer(1, this.scheduler);
      },
      pending: this.pending,
      limits: { ...LIMITS, ...limits },
      hooks: {
        skipped: (message) => this.skips.push(idOf(message)),
        dropped: (message, reason) => this.drops.push([idOf(message), reason]),
      },
      scheduler: this.scheduler,
    });
  }
}

function idOf(message: ReceivedMessage): string {
  return (JSON.parse(message.payload.toString()) as { id: string }).id;
}

type RunHelpers = Parameters<Parameters<TestScheduler['run']>[0]>[0];

function run(test: (harness: Harness, helpers: RunHelpers) => void): Harness {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  const harness = new Harness(scheduler);
  scheduler.run((helpers) => test(harness, helpers));
  return harness;
}

describe('ingestFlow', () => {
  it('acknowledges a batch only once its enqueue has succeeded', () => {
    const h = run((harness, { cold, expectObservable }) => {
      const m = {
        a: harness.message('a', 1),
        b: harness.message('b', 1),
        c: harness.message('c', 0),
      };
      const batches = harness.flow(cold('ab 20ms c 30ms |', m));
      // a+b fill a batch at 1 and are safe at 3; c (at 22) waits 10 ms and is safe at 34.
      expectObservable(batches).toBe('---x 30ms y 18ms |', {
        x: [
          { message: m.a, parserName: 'test' },
          { message: m.b, parserName: 'test' },
        ],
        y: [{ message: m.c, parserName: 'test' }],
      });
    });
    expect(h.acks).toEqual([
      ['a', 3],
      ['b', 3],
      ['c', 34],
    ]);
    expect(h.pending.count).toBe(0);
  });

  it('acknowledges catalogue-only messages at once and never enqueues them', () => {
    const h = run((harness, { cold, expectObservable }) => {
      const m = { s: harness.message('s', 1, 'skip/s'), a: harness.message('a', 1) };
      expectObservable(harness.flow(cold('s-a|', m))).toBe('-----(x|)', {
        x: [{ message: m.a, parserName: 'test' }],
      });
    });
    expect(h.skips).toEqual(['s']);
    expect(h.acks).toEqual([
      ['s', 0],
      ['a', 5],
    ]);
    expect(h.enqueued).toEqual([['a']]);
    // The catalogue counts both: routing decides parsing, not discovery.
    expect(
      h.catalogue
        .flat()
        .map((stats) => stats.topicPath)
        .sort(),
    ).toEqual(['site/a', 'skip/s']);
  });

  it('stops acknowledging while Redis is down and retries with backoff until it is back', () => {
    const h = run((harness, { cold, expectObservable }) => {
      const m = { a: harness.message('a', 1), b: harness.message('b', 1) };
      // Attempts at 1, 11, 31, 71 (waits 10, 20, 40) then 111 (cap 40): back at 100.
      expectObservable(harness.flow(cold('ab 200ms |', m), {}, 100)).toBe('113ms x 88ms |', {
        x: [
          { message: m.a, parserName: 'test' },
          { message: m.b, parserName: 'test' },
        ],
      });
    });
    expect(h.enqueueAttempts).toBe(5);
    expect(h.acks).toEqual([
      ['a', 113],
      ['b', 113],
    ]);
  });

  it('past the pending limit drops QoS 0 and leaves QoS 1 with the broker, unacknowledged', () => {
    const h = run((harness, { cold, expectObservable }) => {
      const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
      const qos: QoS[] = [1, 1, 1, 0, 1, 2];
      const m = Object.fromEntries(ids.map((id, i) => [id, harness.message(id, qos[i]!)]));
      const source = cold('abcdef 300ms |', m);
      const batches = harness.flow(source, { pendingMessages: 3, batchMaxMessages: 10 }, 100);
      // One batch at 10 (the wait), tried at 10, 20, 40, 80 and 120: Redis is back at 100.
      expectObservable(batches).toBe('122ms x 183ms |', {
        x: ['a', 'b', 'c'].map((id) => ({ message: m[id], parserName: 'test' })),
      });
    });
    expect(h.drops).toEqual([
      ['d', 'backpressure'],
      ['e', 'backpressure_unacked'],
      ['f', 'backpressure_unacked'],
    ]);
    expect(h.acks.map(([id]) => id)).toEqual(['a', 'b', 'c']);
    expect(h.pending.highWater).toBe(3);
    expect(h.maxPending).toBeLessThanOrEqual(3);
    expect(h.pending.count).toBe(0);
  });

  it('admits new messages again once held ones reach Redis', () => {
    const h = run((harness, { cold, expectObservable }) => {
      const m = {
        a: harness.message('a', 1),
        b: harness.message('b', 1),
        c: harness.message('c', 1),
      };
      const source = cold('ab 150ms c 50ms |', m);
      const batches = harness.flow(source, { pendingMessages: 2 }, 100);
      expectObservable(batches).toBe('113ms x 50ms y 38ms |', {
        x: ['a', 'b'].map((id) => ({ message: m[id as 'a'], parserName: 'test' })),
        y: [{ message: m.c, parserName: 'test' }],
      });
    });
    expect(h.drops).toEqual([]);
    expect(h.acks.map(([id]) => id)).toEqual(['a', 'b', 'c']);
  });
});
