import { z } from 'zod';
import type { ApiContext, ZodApp } from '../api-context.js';
import { PROTECTED_ERRORS } from '../common.schemas.js';

const ParserListSchema = z.object({
  items: z.array(
    z.object({ parser_name: z.string(), topic_filter: z.string(), description: z.string() }),
  ),
});

/** GET /api/parsers: the parser registry. */
export function registerParserRoutes(app: ZodApp, ctx: ApiContext): void {
  app.get(
    '/api/parsers',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['parsers'],
        summary: 'Registered parsers and the topics they recognise',
        response: { 200: ParserListSchema, ...PROTECTED_ERRORS },
      },
    },
    () => ({
      items: (ctx.registry?.list() ?? []).map((parser) => ({
        parser_name: parser.parserName,
        topic_filter: parser.topicFilter,
        description: parser.description ?? '',
      })),
    }),
  );
}
