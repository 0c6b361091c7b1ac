import { z } from 'zod';
import { MqttTopicSchema, type MqttTopic } from '../../entities/index.js';
import { AppError } from '../../errors.js';
import type { ApiContext, ZodApp } from '../api-context.js';
import { InputValidationError } from '../error-handler.js';
import {
  ErrorBodySchema,
  IdSchema,
  IsoSchema,
  PROTECTED_ERRORS,
  PageQuerySchema,
  iso,
  pageOf,
} from '../common.schemas.js';
import { validateTopicFilter } from '../../topics/topic-filter.js';
import { findConnectionOrFail } from './connections.routes.js';

/** A configured pattern as the API shows it. */
export const TopicBodySchema = z.object({
  id: z.number().int(),
  connection_id: z.number().int(),
  topic_pattern: z.string(),
  is_active: z.boolean(),
  qos_level: z.number().int(),
  description: z.string(),
  parser_name: z.string(),
  subscription_count: z.number().int(),
  last_subscribed_at: IsoSchema.nullable(),
});

/** An MQTT topic filter (`+` and `#` wildcards), at most 255 characters. */
export const TopicPatternSchema = z
  .string()
  .max(255)
  .superRefine((value, check) => {
    const problem = validateTopicFilter(value);
    if (problem) check.addIssue({ code: 'custom', message: problem });
  });

/** QoS 0, 1 or 2. */
export const QosSchema = z.union([z.literal(0), z.literal(1), z.literal(2)]);

/** A parser name, blank for "let the registry pick by topic". */
export const ParserNameSchema = z.string().max(100);

const TopicCreateSchema = z.strictObject({
  topic_pattern: TopicPatternSchema,
  is_active: z.boolean().default(true),
  qos_level: QosSchema.default(0),
  description: z.string().max(10_000).default(''),
  parser_name: ParserNameSchema.default(''),
});

const TopicPatchSchema = z
  .strictObject({
    topic_pattern: TopicPatternSchema.optional(),
    is_active: z.boolean().optional(),
    qos_level: QosSchema.optional(),
    description: z.string().max(10_000).optional(),
    parser_name: ParserNameSchema.optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, 'name at least one field to change');

const SiteParamsSchema = z.strictObject({ siteId: IdSchema });
const TopicParamsSchema = z.strictObject({ topicId: IdSchema });

/** A configured topic as the API shows it. */
export function topicBody(topic: MqttTopic): z.infer<typeof TopicBodySchema> {
  return {
    id: topic.id,
    connection_id: topic.mqttConnection.id,
    topic_pattern: topic.topicPattern,
    is_active: topic.isActive,
    qos_level: topic.qosLevel,
    description: topic.description,
    parser_name: topic.parserName,
    subscription_count: topic.subscriptionCount,
    last_subscribed_at: iso(topic.lastSubscribedAt),
  };
}

/** Refuses a parser name the registry does not know (blank is always fine). */
export function checkParserName(ctx: ApiContext, parserName: string | undefined): void {
  if (!parserName || !ctx.registry) return;
  const known = ctx.registry.list().map((parser) => parser.parserName);
  if (known.includes(parserName)) return;
  throw new InputValidationError([
    { in: 'body', path: 'parser_name', message: `unknown parser; known: ${known.join(', ')}` },
  ]);
}

/** Configured subscription patterns of a site's connection. */
export function registerTopicRoutes(app: ZodApp, ctx: ApiContext): void {
  listTopics(app, ctx);
  createTopic(app, ctx);
  patchTopic(app, ctx);
  deleteTopic(app, ctx);
}

/** GET /api/sites/:siteId/connection/topics. */
function listTopics(app: ZodApp, ctx: ApiContext): void {
  app.get(
    '/api/sites/:siteId/connection/topics',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['topics'],
        summary: "The connection's configured topic patterns",
        params: SiteParamsSchema,
        querystring: PageQuerySchema,
        response: { 200: pageOf(TopicBodySchema), 404: ErrorBodySchema, ...PROTECTED_ERRORS },
      },
    },
    async (request) => {
      const connection = await findConnectionOrFail(ctx, request.params.siteId);
      const { limit, offset } = request.query;
      const [topics, total] = await ctx.orm.em
        .fork()
        .findAndCount(
          MqttTopicSchema,
          { mqttConnection: connection.id },
          { orderBy: { topicPattern: 'asc' }, limit, offset },
        );
      return { items: topics.map(topicBody), total, limit, offset };
    },
  );
}

/** POST /api/sites/:siteId/connection/topics. */
function createTopic(app: ZodApp, ctx: ApiContext): void {
  app.post(
    '/api/sites/:siteId/connection/topics',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['topics'],
        summary: 'Add a topic pattern (the connection resubscribes without reconnecting)',
        params: SiteParamsSchema,
        body: TopicCreateSchema,
        response: {
          201: TopicBodySchema,
          404: ErrorBodySchema,
          409: ErrorBodySchema,
          ...PROTECTED_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const connection = await findConnectionOrFail(ctx, request.params.siteId);
      checkParserName(ctx, request.body.parser_name);
      const em = ctx.orm.em.fork();
      const topic = em.create(MqttTopicSchema, {
        mqttConnection: connection.id,
        topicPattern: request.body.topic_pattern,
        isActive: request.body.is_active,
        qosLevel: request.body.qos_level,
        description: request.body.description,
        parserName: request.body.parser_name,
      });
      await em.flush();
      return reply.code(201).send(topicBody(topic));
    },
  );
}

/** PATCH /api/topics/:topicId. */
function patchTopic(app: ZodApp, ctx: ApiContext): void {
  app.patch(
    '/api/topics/:topicId',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['topics'],
        summary: 'Change a topic pattern',
        params: TopicParamsSchema,
        body: TopicPatchSchema,
        response: {
          200: TopicBodySchema,
          404: ErrorBodySchema,
          409: ErrorBodySchema,
          ...PROTECTED_ERRORS,
        },
      },
    },
    async (request) => {
      checkParserName(ctx, request.body.parser_name);
      const em = ctx.orm.em.fork();
      const topic = await em.findOne(MqttTopicSchema, { id: request.params.topicId });
      if (!topic) throw new AppError('NOT_FOUND', 'Topic not found');
      const patch = request.body;
      if (patch.topic_pattern !== undefined) topic.topicPattern = patch.topic_pattern;
      if (patch.is_active !== undefined) topic.isActive = patch.is_active;
      if (patch.qos_level !== undefined) topic.qosLevel = patch.qos_level;
      if (patch.description !== undefined) topic.description = patch.description;
      if (patch.parser_name !== undefined) topic.parserName = patch.parser_name;
      await em.flush();
      return topicBody(topic);
    },
  );
}

/** DELETE /api/topics/:topicId. */
function deleteTopic(app: ZodApp, ctx: ApiContext): void {
  app.delete(
    '/api/topics/:topicId',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['topics'],
        summary: 'Remove a topic pattern',
        params: TopicParamsSchema,
        response: { 204: z.null(), 404: ErrorBodySchema, ...PROTECTED_ERRORS },
      },
    },
    async (request, reply) => {
      const deleted = await ctx.orm.em
        .fork()
        .nativeDelete(MqttTopicSchema, { id: request.params.topicId });
      if (deleted === 0) throw new AppError('NOT_FOUND', 'Topic not found');
      return reply.code(204).send(null);
    },
  );
}
