import { z } from 'zod';
import {
  CONNECTION_STATUSES,
  MqttConnectionSchema,
  type MqttConnection,
} from '../../entities/index.js';
import { AppError } from '../../errors.js';
import type { ApiContext, ZodApp } from '../api-context.js';
import { ErrorBodySchema, IdSchema, IsoSchema, PROTECTED_ERRORS, iso } from '../common.schemas.js';
import { InputValidationError } from '../error-handler.js';
import { validateTopicFilter } from '../../topics/topic-filter.js';
import { findSiteOrFail } from './sites.routes.js';

const ConnectionBodySchema = z.object({
  id: z.number().int(),
  site_id: z.number().int(),
  broker_host: z.string(),
  broker_port: z.number().int(),
  use_tls: z.boolean(),
  ca_cert: z.string().nullable(),
  username: z.string(),
  has_password: z.boolean().describe('whether a password is set; the password is never returned'),
  client_id_prefix: z.string(),
  discovery_pattern: z.string(),
  is_active: z.boolean(),
  status: z.enum(CONNECTION_STATUSES),
  mqtt_retry_count: z.number().int(),
  mqtt_next_retry: IsoSchema.nullable(),
  last_connected_at: IsoSchema.nullable(),
  last_heartbeat_at: IsoSchema.nullable(),
  last_error: z.string().nullable(),
  silent: z.boolean().nullable().describe('connected but quiet for too long; null if unknown'),
  owner_instance: z
    .string()
    .nullable()
    .describe('INSTANCE_ID of the engine instance holding the connection; null when none'),
  created_at: IsoSchema,
  updated_at: IsoSchema,
});

const DiscoveryPatternSchema = z
  .string()
  .max(255)
  .refine((value) => value === '' || validateTopicFilter(value) === null, {
    message: 'not a valid MQTT topic filter (blank for no discovery subscription)',
  });

const ConnectionPutSchema = z.strictObject({
  broker_host: z.string().trim().min(1).max(255).optional().describe('required when creating'),
  broker_port: z.number().int().min(1).max(65535).optional(),
  use_tls: z.boolean().optional(),
  ca_cert: z.string().max(65_536).nullable().optional(),
  username: z.string().max(255).optional(),
  password: z
    .string()
    .max(1024)
    .nullable()
    .optional()
    .describe('write-only; null clears it, absent keeps it'),
  client_id_prefix: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,50}$/, '1-50 letters, digits, dot, dash or underscore')
    .optional(),
  discovery_pattern: DiscoveryPatternSchema.optional(),
  is_active: z.boolean().optional(),
});

const StartStopBodySchema = z.object({
  success: z.boolean(),
  message: z.string(),
  status: z.enum(CONNECTION_STATUSES),
  is_active: z.boolean(),
});

const SiteParamsSchema = z.strictObject({ siteId: IdSchema });

type ConnectionPut = z.infer<typeof ConnectionPutSchema>;

/** A connection as the API shows it: never the password, only whether one is set. */
export function connectionBody(
  ctx: ApiContext,
  connection: MqttConnection,
): z.infer<typeof ConnectionBodySchema> {
  const health = ctx.connectionHealth?.(connection.id);
  return {
    id: connection.id,
    site_id: connection.site.id,
    broker_host: connection.brokerHost,
    broker_port: connection.brokerPort,
    use_tls: connection.useTls,
    ca_cert: connection.caCert ?? null,
    username: connection.username,
    has_password: !!connection.passwordEncrypted,
    client_id_prefix: connection.clientIdPrefix,
    discovery_pattern: connection.discoveryPattern,
    is_active: connection.isActive,
    status: connection.status,
    mqtt_retry_count: connection.mqttRetryCount,
    mqtt_next_retry: iso(connection.mqttNextRetry),
    last_connected_at: iso(connection.lastConnectedAt),
    last_heartbeat_at: iso(connection.lastHeartbeatAt),
    last_error: connection.lastError ?? null,
    silent: health ? health.silent : null,
    owner_instance: connection.ownerInstance ?? null,
    created_at: connection.createdAt.toISOString(),
    updated_at: connection.updatedAt.toISOString(),
  };
}

/** The site's connection or NOT_FOUND `Connection not found`. */
export async function findConnectionOrFail(
  ctx: ApiContext,
  siteId: number,
): Promise<MqttConnection> {
  const connection = await ctx.orm.em.fork().findOne(MqttConnectionSchema, { site: siteId });
  if (!connection) {
    throw new AppError('NOT_FOUND', 'Connection not found', { context: { siteId } });
  }
  return connection;
}

