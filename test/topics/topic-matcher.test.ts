import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateTopicFilter, validateTopicName } from '../../src/topics/topic-filter.js';
import { TopicMatcher, topicMatches } from '../../src/topics/topic-matcher.js';

const SEED = 20261203;

/**
 * The rules of MQTT 3.1.1 section 4.7 written as plainly as possible, level by level and
 * recursively, so the production code is checked against a second, independent reading.
 */
function referenceMatches(filter: string, topic: string): boolean {
  const filterLevels = filter.split('/');
  const topicLevels = topic.split('/');
  const firstFilterLevel = filterLevels[0];
  if (topic.startsWith('$') && (firstFilterLevel === '+' || firstFilterLevel === '#')) {
    return false;
  }
  return levelsMatch(filterLevels, topicLevels);
}

function levelsMatch(filter: string[], topic: string[]): boolean {
  if (filter.length === 0) return topic.length === 0;

  const [head, ...restFilter] = filter;
  if (head === '#') return true;
  if (topic.length === 0) return false;

  const [level, ...restTopic] = topic;
  if (head !== '+' && head !== level) return false;
  return levelsMatch(restFilter, restTopic);
}

// A small alphabet so that random filters and topics collide often, with the characters a
// regular-expression implementation would get wrong.
const literalLevel = fc.constantFrom('', 'a', 'b', 'a.b', '*', 'x$', '$SYS', '$x', 'ab', '.');
const topicArb = fc
  .array(literalLevel, { minLength: 1, maxLength: 5 })
  .map((levels) => levels.join('/'))
  .filter((topic) => topic.length > 0);
const filterArb = fc
  .tuple(
    fc.array(fc.oneof(literalLevel, fc.constant('+')), { minLength: 0, maxLength: 5 }),
    fc.boolean(),
  )
  .map(([levels, endsWithHash]) => (endsWithHash ? [...levels, '#'] : levels).join('/'))
  .filter((filter) => filter.length > 0);

describe('topicMatches', () => {
  it.each([
    ['a/#', 'a'],
    ['a/#', 'a/'],
    ['a/#', 'a/b/c'],
    ['#', 'a'],
    ['#', '/'],
    ['+', 'a'],
    ['a/+/c', 'a//c'],
    ['+/+', '/'],
    ['+/#', 'a'],
    ['/+', '/'],
    ['$SYS/#', '$SYS/broker/load'],
    ['$SYS/+', '$SYS/x'],
    ['a/$/b', 'a/$/b'],
    ['a/+', 'a/$x'],
    ['a.b/c*', 'a.b/c*'],
    ['site_001/gateway/+/status', 'site_001/gateway/GW-0001/status'],
  ])('matches filter %j with topic %j', (filter, topic) => {
    expect(topicMatches(filter, topic)).toBe(true);
  });

  it.each([
    ['a/+', 'a'],
    ['a/b/#', 'a'],
    ['+', '/'],
    ['+', 'a/b'],
    ['#', '$SYS/x'],
    ['+/x', '$SYS/x'],
    ['+/#', '$SYS'],
    ['a.b', 'axb'],
    ['a*', 'abc'],
    ['a/$', 'a/b'],
    ['a', 'a/'],
    ['a/b', 'A/b'],
    ['a/#', 'b/a'],
  ])('does not match filter %j with topic %j', (filter, topic) => {
    expect(topicMatches(filter, topic)).toBe(false);
  });

  it('matches nothing with an invalid filter or topic name', () => {
    expect(topicMatches('a/#/b', 'a/x/b')).toBe(false);
    expect(topicMatches('a+', 'a+')).toBe(false);
    expect(topicMatches('#', 'a/+')).toBe(false);
    expect(topicMatches('#', '')).toBe(false);
  });

  it('agrees with the reference reading of the specification', () => {
    fc.assert(
      fc.property(filterArb, topicArb, (filter, topic) => {
        expect(topicMatches(filter, topic)).toBe(referenceMatches(filter, topic));
      }),
      { seed: SEED, numRuns: 5_000 },
    );
  });

  it('matches every topic with its own name used as a filter', () => {
    fc.assert(
      fc.property(topicArb, (topic) => topicMatches(topic, topic)),
      { seed: SEED, numRuns: 1_000 },
    );
  });
});

describe('validateTopicFilter', () => {
  it.each(['#', '+', 'a/#', '+/+/#', 'a//b', '/', '$SYS/#', 'a.b/*', 'é/ü'])(
    'accepts %j',
    (filter) => {
      expect(validateTopicFilter(filter)).toBeNull();
    },
  );

  it.each([
    ['', /empty/],
    ['a/#/b', /last level/],
    ['#/a', /last level/],
    ['a#', /alone/],
    ['a/b#', /alone/],
    ['a+', /alone/],
    ['a/+b/c', /alone/],
    ['++', /alone/],
    ['a\u0000b', /NUL/],
    ['a'.repeat(65_536), /65535/],
    ['é'.repeat(32_768), /65536 bytes/],
  ])('rejects %j', (filter, reason) => {
    expect(validateTopicFilter(filter)).toMatch(reason);
  });
});

