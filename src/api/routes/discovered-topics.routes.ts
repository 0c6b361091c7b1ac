import { z } from 'zod';
import {
  DiscoveredTopicSchema,
  MqttConnectionSchema,
  MqttTopicSchema,
  type DiscoveredTopic,
} from '../../entities/index.js';
import { AppError } from '../../errors.js';
import type { ApiContext, ZodApp } from '../api-context.js';
import {
  ErrorBodySchema,
  IdSchema,
  IsoSchema,
  PROTECTED_ERRORS,
  PageQuerySchema,
  QueryBooleanSchema,
  isoRequired,
  pageOf,
} from '../common.schemas.js';
import { topicFilterRegex } from '../topic-regex.js';
import { findSiteOrFail, likePrefix } from './sites.routes.js';
import {
  ParserNameSchema,
  QosSchema,
  TopicBodySchema,
  checkParserName,
  topicBody,
} from './topics.routes.js';

const DiscoveredTopicBodySchema = z.object({
  id: z.number().int(),
  site_id: z.number().int(),
  topic_path: z.string(),
  first_seen_at: IsoSchema,
  last_seen_at: IsoSchema,
  message_count: z.number().int(),
  sample_payload: z.unknown().nullable(),
  payload_size_avg: z.number().nullable(),
  is_processable: z.boolean(),
  parser_name: z.string(),
  configured: z.boolean().describe('a configured topic pattern of the site matches it'),
});

const DiscoveredQuerySchema = PageQuerySchema.extend({
  processable: QueryBooleanSchema.optional(),
  configured: QueryBooleanSchema.optional(),
  search: z.string().max(500).optional().describe('topic path prefix'),
});

const PromoteOptionsSchema = z.strictObject({
  is_active: z.boolean().default(true),
  qos_level: QosSchema.default(0),
  description: z.string().max(10_000).default(''),
  parser_name: ParserNameSchema.optional().describe("default: the catalogue's parser name"),
});

const PromoteBodySchema = PromoteOptionsSchema.nullish();

/** The topic catalogue and its promotion to configured patterns. */
export function registerDiscoveredTopicRoutes(app: ZodApp, ctx: ApiContext): void {
  listDiscoveredTopics(app, ctx);
  promoteDiscoveredTopic(app, ctx);
}

/** GET /api/sites/:siteId/discovered-topics. */
function listDiscoveredTopics(app: ZodApp, ctx: ApiContext): void {
  app.get(
    '/api/sites/:siteId/discovered-topics',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['topics'],
        summary: 'Every topic seen on the site, most recently seen first',
        params: z.strictObject({ siteId: IdSchema }),
        querystring: DiscoveredQuerySchema,
        response: {
          200: pageOf(DiscoveredTopicBodySchema),
          404: ErrorBodySchema,
          ...PROTECTED_ERRORS,
        },
      },
    },
    async (request) => {
      const site = await findSiteOrFail(ctx, request.params.siteId);
      const { limit, offset, processable, configured, search } = request.query;
      const patterns = await configuredPatterns(ctx, site.id);
      const regexes = patterns.map(topicFilterRegex);
      const where = {
        site: site.id,
        ...(processable === undefined ? {} : { isProcessable: processable }),
        ...(search ? { topicPath: { $like: likePrefix(search) } } : {}),
        ...configuredCondition(regexes, configured),
      };
      const [rows, total] = await ctx.orm.em.fork().findAndCount(DiscoveredTopicSchema, where, {
        orderBy: { lastSeenAt: 'desc', id: 'desc' },
        limit,
        offset,
      });
      const matchers = regexes.map((source) => new RegExp(source));
      return { items: rows.map((row) => discoveredBody(row, matchers)), total, limit, offset };
    },
  );
}

/** POST /api/discovered-topics/:id/promote. */
function promoteDiscoveredTopic(app: ZodApp, ctx: ApiContext): void {
  app.post(
    '/api/discovered-topics/:id/promote',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['topics'],
        summary: 'Make a discovered topic a configured pattern of its site',
        params: z.strictObject({ id: IdSchema }),
        body: PromoteBodySchema,
        response: {
          201: TopicBodySchema,
          404: ErrorBodySchema,
          409: ErrorBodySchema,
          ...PROTECTED_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const em = ctx.orm.em.fork();
      const discovered = await em.findOne(DiscoveredTopicSchema, { id: request.params.id });
      if (!discovered) throw new AppError('NOT_FOUND', 'Discovered topic not found');
      const connection = await em.findOne(MqttConnectionSchema, { site: discovered.site.id });
      if (!connection) throw new AppError('NOT_FOUND', 'Connection not found');

      const options = request.body ?? PromoteOptionsSchema.parse({});
      const parserName = options.parser_name ?? discovered.parserName;
      checkParserName(ctx, options.parser_name);
      const topic = em.create(MqttTopicSchema, {
        mqttConnection: connection.id,
        topicPattern: discovered.topicPath,
        isActive: options.is_active,
        qosLevel: options.qos_level,
        description: options.description,
        parserName,
      });
      await em.flush();
      return reply.code(201).send(topicBody(topic));
    },
  );
}
async function configuredPatterns(ctx: ApiContext, siteId: number): Promise<string[]> {
  const topics = await ctx.orm.em
    .fork()
    .find(MqttTopicSchema, { mqttConnection: { site: siteId } }, { fields: ['topicPattern'] });
  return topics.map((topic) => topic.topicPattern);
}

function configuredCondition(regexes: string[], configured: boolean | undefined): object {
  if (configured === undefined) return {};
  const matches = regexes.map((source) => ({ topicPath: { $re: source } }));
  if (configured) return matches.length ? { $or: matches } : { id: { $in: [] } };
  return matches.length ? { $and: matches.map((match) => ({ $not: match })) } : {};
}

function discoveredBody(
  row: DiscoveredTopic,
  matchers: RegExp[],
): z.infer<typeof DiscoveredTopicBodySchema> {
  return {
    id: row.id,
    site_id: row.site.id,
    topic_path: row.topicPath,
    first_seen_at: isoRequired(row.firstSeenAt),
    last_seen_at: isoRequired(row.lastSeenAt),
    message_count: Number(row.messageCount),
    sample_payload: row.samplePayload ?? null,
    payload_size_avg: row.payloadSizeAvg == null ? null : Number(row.payloadSizeAvg),
    is_processable: row.isProcessable,
    parser_name: row.parserName,
    configured: matchers.some((matcher) => matcher.test(row.topicPath)),
  };
}
