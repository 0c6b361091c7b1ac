import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import {
  aggregateTopicStats,
  mergeTopicStats,
  type TopicObservation,
  type TopicStats,
} from '../../pipelines/aggregate-topic-stats.operator.js';

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

const at = (ms: number) => new Date(Date.UTC(2026, 11, 3, 15, 0, 0, ms));

const observations: Record<string, TopicObservation> = {
  a: { siteId: 1, topic: 't/a', payload: Buffer.from('{"n":1}'), receivedAt: at(1) },
  b: { siteId: 1, topic: 't/a', payload: Buffer.from('{"n":22}'), receivedAt: at(2) },
  c: { siteId: 1, topic: 't/c', payload: Buffer.from('xyz'), receivedAt: at(3) },
  d: { siteId: 2, topic: 't/a', payload: Buffer.from('1'), receivedAt: at(4), noParser: true },
};

/** A flush summarised as `site|topic:count:bytes:last payload`, sorted. */
function summary(stats: TopicStats[]): string {
  return stats
    .map((s) => {
      const last = s.lastPayload?.toString() ?? '-';
      return `${s.siteId}|${s.topicPath}:${s.messageCount}:${s.payloadBytes}:${last}`;
    })
    .sort()
    .join(',');
}

describe('aggregateTopicStats', () => {
  it('folds every message of a window into one entry per site and topic', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('abcd 100ms |', observations);
      const flushes = source.pipe(aggregateTopicStats(50, 100), map(summary));
      expectObservable(flushes).toBe('50ms x 53ms |', {
        x: '1|t/a:2:15:{"n":22},1|t/c:1:3:xyz,2|t/a:1:1:1',
      });
    });
  });

  it('keeps the first and last seen times and the no-parser flag', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('ba|', observations);
      const flushes = source.pipe(
        aggregateTopicStats(50, 100),
        map((stats) => stats.map((s) => [s.firstSeenAt, s.lastSeenAt, s.noParser])),
      );
      expectObservable(flushes).toBe('--(x|)', { x: [[at(1), at(2), false]] });
    });
  });

  it('writes early when the number of distinct topics reaches the bound', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-c-d-|', observations);
      const flushes = source.pipe(aggregateTopicStats(1_000, 2), map(summary));
      expectObservable(flushes).toBe('--x---(y|)', {
        x: '1|t/a:1:7:{"n":1},1|t/c:1:3:xyz',
        y: '2|t/a:1:1:1',
      });
    });
  });

  it('counts every message, whatever the flush boundaries', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('a 5ms b 60ms a 5ms b 60ms a|', observations);
      const counts = source.pipe(
        aggregateTopicStats(20, 100),
        map((stats) => stats.reduce((total, s) => total + s.messageCount, 0)),
      );
      expectObservable(counts).toBe('20ms x 66ms y 47ms (z|)', { x: 2, y: 2, z: 1 });
    });
  });
});

describe('aggregateTopicStats memory', () => {
  it('keeps only the size of a payload too large to be a sample', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const big: TopicObservation = { ...observations.a!, payload: Buffer.alloc(5_000) };
      const flushes = cold('a|', { a: big }).pipe(
        aggregateTopicStats(50, 100),
        map((stats) => stats.map((s) => [s.lastPayload, s.lastPayloadBytes])),
      );
      expectObservable(flushes).toBe('-(x|)', { x: [[undefined, 5_000]] });
    });
  });

  it('merges waiting flushes as if they had been one', () => {
    const first = [stats('t/a', 2, at(1), at(5)), stats('t/b', 1, at(2), at(2))];
    const second = [stats('t/a', 3, at(0), at(9))];
    const merged = mergeTopicStats(first, second);
    expect(merged.map((s) => [s.topicPath, s.messageCount, s.firstSeenAt, s.lastSeenAt])).toEqual([
      ['t/a', 5, at(0), at(9)],
      ['t/b', 1, at(2), at(2)],
    ]);
  });
});

function stats(topicPath: string, messageCount: number, first: Date, last: Date): TopicStats {
  return {
    siteId: 1,
    topicPath,
    firstSeenAt: first,
    lastSeenAt: last,
    messageCount,
    payloadBytes: messageCount * 10,
    lastPayload: Buffer.from(topicPath),
    lastPayloadBytes: topicPath.length,
    noParser: false,
  };
}