describe('validateTopicName', () => {
  it.each(['a', '/', 'a//b', '$SYS/broker', 'a.b*c'])('accepts %j', (topic) => {
    expect(validateTopicName(topic)).toBeNull();
  });

  it.each([
    ['', /empty/],
    ['a/+', /wildcards/],
    ['a/#', /wildcards/],
    ['a/b+c', /wildcards/],
    ['a\u0000', /NUL/],
    ['a'.repeat(65_536), /65535/],
  ])('rejects %j', (topic, reason) => {
    expect(validateTopicName(topic)).toMatch(reason);
  });
});

describe('TopicMatcher', () => {
  it('finds the values of every matching filter in the order they were added', () => {
    const matcher = new TopicMatcher<string>();
    matcher.add('+/gateway/+/status', 'status');
    matcher.add('#', 'everything');
    matcher.add('site/gateway/GW-1/status', 'exact');
    matcher.add('site/#', 'site');
    matcher.add('other/#', 'other');

    expect(matcher.match('site/gateway/GW-1/status')).toEqual([
      'status',
      'everything',
      'exact',
      'site',
    ]);
    expect(matcher.match('site')).toEqual(['everything', 'site']);
    expect(matcher.match('$SYS/broker')).toEqual([]);
  });

  it('lets a filter starting with $ match reserved topics', () => {
    const matcher = new TopicMatcher<number>();
    matcher.add('$SYS/#', 1);
    matcher.add('#', 2);
    matcher.add('+/broker', 3);

    expect(matcher.match('$SYS/broker')).toEqual([1]);
    expect(matcher.match('x/broker')).toEqual([2, 3]);
  });

  it('matches empty levels with + and keeps . * $ literal', () => {
    const matcher = new TopicMatcher<string>();
    matcher.add('a/+/c', 'plus');
    matcher.add('a.b/*/$', 'literal');

    expect(matcher.match('a//c')).toEqual(['plus']);
    expect(matcher.match('a.b/*/$')).toEqual(['literal']);
    expect(matcher.match('axb/x/y')).toEqual([]);
  });

  it('keeps one copy of a pair added twice and counts pairs in size', () => {
    const matcher = new TopicMatcher<string>();
    matcher.add('a/+', 'x');
    matcher.add('a/+', 'x');
    matcher.add('a/+', 'y');
    matcher.add('a/#', 'x');

    expect(matcher.size).toBe(3);
    expect(matcher.match('a/b')).toEqual(['x', 'y']);
  });

  it('removes one value or every value of a filter', () => {
    const matcher = new TopicMatcher<string>();
    matcher.add('a/+', 'x');
    matcher.add('a/+', 'y');
    matcher.add('a/+/c', 'z');

    expect(matcher.remove('a/+', 'x')).toBe(1);
    expect(matcher.match('a/b')).toEqual(['y']);
    expect(matcher.remove('a/+')).toBe(1);
    expect(matcher.match('a/b')).toEqual([]);
    expect(matcher.match('a/b/c')).toEqual(['z']);
    expect(matcher.remove('a/+/c', 'unknown')).toBe(0);
    expect(matcher.remove('nowhere/#')).toBe(0);
    expect(matcher.remove('a/#/b')).toBe(0);
    expect(matcher.size).toBe(1);
  });

  it('refuses an invalid filter', () => {
    const matcher = new TopicMatcher<string>();
    expect(() => matcher.add('a/#/b', 'x')).toThrow(/last level/);
    expect(matcher.size).toBe(0);
  });

  it('returns the same set as checking every filter one by one', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(filterArb, { maxLength: 20 }),
        fc.array(topicArb, { minLength: 1, maxLength: 10 }),
        (filters, topics) => {
          const matcher = new TopicMatcher<string>();
          for (const filter of filters) matcher.add(filter, filter);

          for (const topic of topics) {
            const expected = filters.filter((filter) => referenceMatches(filter, topic));
            expect(matcher.match(topic)).toEqual(expected);
          }
        },
      ),
      { seed: SEED, numRuns: 1_000 },
    );
  });

  it('still agrees with the reference after removals', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(filterArb, { minLength: 1, maxLength: 20 }),
        fc.array(topicArb, { minLength: 1, maxLength: 10 }),
        (filters, topics) => {
          const matcher = new TopicMatcher<string>();
          for (const filter of filters) matcher.add(filter, filter);
          const kept = filters.filter((_, index) => index % 2 === 0);
          for (const filter of filters) if (!kept.includes(filter)) matcher.remove(filter);

          expect(matcher.size).toBe(kept.length);
          for (const topic of topics) {
            const expected = kept.filter((filter) => referenceMatches(filter, topic));
            expect(matcher.match(topic)).toEqual(expected);
          }
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
  });
});
