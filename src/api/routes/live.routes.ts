import { z } from 'zod';
import type { ZodApp } from '../api-context.js';
import { toInputIssue } from '../error-handler.js';
import type { EventHub, SiteSelection } from '../live/event-hub.js';
import { IdSchema, PROTECTED_ERRORS } from '../common.schemas.js';

const SiteListSchema = z
  .string()
  .regex(/^\d+(,\d+)*$/, 'comma-separated site ids')
  .transform((value) => value.split(',').map(Number));

const LiveQuerySchema = z.strictObject({
  token: z.string().optional().describe('API key, for clients that cannot set headers'),
  site_id: SiteListSchema.optional().describe('sites to follow, e.g. `1,2`; default all'),
});

const ClientMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('subscribe'),
    site_ids: z.union([z.array(IdSchema), z.literal('all')]),
  }),
  z.strictObject({ type: z.literal('unsubscribe'), site_ids: z.array(IdSchema) }),
]);

/**
 * GET /ws: the live stream. Clients follow every site unless they pass `site_id=1,2`; they can
 * change that with `{"type":"subscribe","site_ids":[1,2] | "all"}` and
 * `{"type":"unsubscribe","site_ids":[2]}`. Events arrive as JSON with snake_case fields.
 */
export function registerLiveRoutes(app: ZodApp, hub: EventHub): void {
  app.get(
    '/ws',
    {
      websocket: true,
      config: { access: 'viewer', tokenQuery: true },
      schema: {
        tags: ['live'],
        summary: 'Live event stream (WebSocket upgrade)',
        description:
          'Events: connection.state, connection.silent, connection.receiving, data_update, ' +
          'parsing_error, gateway.online, gateway.offline. Each has `type`, `site_id`, `at`.',
        querystring: LiveQuerySchema,
        response: PROTECTED_ERRORS,
      },
    },
    (socket, request) => {
      let sites: SiteSelection = request.query.site_id ? new Set(request.query.site_id) : 'all';
      const client = hub.attach(socket, sites);
      hub.send(socket, subscribedMessage(sites));

      socket.on('message', (data: Buffer, isBinary: boolean) => {
        const parsed = parseClientMessage(isBinary ? '' : data.toString('utf8'));
        if (!parsed.success) {
          hub.send(socket, { type: 'error', error: 'invalid message', issues: parsed.issues });
          return;
        }
        sites = applyMessage(sites, parsed.message);
        client.select(sites);
        hub.send(socket, subscribedMessage(sites));
      });
    },
  );
}

type ClientMessage = z.infer<typeof ClientMessageSchema>;

function parseClientMessage(
  text: string,
):
  | { success: true; message: ClientMessage }
  | { success: false; issues: ReturnType<typeof toInputIssue>[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { success: false, issues: [{ in: 'message', path: '', message: 'not JSON' }] };
  }
  const result = ClientMessageSchema.safeParse(json);
  if (result.success) return { success: true, message: result.data };
  return { success: false, issues: result.error.issues.map((i) => toInputIssue('message', i)) };
}

function applyMessage(current: SiteSelection, message: ClientMessage): SiteSelection {
  if (message.type === 'subscribe') {
    if (message.site_ids === 'all' || current === 'all') {
      return message.site_ids === 'all' ? 'all' : new Set(message.site_ids);
    }
    return new Set([...current, ...message.site_ids]);
  }
  const removed = new Set(message.site_ids);
  const base = current === 'all' ? [] : [...current];
  return new Set(base.filter((id) => !removed.has(id)));
}

function subscribedMessage(sites: SiteSelection) {
  return {
    type: 'subscribed',
    site_ids: sites === 'all' ? 'all' : [...sites].sort((a, b) => a - b),
  };
}
