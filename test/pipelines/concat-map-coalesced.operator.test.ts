import { timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { concatMapCoalesced } from '../../pipelines/concat-map-coalesced.operator.js';

describe('concatMapCoalesced', () => {
  it('merges the values that arrive while a projection runs into one', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const started: Array<[number, string]> = [];
    scheduler.run(({ cold, expectObservable }) => {
      const project = (value: string) => {
        started.push([scheduler.now(), value]);
        return timer(10, scheduler);
      };
      const merge = (waiting: string, next: string) => waiting + next;
      const source = cold('a-b-c-d 20ms e|');
      // a runs 0-10; b, c and d wait and run together 10-20; e runs 27-37.
      expectObservable(source.pipe(concatMapCoalesced(project, merge))).toBe('37ms |');
    });
    expect(started).toEqual([
      [0, 'a'],
      [10, 'bcd'],
      [27, 'e'],
    ]);
  });

  it('passes a projection error on', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('a|');
      const failing = concatMapCoalesced<string>(
        () => cold('--#'),
        (a, b) => a + b,
      );
      expectObservable(source.pipe(failing)).toBe('--#');
    });
  });
});
