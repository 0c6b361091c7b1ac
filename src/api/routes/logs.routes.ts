import { z } from 'zod';
import {
  LOG_LEVELS,
  MqttConnectionLogSchema,
  MqttParsingLogSchema,
  PARSING_ERROR_TYPES,
  type MqttConnectionLog,
  type MqttParsingLog,
} from '../../entities/index.js';
import type { ApiContext, ReplaySelection, ZodApp } from '../api-context.js';
import {
  ErrorBodySchema,
  IdSchema,
  IsoSchema,
  PROTECTED_ERRORS,
  TimestampSchema,
  iso,
  isoRequired,
} from '../common.schemas.js';

const LogWindowSchema = z.strictObject({
  site_id: IdSchema.optional(),
  since: TimestampSchema.optional().describe('inclusive'),
  until: TimestampSchema.optional().describe('exclusive'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

const ConnectionLogQuerySchema = LogWindowSchema.extend({
  connection_id: IdSchema.optional(),
  level: z.enum(LOG_LEVELS).optional(),
});

const ParsingLogQuerySchema = LogWindowSchema.extend({
  error_type: z.enum(PARSING_ERROR_TYPES).optional(),
  topic: z.string().max(500).optional().describe('exact topic'),
  replayed: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional(),
});

const ConnectionLogBodySchema = z.object({
  id: z.number().int(),
  connection_id: z.number().int(),
  site_id: z.number().int(),
  timestamp: IsoSchema,
  level: z.enum(LOG_LEVELS),
  message: z.string(),
  exception_type: z.string(),
  exception_traceback: z.string(),
  broker_host: z.string(),
  retry_attempt: z.number().int().nullable(),
});

const ParsingLogBodySchema = z.object({
  id: z.number().int(),
  site_id: z.number().int(),
  timestamp: IsoSchema,
  topic: z.string(),
  parser_name: z.string(),
  error_type: z.enum(PARSING_ERROR_TYPES),
  error_message: z.string(),
  exception_type: z.string(),
  exception_traceback: z.string(),
  payload_sample: z.string(),
  raw_payload_truncated: z.boolean(),
  qos: z.number().int(),
  received_at: IsoSchema.nullable(),
  replayed_at: IsoSchema.nullable(),
  replay_outcome: z.string().nullable(),
});

/** A window of log rows, newest first; page with `offset` or by moving `until`. */
function logPage<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), limit: z.number().int(), offset: z.number().int() });
}

const ReplayBodySchema = z
  .strictObject({
    ids: z.array(IdSchema).min(1).max(1000).optional(),
    filter: z
      .strictObject({
        site_id: IdSchema.optional(),
        error_type: z.enum(PARSING_ERROR_TYPES).optional(),
        topic: z.string().max(500).optional(),
        since: TimestampSchema.optional(),
        until: TimestampSchema.optional(),
        include_replayed: z.boolean().default(false),
      })
      .optional(),
    limit: z.number().int().min(1).max(10_000).default(1000),
  })
  .refine((body) => (body.ids === undefined) !== (body.filter === undefined), {
    message: 'give either `ids` or `filter`, not both',
  });

const ReplayResultSchema = z.object({
  replayed: z.number().int().describe('rows run again'),
  stored: z.number().int().describe('rows whose message now parsed and was stored'),
  failed: z.number().int(),
  outcomes: z.array(
    z.object({ id: z.number().int(), outcome: z.string().describe("'stored' or 'failed: …'") }),
  ),
});

/** Connection and parsing logs, and replay of quarantined messages. */
export function registerLogRoutes(app: ZodApp, ctx: ApiContext): void {
  listConnectionLogs(app, ctx);
  listParsingLogs(app, ctx);
  replayQuarantined(app, ctx);
}

/** GET /api/connection-logs. */
function listConnectionLogs(app: ZodApp, ctx: ApiContext): void {
  app.get(
    '/api/connection-logs',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['logs'],
        summary: 'Connection lifecycle events and errors, newest first',
        querystring: ConnectionLogQuerySchema,
        response: { 200: logPage(ConnectionLogBodySchema), ...PROTECTED_ERRORS },
      },
    },
    async (request) => {
      const query = request.query;
      const where = {
        ...window(query),
        ...(query.site_id ? { connection: { site: query.site_id } } : {}),
        ...(query.connection_id ? { connection: query.connection_id } : {}),
        ...(query.level ? { level: query.level } : {}),
      };
      const rows = await ctx.orm.em.fork().find(MqttConnectionLogSchema, where, {
        orderBy: { timestamp: 'desc', id: 'desc' },
        limit: query.limit,
        offset: query.offset,
        populate: ['connection'],
      });
      return { items: rows.map(connectionLogBody), limit: query.limit, offset: query.offset };
    },
  );
}

