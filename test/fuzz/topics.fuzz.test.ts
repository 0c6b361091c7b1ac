import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_TOPIC_BYTES,
  validateTopicFilter,
  validateTopicName,
} from '../../src/topics/topic-filter.js';
import { TopicMatcher, topicMatches } from '../../src/topics/topic-matcher.js';
import { FUZZ_TEST_OPTIONS, fuzzParameters } from './fuzz-parameters.js';

// Characters a regular-expression or string-splitting implementation would trip over, next
// to MQTT's own separators and wildcards, NUL, unpaired surrogates and astral characters.
const HOSTILE_CHARACTERS = [
  '/',
  '/',
  '+',
  '#',
  '$',
  '\u0000',
  '.',
  '*',
  '?',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  '^',
  '|',
  '\\',
  ' ',
  'a',
  'b',
  'é',
  '😀',
  '\ud800',
  '\udc00',
  '\u202e',
];

const hostileArb = fc.oneof(
  fc.string({ unit: fc.constantFrom(...HOSTILE_CHARACTERS), maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc
    .array(fc.constantFrom('', '+', '#', '$SYS', 'a', '.*', 'a+', '#a', '$'), { maxLength: 8 })
    .map((levels) => levels.join('/')),
);

/** Strings at MQTT's length bound or far past it, and with tens of thousands of levels. */
const HUGE_STRINGS = [
  'a'.repeat(MAX_TOPIC_BYTES),
  'a'.repeat(MAX_TOPIC_BYTES + 1),
  'é'.repeat(MAX_TOPIC_BYTES / 2),
  '/'.repeat(MAX_TOPIC_BYTES),
  '+/'.repeat(30_000) + '#',
  'a/'.repeat(30_000) + 'a',
  '#/'.repeat(30_000),
  '$'.repeat(200_000),
  '😀'.repeat(40_000),
];

const anyTopicArb = fc.oneof(
  { weight: 9, arbitrary: hostileArb },
  fc.constantFrom(...HUGE_STRINGS),
);

function isValidationResult(result: unknown): boolean {
  return result === null || (typeof result === 'string' && result.trim().length > 0);
}

describe('topic validation on hostile input', () => {
  it('returns a reason or null for any filter or topic name', FUZZ_TEST_OPTIONS, () => {
    fc.assert(
      fc.property(anyTopicArb, (text) => {
        expect(isValidationResult(validateTopicFilter(text))).toBe(true);
        expect(isValidationResult(validateTopicName(text))).toBe(true);
      }),
      fuzzParameters(1_000),
    );
  });

  it('refuses unpaired surrogates, which MQTT strings must not contain', () => {
    for (const text of ['\ud800', 'a/\udc00/b', 'site/😀\ud83d']) {
      expect(validateTopicFilter(text)).toMatch(/unpaired surrogate/);
      expect(validateTopicName(text)).toMatch(/unpaired surrogate/);
    }
    expect(validateTopicFilter('site/😀/#')).toBeNull();
  });
});

describe('topic matching on hostile input', () => {
  it('answers true or false for any filter and topic', FUZZ_TEST_OPTIONS, () => {
    fc.assert(
      fc.property(anyTopicArb, anyTopicArb, (filter, topic) => {
        const matches = topicMatches(filter, topic);
        expect(typeof matches).toBe('boolean');
        if (validateTopicFilter(filter) !== null || validateTopicName(topic) !== null) {
          expect(matches).toBe(false);
        }
      }),
      fuzzParameters(1_000),
    );
  });

  it('adds exactly the valid filters and matches like topicMatches', FUZZ_TEST_OPTIONS, () => {
    const scenario = fc.record({
      filters: fc.array(hostileArb, { maxLength: 12 }),
      topics: fc.array(hostileArb, { maxLength: 6 }),
    });

    fc.assert(
      fc.property(scenario, ({ filters, topics }) => {
        const matcher = new TopicMatcher<number>();
        const stored = filters.flatMap((filter, index) => addIfValid(matcher, filter, index));

        for (const topic of topics) {
          const expected = stored.filter(({ filter }) => topicMatches(filter, topic));
          expect(matcher.match(topic)).toEqual(expected.map(({ value }) => value));
        }
        for (const filter of filters) expect(Number.isInteger(matcher.remove(filter))).toBe(true);
        expect(matcher.size).toBe(0);
      }),
      fuzzParameters(300),
    );
  });

  it('answers for every pair of huge filters and topics', () => {
    const matcher = new TopicMatcher<string>();
    for (const filter of HUGE_STRINGS) {
      if (validateTopicFilter(filter) === null) matcher.add(filter, filter);
    }

    for (const topic of HUGE_STRINGS) {
      const expected = HUGE_STRINGS.filter((filter) => topicMatches(filter, topic));
      expect(matcher.match(topic)).toEqual(expected);
    }
  });

  it('walks filters and topics of 30,000 levels without recursion', () => {
    const matcher = new TopicMatcher<string>();
    const deepFilter = '+/'.repeat(30_000) + '#';
    const deepTopic = 'a/'.repeat(30_000) + 'a';
    matcher.add(deepFilter, 'deep');
    matcher.add('#', 'all');

    expect(matcher.match(deepTopic)).toEqual(['deep', 'all']);
    expect(topicMatches(deepFilter, deepTopic)).toBe(true);
    expect(matcher.remove(deepFilter)).toBe(1);
    expect(matcher.match(deepTopic)).toEqual(['all']);
  });
});

function addIfValid(
  matcher: TopicMatcher<number>,
  filter: string,
  value: number,
): { filter: string; value: number }[] {
  const problem = validateTopicFilter(filter);
  if (problem === null) {
    matcher.add(filter, value);
    return [{ filter, value }];
  }
  expect(() => matcher.add(filter, value)).toThrow(problem);
  return [];
}
