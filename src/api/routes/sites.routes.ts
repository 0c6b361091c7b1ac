import { z } from 'zod';
import { SiteSchema, type Site } from '../../entities/index.js';
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

const SiteBodySchema = z.object({
  id: z.number().int(),
  name: z.string(),
  is_active: z.boolean(),
  created_at: IsoSchema,
  updated_at: IsoSchema,
});

const SiteCreateSchema = z.strictObject({
  name: z.string().trim().min(1).max(255),
  is_active: z.boolean().default(true),
});

const SitePatchSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(255).optional(),
    is_active: z.boolean().optional(),
  })
  .refine((patch) => Object.keys(patch).length > 0, 'name at least one field to change');

const SiteListQuerySchema = PageQuerySchema.extend({
  is_active: QueryBooleanSchema.optional(),
  search: z.string().max(255).optional().describe('name prefix, case-insensitive'),
});

const SiteParamsSchema = z.strictObject({ siteId: IdSchema });

/** A site as the API shows it. */
export function siteBody(site: Site): z.infer<typeof SiteBodySchema> {
  return {
    id: site.id,
    name: site.name,
    is_active: site.isActive,
    created_at: isoRequired(site.createdAt),
    updated_at: isoRequired(site.updatedAt),
  };
}

/** Loads a site or throws NOT_FOUND. */
export async function findSiteOrFail(ctx: ApiContext, siteId: number): Promise<Site> {
  const site = await ctx.orm.em.fork().findOne(SiteSchema, { id: siteId });
  if (!site) throw new AppError('NOT_FOUND', 'Site not found', { context: { siteId } });
  return site;
}

/** Escapes LIKE wildcards so a search prefix matches literally. */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

/** CRUD for sites: /api/sites and /api/sites/:siteId. */
export function registerSiteRoutes(app: ZodApp, ctx: ApiContext): void {
  listSites(app, ctx);
  createSite(app, ctx);
  readSite(app, ctx);
  patchSite(app, ctx);
  deleteSite(app, ctx);
}

/** GET /api/sites. */
function listSites(app: ZodApp, ctx: ApiContext): void {
  app.get(
    '/api/sites',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['sites'],
        summary: 'List sites, by name',
        querystring: SiteListQuerySchema,
        response: { 200: pageOf(SiteBodySchema), ...PROTECTED_ERRORS },
      },
    },
    async (request) => {
      const { limit, offset, is_active, search } = request.query;
      const where = {
        ...(is_active === undefined ? {} : { isActive: is_active }),
        ...(search ? { name: { $ilike: likePrefix(search) } } : {}),
      };
      const [sites, total] = await ctx.orm.em
        .fork()
        .findAndCount(SiteSchema, where, { orderBy: { name: 'asc' }, limit, offset });
      return { items: sites.map(siteBody), total, limit, offset };
    },
  );
}

/** POST /api/sites. */
function createSite(app: ZodApp, ctx: ApiContext): void {
  app.post(
    '/api/sites',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['sites'],
        summary: 'Create a site',
        body: SiteCreateSchema,
        response: { 201: SiteBodySchema, 409: ErrorBodySchema, ...PROTECTED_ERRORS },
      },
    },
    async (request, reply) => {
      const em = ctx.orm.em.fork();
      const site = em.create(SiteSchema, {
        name: request.body.name,
        isActive: request.body.is_active,
      });
      await em.flush();
      return reply.code(201).send(siteBody(site));
    },
  );
}

/** GET /api/sites/:siteId. */
function readSite(app: ZodApp, ctx: ApiContext): void {
  app.get(
    '/api/sites/:siteId',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['sites'],
        summary: 'One site',
        params: SiteParamsSchema,
        response: { 200: SiteBodySchema, 404: ErrorBodySchema, ...PROTECTED_ERRORS },
      },
    },
    async (request) => siteBody(await findSiteOrFail(ctx, request.params.siteId)),
  );
}

/** PATCH /api/sites/:siteId. */
function patchSite(app: ZodApp, ctx: ApiContext): void {
  app.patch(
    '/api/sites/:siteId',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['sites'],
        summary: 'Rename a site or switch it on or off',
        params: SiteParamsSchema,
        body: SitePatchSchema,
        response: {
          200: SiteBodySchema,
          404: ErrorBodySchema,
          409: ErrorBodySchema,
          ...PROTECTED_ERRORS,
        },
      },
    },
    async (request) => {
      const em = ctx.orm.em.fork();
      const site = await em.findOne(SiteSchema, { id: request.params.siteId });
      if (!site) throw new AppError('NOT_FOUND', 'Site not found');
      if (request.body.name !== undefined) site.name = request.body.name;
      if (request.body.is_active !== undefined) site.isActive = request.body.is_active;
      await em.flush();
      return siteBody(site);
    },
  );
}

/** DELETE /api/sites/:siteId. */
function deleteSite(app: ZodApp, ctx: ApiContext): void {
  app.delete(
    '/api/sites/:siteId',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['sites'],
        summary: 'Delete a site with its connection, topics, catalogue, logs and telemetry',
        params: SiteParamsSchema,
        response: { 204: z.null(), 404: ErrorBodySchema, ...PROTECTED_ERRORS },
      },
    },
    async (request, reply) => {
      const deleted = await ctx.orm.em
        .fork()
        .nativeDelete(SiteSchema, { id: request.params.siteId });
      if (deleted === 0) throw new AppError('NOT_FOUND', 'Site not found');
      return reply.code(204).send(null);
    },
  );
}
