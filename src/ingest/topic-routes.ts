import { TopicMatcher } from '../topics/topic-matcher.js';
import type { ParserLookup } from './parser-lookup.js';

/** A configured topic pattern of a connection (an mqtt_topic row). */
export interface TopicRoute {
  topicId: number;
  connectionId: number;
  pattern: string;
  isActive: boolean;
  /** Blank: let the registry pick by topic. */
  parserName: string;
}

/** Why a message is catalogued but not parsed. */
export type SkipReason = 'unconfigured' | 'inactive' | 'no_parser';

/** What to do with a received message. */
export type RouteDecision =
  { kind: 'route'; parserName: string } | { kind: 'skip'; reason: SkipReason };

/** Decisions remembered per (connection, topic); cleared whole when full or reloaded. */
const DECISION_CACHE_LIMIT = 50_000;

/**
 * The configured patterns of every connection, in one trie per connection, with the parser
 * each matching topic goes to. Decisions are cached per topic, since a site sends the same
 * few topics over and over; `replace` swaps in a fresh configuration and clears the cache.
 */
export class TopicRoutes {
  #matchers = new Map<number, TopicMatcher<TopicRoute>>();
  #decisions = new Map<string, RouteDecision>();
  #rejected: string[] = [];

  constructor(private readonly parsers: ParserLookup) {}

  /** Patterns the last `replace` could not use (invalid MQTT filters). */
  get rejectedPatterns(): readonly string[] {
    return this.#rejected;
  }

  /** Replaces the whole configuration. */
  replace(routes: TopicRoute[]): void {
    const matchers = new Map<number, TopicMatcher<TopicRoute>>();
    const rejected: string[] = [];
    for (const route of routes) {
      let matcher = matchers.get(route.connectionId);
      if (!matcher) {
        matcher = new TopicMatcher<TopicRoute>();
        matchers.set(route.connectionId, matcher);
      }
      try {
        matcher.add(route.pattern, route);
      } catch {
        rejected.push(route.pattern);
      }
    }

    this.#matchers = matchers;
    this.#rejected = rejected;
    this.#decisions = new Map();
  }

  /** Where a message of this connection and topic goes. */
  decide(connectionId: number, topic: string): RouteDecision {
    const key = `${connectionId}\u0000${topic}`;
    const cached = this.#decisions.get(key);
    if (cached) return cached;

    const decision = this.#decideUncached(connectionId, topic);
    if (this.#decisions.size >= DECISION_CACHE_LIMIT) this.#decisions.clear();
    this.#decisions.set(key, decision);
    return decision;
  }

  #decideUncached(connectionId: number, topic: string): RouteDecision {
    const matches = this.#matchers.get(connectionId)?.match(topic) ?? [];
    if (!matches.length) return { kind: 'skip', reason: 'unconfigured' };

    const active = matches.filter((route) => route.isActive);
    if (!active.length) return { kind: 'skip', reason: 'inactive' };

    // A pattern naming its parser wins over one leaving the choice to the registry.
    const named = active.find((route) => route.parserName.trim() !== '');
    if (named) return { kind: 'route', parserName: named.parserName.trim() };

    const parser = this.parsers.findForTopic(topic);
    if (!parser) return { kind: 'skip', reason: 'no_parser' };
    return { kind: 'route', parserName: parser.parserName };
  }
}
