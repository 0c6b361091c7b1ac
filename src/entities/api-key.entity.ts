import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/** What a key may do: `admin` changes things, `viewer` reads. */
export const API_KEY_ROLES = ['admin', 'viewer'] as const;

/** One of API_KEY_ROLES. */
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];

/**
 * A key for the control API. Only the SHA-256 of the key is stored: keys are 256 random bits,
 * so a fast hash is as safe as a slow one against guessing and lets every request find its key
 * with one indexed lookup. `keyPrefix` is the key's first characters, shown to tell keys apart.
 */
export const ApiKeySchema = defineEntity({
  name: 'ApiKey',
  tableName: 'api_key',
  properties: {
    id: p.integer().primary().autoincrement(),
    name: p.string().length(100),
    role: p.enum([...API_KEY_ROLES]),
    keyHash: p.string().length(64).unique(),
    keyPrefix: p.string().length(16),
    createdAt: p
      .datetime()
      .onCreate(() => new Date())
      .defaultRaw('now()'),
    lastUsedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
  },
});

/** An ApiKey row. */
export type ApiKey = InferEntity<typeof ApiKeySchema>;
