/** The level separator of MQTT topic names and filters. */
export const TOPIC_LEVEL_SEPARATOR = '/';

/** Matches exactly one level of a topic, an empty level included. */
export const SINGLE_LEVEL_WILDCARD = '+';

/** Matches the parent level and every level below it; only as the last level of a filter. */
export const MULTI_LEVEL_WILDCARD = '#';

/** Largest topic name or filter MQTT can carry: its length prefix is two bytes. */
export const MAX_TOPIC_BYTES = 65_535;

/**
 * Why a subscription filter breaks MQTT 3.1.1 section 4.7, or null when it is valid.
 * Levels may be empty (`a//b`); `+` and `#` must fill a whole level, `#` only the last one.
 */
export function validateTopicFilter(filter: string): string | null {
  const common = validateCommon(filter, 'topic filter');
  if (common !== null) return common;

  const levels = splitTopicLevels(filter);
  for (const [index, level] of levels.entries()) {
    const problem = validateFilterLevel(level, index, levels.length);
    if (problem !== null) return problem;
  }
  return null;
}

/** Why a topic name (what a message is published to) is invalid, or null when it is valid. */
export function validateTopicName(topic: string): string | null {
  const common = validateCommon(topic, 'topic name');
  if (common !== null) return common;

  if (topic.includes(SINGLE_LEVEL_WILDCARD) || topic.includes(MULTI_LEVEL_WILDCARD)) {
    return 'topic name must not contain the wildcards "+" or "#"';
  }
  return null;
}

/** The levels of a topic name or filter; `a//b` has an empty middle level. */
export function splitTopicLevels(topic: string): string[] {
  return topic.split(TOPIC_LEVEL_SEPARATOR);
}

/**
 * True when the topic's first level starts with `$`: MQTT reserves those topics (`$SYS/...`)
 * for the broker, and a filter starting with a wildcard must not match them.
 */
export function isReservedTopic(topic: string): boolean {
  return topic.startsWith('$');
}

function validateCommon(value: string, what: string): string | null {
  if (value.length === 0) return `${what} must not be empty`;
  if (value.includes('\u0000')) return `${what} must not contain the NUL character`;
  // MQTT strings are well-formed UTF-8: an unpaired surrogate has no encoding, and the client
  // would send U+FFFD in its place, a different topic than the one validated.
  if (/\p{Cs}/u.test(value)) return `${what} must not contain an unpaired surrogate`;

  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_TOPIC_BYTES) {
    return `${what} is ${bytes} bytes long; MQTT allows at most ${MAX_TOPIC_BYTES}`;
  }
  return null;
}

function validateFilterLevel(level: string, index: number, count: number): string | null {
  const position = `level ${index + 1} ("${level}")`;
  if (level.includes(MULTI_LEVEL_WILDCARD)) {
    if (level !== MULTI_LEVEL_WILDCARD) return `"#" must be alone in its level: ${position}`;
    if (index !== count - 1) return `"#" must be the last level of the filter: ${position}`;
  }
  if (level.includes(SINGLE_LEVEL_WILDCARD) && level !== SINGLE_LEVEL_WILDCARD) {
    return `"+" must be alone in its level: ${position}`;
  }
  return null;
}
