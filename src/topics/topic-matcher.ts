import {
  MULTI_LEVEL_WILDCARD,
  SINGLE_LEVEL_WILDCARD,
  isReservedTopic,
  splitTopicLevels,
  validateTopicFilter,
  validateTopicName,
} from './topic-filter.js';

/**
 * True when the topic name matches the subscription filter under MQTT 3.1.1 section 4.7.
 * An invalid filter or topic name matches nothing. Every character but `/`, `+` and `#` is
 * literal: there are no regular expressions here, so `.`, `*` and `$` need no escaping.
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (validateTopicFilter(filter) !== null || validateTopicName(topic) !== null) return false;

  const filterLevels = splitTopicLevels(filter);
  const topicLevels = splitTopicLevels(topic);
  if (isReservedTopic(topic) && isWildcard(filterLevels[0])) return false;

  for (const [index, level] of filterLevels.entries()) {
    // `#` also matches its parent level, so `a/#` matches `a` with no level left for it.
    if (level === MULTI_LEVEL_WILDCARD) return true;
    if (index >= topicLevels.length) return false;
    if (level !== SINGLE_LEVEL_WILDCARD && level !== topicLevels[index]) return false;
  }
  return filterLevels.length === topicLevels.length;
}

interface TrieNode<T> {
  literals: Map<string, TrieNode<T>>;
  singleLevel: TrieNode<T> | undefined;
  multiLevel: TrieNode<T> | undefined;
  /** Values whose filter ends at this node, each with the order it was added in. */
  values: Map<T, number>;
}

/**
 * A set of MQTT subscription filters, each carrying values, that finds every value whose
 * filter matches a topic by walking a trie level by level. A match costs O(levels) times
 * the few wildcard branches alive at each level, however many filters are stored.
 */
export class TopicMatcher<T> {
  #root: TrieNode<T> = createNode();
  #size = 0;
  #sequence = 0;

  /** How many (filter, value) pairs are stored. */
  get size(): number {
    return this.#size;
  }

  /** Stores a value under a filter; adding the same pair twice keeps one. Throws if invalid. */
  add(filter: string, value: T): void {
    const problem = validateTopicFilter(filter);
    if (problem !== null) throw new Error(`invalid topic filter "${filter}": ${problem}`);

    let node = this.#root;
    for (const level of splitTopicLevels(filter)) node = childFor(node, level);

    if (node.values.has(value)) return;
    node.values.set(value, this.#sequence++);
    this.#size += 1;
  }

  /**
   * Removes a value from a filter, or every value of the filter when none is given.
   * Returns how many pairs were removed.
   */
  remove(filter: string, value?: T): number {
    const path = this.#pathTo(filter);
    const node = path?.at(-1);
    if (path === undefined || node === undefined) return 0;

    const removed = removeValues(node, value);
    this.#size -= removed;
    prune(path, splitTopicLevels(filter));
    return removed;
  }

  /**
   * Every value whose filter matches the topic, each once, in the order they were added.
   * An invalid topic name matches nothing.
   */
  match(topic: string): T[] {
    if (validateTopicName(topic) !== null) return [];

    const found = new Map<T, number>();
    const levels = splitTopicLevels(topic);
    let frontier = [this.#root];
    for (const [index, level] of levels.entries()) {
      const wildcardsAllowed = index > 0 || !isReservedTopic(topic);
      frontier = this.#step(frontier, level, wildcardsAllowed, found);
    }

    // A filter ending in `#` also matches its parent level: `a/#` matches `a`.
    for (const node of frontier) {
      collect(node, found);
      if (node.multiLevel !== undefined) collect(node.multiLevel, found);
    }
    return [...found.entries()].sort((a, b) => a[1] - b[1]).map(([value]) => value);
  }

  #step(
    frontier: TrieNode<T>[],
    level: string,
    wildcardsAllowed: boolean,
    found: Map<T, number>,
  ): TrieNode<T>[] {
    const next: TrieNode<T>[] = [];
    for (const node of frontier) {
      if (wildcardsAllowed && node.multiLevel !== undefined) collect(node.multiLevel, found);
      if (wildcardsAllowed && node.singleLevel !== undefined) next.push(node.singleLevel);

      const literal = node.literals.get(level);
      if (literal !== undefined) next.push(literal);
    }
    return next;
  }

  #pathTo(filter: string): TrieNode<T>[] | undefined {
    if (validateTopicFilter(filter) !== null) return undefined;

    const path = [this.#root];
    for (const level of splitTopicLevels(filter)) {
      const child = existingChild(path.at(-1)!, level);
      if (child === undefined) return undefined;
      path.push(child);
    }
    return path;
  }
}

function createNode<T>(): TrieNode<T> {
  return {
    literals: new Map(),
    singleLevel: undefined,
    multiLevel: undefined,
    values: new Map(),
  };
}

function isWildcard(level: string | undefined): boolean {
  return level === SINGLE_LEVEL_WILDCARD || level === MULTI_LEVEL_WILDCARD;
}

function existingChild<T>(node: TrieNode<T>, level: string): TrieNode<T> | undefined {
  if (level === SINGLE_LEVEL_WILDCARD) return node.singleLevel;
  if (level === MULTI_LEVEL_WILDCARD) return node.multiLevel;
  return node.literals.get(level);
}

function childFor<T>(node: TrieNode<T>, level: string): TrieNode<T> {
  const existing = existingChild(node, level);
  if (existing !== undefined) return existing;

  const child = createNode<T>();
  if (level === SINGLE_LEVEL_WILDCARD) node.singleLevel = child;
  else if (level === MULTI_LEVEL_WILDCARD) node.multiLevel = child;
  else node.literals.set(level, child);
  return child;
}

function removeValues<T>(node: TrieNode<T>, value: T | undefined): number {
  if (value === undefined) {
    const removed = node.values.size;
    node.values.clear();
    return removed;
  }
  return node.values.delete(value) ? 1 : 0;
}

/** Drops the nodes of a filter's path that hold no value and lead nowhere, deepest first. */
function prune<T>(path: TrieNode<T>[], levels: string[]): void {
  for (let index = levels.length - 1; index >= 0; index -= 1) {
    const node = path[index + 1]!;
    if (!isEmpty(node)) return;
    detach(path[index]!, levels[index]!);
  }
}

function isEmpty<T>(node: TrieNode<T>): boolean {
  return (
    node.values.size === 0 &&
    node.literals.size === 0 &&
    node.singleLevel === undefined &&
    node.multiLevel === undefined
  );
}

function detach<T>(parent: TrieNode<T>, level: string): void {
  if (level === SINGLE_LEVEL_WILDCARD) parent.singleLevel = undefined;
  else if (level === MULTI_LEVEL_WILDCARD) parent.multiLevel = undefined;
  else parent.literals.delete(level);
}

function collect<T>(node: TrieNode<T>, found: Map<T, number>): void {
  for (const [value, order] of node.values) {
    const known = found.get(value);
    if (known === undefined || order < known) found.set(value, order);
  }
}
