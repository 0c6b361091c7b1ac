import { AppError } from '../errors.js';
import { parsePayload } from '../parsers/parse-payload.js';
import type { Parser } from '../parsers/parser.js';
import type { DecodedMessage } from './ingest-job.js';
import type { ParserLookup } from './parser-lookup.js';
import { quarantineFor, type Quarantined } from './parsing-log.writer.js';
import { IngestBatch, MessageRecords } from './record-collector.js';

/** The outcome of parsing a job's messages: what to store, and what to quarantine. */
export interface ParsedMessages {
  batch: IngestBatch;
  /** The messages whose records are in the batch, in job order. */
  valid: DecodedMessage[];
  quarantined: Quarantined[];
}

/**
 * Parses every message on its own: JSON, then the parser's schema, then its `process` step
 * into a per-message record set merged into the batch only on success. A failure becomes a
 * quarantine entry, never an exception, so one bad message cannot fail its batch.
 */
export function parseMessages(parsers: ParserLookup, messages: DecodedMessage[]): ParsedMessages {
  const parsed: ParsedMessages = { batch: new IngestBatch(), valid: [], quarantined: [] };
  for (const message of messages) {
    try {
      const records = parseOne(parsers, message);
      const topic = { siteId: message.siteId, topicPath: message.topic };
      parsed.batch.add(records, { ...topic, parserName: message.parserName }, message.receivedAt);
      parsed.valid.push(message);
    } catch (error) {
      parsed.quarantined.push(quarantineFor(message, error));
    }
  }
  return parsed;
}

function parseOne(parsers: ParserLookup, message: DecodedMessage): MessageRecords {
  const parser = resolveParser(parsers, message);
  const payload = parsePayload(message.payload, parser, message.topic);
  const records = new MessageRecords(message.siteId);
  const context = { siteId: message.siteId, topic: message.topic, receivedAt: message.receivedAt };

  try {
    parser.process(payload, context, records);
  } catch (error) {
    // A parser rejecting a value its schema let through (a bad timestamp, say) uses AppError.
    if (error instanceof AppError) throw error;
    throw new AppError('PARSER_FAILED', `parser ${parser.parserName} failed`, {
      cause: error,
      context: { siteId: message.siteId, topic: message.topic },
    });
  }
  return records;
}

/** The parser named by the message, or the registry's pick for its topic when none is. */
export function resolveParser(parsers: ParserLookup, message: DecodedMessage): Parser {
  const parser = message.parserName
    ? parsers.get(message.parserName)
    : parsers.findForTopic(message.topic);
  if (parser) return parser;

  const name = message.parserName || '(none for topic)';
  throw new AppError('PARSER_NOT_FOUND', `no parser registered as ${name}`, {
    context: { siteId: message.siteId, topic: message.topic },
  });
}
