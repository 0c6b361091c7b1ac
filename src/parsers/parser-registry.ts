import { AppError } from '../errors.js';
import { validateTopicFilter } from '../topics/topic-filter.js';
import { TopicMatcher } from '../topics/topic-matcher.js';
import { describeParser, type Parser, type ParserDescription } from './parser.js';

/**
 * The parsers the engine knows, by name and by topic. Topic lookups walk a TopicMatcher, so
 * they cost the same however many parsers are registered; when several filters match, the
 * parser registered first wins.
 */
export class ParserRegistry {
  readonly #byName = new Map<string, Parser>();
  readonly #byTopic = new TopicMatcher<Parser>();

  /** Adds a parser; a duplicate name or an invalid topic filter is a start-up mistake. */
  register<T>(parser: Parser<T>): this {
    if (this.#byName.has(parser.parserName)) {
      throw new Error(`a parser named "${parser.parserName}" is already registered`);
    }
    const problem = validateTopicFilter(parser.topicFilter);
    if (problem !== null) {
      throw new Error(`parser "${parser.parserName}" has an invalid topic filter: ${problem}`);
    }

    // Stored as Parser<unknown>: its process step only ever receives what its own schema
    // produced (see parsePayload), so the payload type still lines up.
    const stored: Parser = parser;
    this.#byName.set(parser.parserName, stored);
    this.#byTopic.add(parser.topicFilter, stored);
    return this;
  }

  /** The parser with this name, if any. */
  get(name: string): Parser | undefined {
    return this.#byName.get(name);
  }

  /** Every parser, in registration order. */
  list(): Parser[] {
    return [...this.#byName.values()];
  }

  /** What the API lists: every parser's name, filter, description and sample names. */
  describe(): ParserDescription[] {
    return this.list().map(describeParser);
  }

  /** The first registered parser whose topic filter matches the topic, if any. */
  findForTopic(topic: string): Parser | undefined {
    return this.#byTopic.match(topic)[0];
  }

  /**
   * The parser for a message: the configured name when there is one (mqtt_topic.parser_name),
   * else the registry's topic match. Throws AppError PARSER_NOT_FOUND when neither gives one.
   */
  resolve(parserName: string | null | undefined, topic: string): Parser {
    const parser = parserName ? this.get(parserName) : this.findForTopic(topic);
    if (parser !== undefined) return parser;

    const message = parserName
      ? `no parser named "${parserName}" is registered`
      : 'no registered parser recognises this topic';
    const context = parserName ? { topic, parserName } : { topic };
    throw new AppError('PARSER_NOT_FOUND', message, { context });
  }
}
