import type { ParserRegistry } from '../parsers/parser-registry.js';

/** The part of the parser registry ingest uses: lookups by name and by topic. */
export type ParserLookup = Pick<ParserRegistry, 'get' | 'findForTopic'>;
