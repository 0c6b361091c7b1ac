import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/** A physical site: one MQTT connection, its gateways and their telemetry. */
export const SiteSchema = defineEntity({
  name: 'Site',
  tableName: 'site',
  properties: {
    id: p.integer().primary().autoincrement(),
    name: p.string().length(255).unique(),
    isActive: p.boolean().default(true),
    createdAt: p
      .datetime()
      .onCreate(() => new Date())
      .defaultRaw('now()'),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date())
      .defaultRaw('now()'),
  },
});

/** A Site row. */
export type Site = InferEntity<typeof SiteSchema>;
