import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ApiKeySchema, type ApiKey, type ApiKeyRole } from '../../entities/index.js';

/** Every generated key starts with this, so leaked keys are easy to recognise and scan for. */
export const API_KEY_PREFIX = 'sw_';

/** Random bytes per key: 256 bits, far beyond guessing even with a fast hash. */
const KEY_BYTES = 32;

/** Characters of the key kept in clear to tell keys apart in listings. */
const SHOWN_PREFIX_LENGTH = 10;

/** Who a request acts as, once its key or session checked out. */
export interface Principal {
  role: ApiKeyRole;
  /** The api_key row, or `env` for ADMIN_API_KEY. */
  keyId: number | 'env';
  name: string;
}

/** A key as listings show it: never the key, never its hash. */
export interface ApiKeySummary {
  id: number;
  name: string;
  role: ApiKeyRole;
  keyPrefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** SHA-256 of a key, hex. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A fresh random key. */
export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(KEY_BYTES).toString('base64url')}`;
}

/** Creates a key; the returned `key` is the only time it exists in clear. */
export async function createApiKey(
  em: EntityManager,
  input: { name: string; role: ApiKeyRole },
): Promise<{ key: string; summary: ApiKeySummary }> {
  const key = generateApiKey();
  const row = em.create(ApiKeySchema, {
    name: input.name,
    role: input.role,
    keyHash: hashApiKey(key),
    keyPrefix: key.slice(0, SHOWN_PREFIX_LENGTH),
  });
  await em.flush();
  return { key, summary: summarize(row) };
}

/** Every key, newest first, revoked ones included. */
export async function listApiKeys(em: EntityManager): Promise<ApiKeySummary[]> {
  const rows = await em.find(ApiKeySchema, {}, { orderBy: { id: 'desc' } });
  return rows.map(summarize);
}

/** Revokes a key by id; false when there is no such active key. */
export async function revokeApiKey(em: EntityManager, id: number): Promise<boolean> {
  const changed = await em.nativeUpdate(
    ApiKeySchema,
    { id, revokedAt: null },
    { revokedAt: new Date() },
  );
  return changed > 0;
}

/**
 * Resolves a presented key to a principal: ADMIN_API_KEY first (compared in constant time),
 * then the api_key table by hash. Null for unknown or revoked keys.
 */
export async function authenticateApiKey(
  em: EntityManager,
  presented: string,
  adminApiKey: string | undefined,
): Promise<Principal | null> {
  const hash = hashApiKey(presented);
  if (adminApiKey !== undefined && sameHash(hash, hashApiKey(adminApiKey))) {
    return { role: 'admin', keyId: 'env', name: 'ADMIN_API_KEY' };
  }

  const row = await em.findOne(ApiKeySchema, { keyHash: hash, revokedAt: null });
  return row ? { role: row.role, keyId: row.id, name: row.name } : null;
}

/** The principal of a still-valid key id (sessions re-check that their key was not revoked). */
export async function principalForKeyId(
  em: EntityManager,
  keyId: number | 'env',
  adminApiKey: string | undefined,
): Promise<Principal | null> {
  if (keyId === 'env') {
    return adminApiKey === undefined ? null : { role: 'admin', keyId, name: 'ADMIN_API_KEY' };
  }

  const row = await em.findOne(ApiKeySchema, { id: keyId, revokedAt: null });
  return row ? { role: row.role, keyId: row.id, name: row.name } : null;
}

function sameHash(a: string, b: string): boolean {
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

function summarize(row: ApiKey): ApiKeySummary {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    keyPrefix: row.keyPrefix,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt ?? null,
    revokedAt: row.revokedAt ?? null,
  };
}
