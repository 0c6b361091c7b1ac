import type { z } from 'zod';
import type { PersistenceBatch } from '../ingest/persistence-batch.js';
import type { PayloadIssue } from './payload-issue.js';

/** Where and when the message being processed arrived. */
export interface ParseContext {
  siteId: number;
  topic: string;
  receivedAt: Date;
}

/** A named example payload of a parser, with a topic it could arrive on. */
export interface ParserSample {
  name: string;
  description: string;
  topic: string;
  /** The payload as JSON would decode it. */
  payload: unknown;
}

/** A sample the parser must refuse, with the issue paths it must report. */
export interface InvalidParserSample extends ParserSample {
  expectedIssuePaths: readonly string[];
}

/**
 * A payload format the engine understands. Adding one is a new `*.parser.ts` file exporting
 * a Parser plus one registration line in `createDefaultRegistry`.
 *
 * `schema` validates the decoded JSON (its output is the payload `process` receives);
 * `checkTopic` adds checks that need the topic, such as the gateway serial in its levels;
 * `process` records what to persist into the batch and never touches the database, so the
 * worker can write a whole batch of messages in a few statements.
 */
export interface Parser<TPayload = unknown> {
  /** Unique name, stored in mqtt_topic.parser_name and on quarantined messages. */
  readonly parserName: string;
  /** The MQTT filter (with `+` and `#`) of the topics this parser recognises. */
  readonly topicFilter: string;
  /** One or two sentences for the API's parser list. */
  readonly description: string;
  readonly schema: z.ZodType<TPayload>;
  /** Valid example payloads, listed by the API and run by the tests. */
  readonly samples: readonly ParserSample[];

  /** Issues that depend on the topic as well as the payload; empty when there are none. */
  checkTopic?(payload: TPayload, topic: string): PayloadIssue[];

  /** Records the validated payload's gateways, devices, sensors and readings into the batch. */
  process(payload: TPayload, context: ParseContext, batch: PersistenceBatch): void;
}

/** What the API lists about a parser. */
export interface ParserDescription {
  name: string;
  topicFilter: string;
  description: string;
  sampleNames: string[];
}

/** A parser's public description, for the API's parser list. */
export function describeParser(parser: Parser): ParserDescription {
  return {
    name: parser.parserName,
    topicFilter: parser.topicFilter,
    description: parser.description,
    sampleNames: parser.samples.map((sample) => sample.name),
  };
}