/** GET /api/parsing-logs. */
function listParsingLogs(app: ZodApp, ctx: ApiContext): void {
  app.get(
    '/api/parsing-logs',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['logs'],
        summary: 'Quarantined messages, newest first',
        querystring: ParsingLogQuerySchema,
        response: { 200: logPage(ParsingLogBodySchema), ...PROTECTED_ERRORS },
      },
    },
    async (request) => {
      const query = request.query;
      const where = {
        ...window(query),
        ...(query.site_id ? { site: query.site_id } : {}),
        ...(query.error_type ? { errorType: query.error_type } : {}),
        ...(query.topic ? { topic: query.topic } : {}),
        ...replayedCondition(query.replayed),
      };
      const rows = await ctx.orm.em.fork().find(MqttParsingLogSchema, where, {
        orderBy: { timestamp: 'desc', id: 'desc' },
        limit: query.limit,
        offset: query.offset,
        // Raw payloads (up to 256 KiB each) are for replay, not for listings.
        exclude: ['rawPayload'],
      });
      return { items: rows.map(parsingLogBody), limit: query.limit, offset: query.offset };
    },
  );
}

/** POST /api/parsing-logs/replay. */
function replayQuarantined(app: ZodApp, ctx: ApiContext): void {
  app.post(
    '/api/parsing-logs/replay',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['logs'],
        summary: 'Run quarantined messages through their parsers again, by ids or by filter',
        body: ReplayBodySchema,
        response: { 200: ReplayResultSchema, 503: ErrorBodySchema, ...PROTECTED_ERRORS },
      },
    },
    async (request, reply) => {
      if (!ctx.replay) {
        return reply
          .code(503)
          .send({ error: 'replay is not available in this process', code: 'UNAVAILABLE' });
      }
      return ctx.replay(toSelection(request.body));
    },
  );
}
function window(query: { since?: Date | undefined; until?: Date | undefined }): object {
  if (!query.since && !query.until) return {};
  return {
    timestamp: {
      ...(query.since ? { $gte: query.since } : {}),
      ...(query.until ? { $lt: query.until } : {}),
    },
  };
}

function replayedCondition(replayed: boolean | undefined): object {
  if (replayed === undefined) return {};
  return { replayedAt: replayed ? { $ne: null } : null };
}

function toSelection(body: z.infer<typeof ReplayBodySchema>): ReplaySelection {
  if (body.ids) return { ids: body.ids };
  const filter = body.filter ?? { include_replayed: false };
  return {
    ...(filter.site_id ? { siteId: filter.site_id } : {}),
    ...(filter.error_type ? { errorType: filter.error_type } : {}),
    ...(filter.topic ? { topic: filter.topic } : {}),
    ...(filter.since ? { since: filter.since } : {}),
    ...(filter.until ? { until: filter.until } : {}),
    includeReplayed: filter.include_replayed,
    limit: body.limit,
  };
}

function connectionLogBody(row: MqttConnectionLog): z.infer<typeof ConnectionLogBodySchema> {
  return {
    id: row.id,
    connection_id: row.connection.id,
    site_id: row.connection.site.id,
    timestamp: isoRequired(row.timestamp),
    level: row.level,
    message: row.message,
    exception_type: row.exceptionType,
    exception_traceback: row.exceptionTraceback,
    broker_host: row.brokerHost,
    retry_attempt: row.retryAttempt ?? null,
  };
}

type ParsingLogRow = Pick<
  MqttParsingLog,
  | 'id'
  | 'site'
  | 'timestamp'
  | 'topic'
  | 'parserName'
  | 'errorType'
  | 'errorMessage'
  | 'exceptionType'
  | 'exceptionTraceback'
  | 'payloadSample'
  | 'rawPayloadTruncated'
  | 'qos'
  | 'receivedAt'
  | 'replayedAt'
  | 'replayOutcome'
>;

function parsingLogBody(row: ParsingLogRow): z.infer<typeof ParsingLogBodySchema> {
  return {
    id: row.id,
    site_id: row.site.id,
    timestamp: isoRequired(row.timestamp),
    topic: row.topic,
    parser_name: row.parserName,
    error_type: row.errorType,
    error_message: row.errorMessage,
    exception_type: row.exceptionType,
    exception_traceback: row.exceptionTraceback,
    payload_sample: row.payloadSample,
    raw_payload_truncated: row.rawPayloadTruncated,
    qos: row.qos,
    received_at: iso(row.receivedAt),
    replayed_at: iso(row.replayedAt),
    replay_outcome: row.replayOutcome ?? null,
  };
}
