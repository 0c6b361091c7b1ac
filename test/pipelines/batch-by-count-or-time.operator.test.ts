import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { batchByCountOrTime } from '../../pipelines/batch-by-count-or-time.operator.js';

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('batchByCountOrTime', () => {
  it('emits a batch as soon as it holds the maximum count', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('abc-de-f|');
      expectObservable(source.pipe(batchByCountOrTime(3, 100))).toBe('--x----y|', {
        x: ['a', 'b', 'c'],
        y: ['d', 'e', 'f'],
      });
    });
  });

  it('emits a partial batch the wait after its first value, and nothing when idle', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-b 20ms c 50ms |');
      // 'a' at 0 and 'b' at 2 leave at 10; 'c' at 23 leaves at 33; the quiet rest emits nothing.
      expectObservable(source.pipe(batchByCountOrTime(5, 10))).toBe('10ms x 22ms y 40ms |', {
        x: ['a', 'b'],
        y: ['c'],
      });
    });
  });

  it('flushes the partial batch when the source completes', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('ab|').pipe(batchByCountOrTime(5, 100))).toBe('--(x|)', {
        x: ['a', 'b'],
      });
    });
  });

  it('passes errors on', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('ab#').pipe(batchByCountOrTime(5, 100))).toBe('--#');
    });
  });
});
