import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.js';

/** Refreshes gauges that are read on demand (queue depth, oldest waiting job). */
export type ScrapeHook = () => Promise<void>;

/**
 * Serves the registry as Prometheus text at `/metrics`. Open to anyone who can reach the
 * port: it carries counts and states, never payloads, names or credentials.
 */
export function registerMetricsRoute(
  app: FastifyInstance,
  metrics: Metrics,
  beforeScrape: ScrapeHook[] = [],
): void {
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    await Promise.allSettled(beforeScrape.map((hook) => hook()));
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
