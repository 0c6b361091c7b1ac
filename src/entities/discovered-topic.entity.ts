import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { SiteSchema } from './site.entity.js';

/** The topic catalogue: every topic ever received on a site, configured or not. */
export const DiscoveredTopicSchema = defineEntity({
  name: 'DiscoveredTopic',
  tableName: 'discovered_topic',
  uniques: [{ properties: ['site', 'topicPath'] }],
  // Listings are newest first (last_seen_at desc); this index serves them per site.
  indexes: [{ properties: ['site', 'lastSeenAt'] }],
  properties: {
    id: p.integer().primary().autoincrement(),
    site: p.manyToOne(SiteSchema).deleteRule('cascade'),
    topicPath: p.string().length(500),
    firstSeenAt: p.datetime(),
    lastSeenAt: p.datetime(),
    messageCount: p.bigint('number').default(0),
    samplePayload: p.json<unknown>().nullable(),
    payloadSizeAvg: p.double().nullable(),
    isProcessable: p.boolean().default(false),
    parserName: p.string().length(100).default(''),
  },
});

/** A DiscoveredTopic row. */
export type DiscoveredTopic = InferEntity<typeof DiscoveredTopicSchema>;