/** A site's connection: read, create or update, start and stop. */
export function registerConnectionRoutes(app: ZodApp, ctx: ApiContext): void {
  app.get(
    '/api/sites/:siteId/connection',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['connections'],
        summary: "The site's connection, with its health",
        params: SiteParamsSchema,
        response: { 200: ConnectionBodySchema, 404: ErrorBodySchema, ...PROTECTED_ERRORS },
      },
    },
    async (request) => connectionBody(ctx, await findConnectionOrFail(ctx, request.params.siteId)),
  );

  app.put(
    '/api/sites/:siteId/connection',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['connections'],
        summary: "Create or update the site's connection",
        description:
          'Absent fields keep their value (or take their default on creation). `password` is ' +
          'write-only: it is stored encrypted and never returned; `has_password` says if set.',
        params: SiteParamsSchema,
        body: ConnectionPutSchema,
        response: {
          200: ConnectionBodySchema,
          201: ConnectionBodySchema,
          404: ErrorBodySchema,
          ...PROTECTED_ERRORS,
        },
      },
    },
    async (request, reply) => {
      const { connection, created } = await upsertConnection(
        ctx,
        request.params.siteId,
        request.body,
      );
      return reply.code(created ? 201 : 200).send(connectionBody(ctx, connection));
    },
  );

  registerStartStop(app, ctx, 'start');
  registerStartStop(app, ctx, 'stop');
}

async function upsertConnection(
  ctx: ApiContext,
  siteId: number,
  input: ConnectionPut,
): Promise<{ connection: MqttConnection; created: boolean }> {
  const site = await findSiteOrFail(ctx, siteId);
  const em = ctx.orm.em.fork();
  const existing = await em.findOne(MqttConnectionSchema, { site: site.id });
  const fields = connectionFields(ctx, input);
  if (existing) {
    em.assign(existing, fields);
    await em.flush();
    return { connection: existing, created: false };
  }

  if (input.broker_host === undefined) {
    throw new InputValidationError([
      { in: 'body', path: 'broker_host', message: 'required to create a connection' },
    ]);
  }
  const connection = em.create(MqttConnectionSchema, {
    site: site.id,
    brokerHost: input.broker_host,
    clientIdPrefix: input.client_id_prefix ?? 'sitewire',
    ...fields,
  });
  await em.flush();
  return { connection, created: true };
}

function connectionFields(ctx: ApiContext, input: ConnectionPut): Partial<MqttConnection> {
  const fields: Partial<MqttConnection> = {};
  if (input.broker_host !== undefined) fields.brokerHost = input.broker_host;
  if (input.broker_port !== undefined) fields.brokerPort = input.broker_port;
  if (input.use_tls !== undefined) fields.useTls = input.use_tls;
  if (input.ca_cert !== undefined) fields.caCert = input.ca_cert;
  if (input.username !== undefined) fields.username = input.username;
  if (input.client_id_prefix !== undefined) fields.clientIdPrefix = input.client_id_prefix;
  if (input.discovery_pattern !== undefined) fields.discoveryPattern = input.discovery_pattern;
  if (input.is_active !== undefined) fields.isActive = input.is_active;
  if (input.password !== undefined) {
    fields.passwordEncrypted = input.password === null ? null : ctx.cipher.encrypt(input.password);
  }
  return fields;
}

/**
 * POST start/stop: flips is_active and nothing else. The supervisor hears the change through
 * the database's NOTIFY trigger and acts within a second; `status` is the state right now.
 */
function registerStartStop(app: ZodApp, ctx: ApiContext, action: 'start' | 'stop'): void {
  app.post(
    `/api/sites/:siteId/connection/${action}`,
    {
      config: { access: 'admin' },
      schema: {
        tags: ['connections'],
        summary: action === 'start' ? 'Switch the connection on' : 'Switch the connection off',
        params: SiteParamsSchema,
        response: { 200: StartStopBodySchema, 404: ErrorBodySchema, ...PROTECTED_ERRORS },
      },
    },
    async (request, reply) => {
      const { siteId } = request.params;
      const em = ctx.orm.em.fork();
      const connection = await em.findOne(MqttConnectionSchema, { site: siteId });
      if (!connection) return reply.code(404).send({ error: 'Connection not found' });

      connection.isActive = action === 'start';
      await em.flush();
      return {
        success: true,
        message: `MQTT connection for site ${siteId} will ${action} within a second`,
        status: connection.status,
        is_active: connection.isActive,
      };
    },
  );
}
