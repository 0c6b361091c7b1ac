import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { LiveActorView } from '../../connections/inspection.js';
import type { ApiContext, ZodApp } from '../api-context.js';
import { PROTECTED_ERRORS } from '../common.schemas.js';
import { renderChartSvg } from '../visualizer/chart-svg.js';
import { chartOf } from '../visualizer/machine-graph.js';
import { renderMachinesPage, type DrawnMachine } from '../visualizer/machines.page.js';

/** Seconds between SSE comments that keep proxies from closing an idle stream. */
const SSE_KEEPALIVE_MS = 15_000;

const ActorViewSchema = z.object({
  actorId: z.string(),
  machine: z.enum(['connection', 'supervisor']),
  siteId: z.number().int().optional(),
  connectionId: z.number().int().optional(),
  state: z.unknown(),
  context: z.record(z.string(), z.unknown()),
  transitions: z.array(
    z.object({
      at: z.string(),
      event: z.string(),
      from: z.string(),
      to: z.string(),
      reason: z.string().optional(),
    }),
  ),
  stopped: z.boolean(),
});

/**
 * The machine visualizer: GET /debug/machines (page), /debug/machines/actors (JSON snapshot)
 * and /debug/machines/stream (Server-Sent Events, one `LiveActorView` per change).
 */
export function registerMachineRoutes(app: ZodApp, ctx: ApiContext): void {
  const streams = new Set<ServerResponse>();
  // preClose, not onClose: the server waits for open responses before onClose runs.
  app.addHook('preClose', (done) => {
    for (const stream of streams) stream.end();
    done();
  });

  showPage(app, ctx, drawMachines(ctx));
  listActorViews(app, ctx);
  streamChanges(app, ctx, streams);
}

/** GET /debug/machines. */
function showPage(app: ZodApp, ctx: ApiContext, drawn: DrawnMachine[]): void {
  app.get(
    '/debug/machines',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['debugging'],
        summary: 'Machine visualizer (HTML page)',
        produces: ['text/html'],
      },
    },
    (_request, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(renderMachinesPage(drawn, listActors(ctx))),
  );
}

/** GET /debug/machines/actors. */
function listActorViews(app: ZodApp, ctx: ApiContext): void {
  app.get(
    '/debug/machines/actors',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['debugging'],
        summary: 'Live actors: state, context and recent transitions',
        response: { 200: z.object({ items: z.array(ActorViewSchema) }), ...PROTECTED_ERRORS },
      },
    },
    () => ({ items: listActors(ctx) }),
  );
}

/** GET /debug/machines/stream: each change of a live actor as one SSE `data:` line. */
function streamChanges(app: ZodApp, ctx: ApiContext, streams: Set<ServerResponse>): void {
  app.get(
    '/debug/machines/stream',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['debugging'],
        summary: 'Live actor changes as Server-Sent Events',
        produces: ['text/event-stream'],
      },
    },
    (request, reply) => {
      reply.hijack();
      const stream = reply.raw;
      stream.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      stream.write(': live\n\n');
      streams.add(stream);

      const subscription = ctx.inspection?.changes$.subscribe((view) => {
        stream.write(`data: ${JSON.stringify(view)}\n\n`);
      });
      const keepalive = setInterval(() => stream.write(': keepalive\n\n'), SSE_KEEPALIVE_MS);
      request.raw.on('close', () => {
        clearInterval(keepalive);
        subscription?.unsubscribe();
        streams.delete(stream);
      });
    },
  );
}

function listActors(ctx: ApiContext): LiveActorView[] {
  return ctx.inspection?.listActors() ?? [];
}

function drawMachines(ctx: ApiContext): DrawnMachine[] {
  const drawn: DrawnMachine[] = [];
  if (ctx.machines?.connection) {
    drawn.push({ name: 'connection', svg: renderChartSvg(chartOf(ctx.machines.connection)) });
  }
  if (ctx.machines?.supervisor) {
    drawn.push({ name: 'supervisor', svg: renderChartSvg(chartOf(ctx.machines.supervisor)) });
  }
  return drawn;
}
