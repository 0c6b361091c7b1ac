import { createHmac } from 'node:crypto';

/** Name of the browser session cookie. */
export const SESSION_COOKIE = 'sitewire_session';

/** How long a browser session lasts, in seconds: one working day. */
export const SESSION_TTL_SECONDS = 8 * 60 * 60;

/** What a session cookie carries: the key it was opened with and when it ends. */
export interface SessionClaims {
  keyId: number | 'env';
  expiresAt: number;
}

/**
 * The cookie-signing secret, derived from SECRET_KEY with a purpose label, so the key that
 * encrypts broker passwords is never used as is for anything else.
 */
export function deriveCookieSecret(secretKey: string): string {
  return createHmac('sha256', secretKey).update('sitewire.session-cookie.v1').digest('hex');
}

/** The (unsigned) cookie value for a session; @fastify/cookie signs it. */
export function encodeSession(claims: SessionClaims): string {
  return `${claims.keyId}.${Math.floor(claims.expiresAt / 1000)}`;
}

/** Reads an unsigned cookie value; null when malformed or expired. */
export function decodeSession(value: string, now = Date.now()): SessionClaims | null {
  const match = /^(env|\d+)\.(\d+)$/.exec(value);
  if (!match) return null;

  const expiresAt = Number(match[2]) * 1000;
  if (expiresAt <= now) return null;
  return { keyId: match[1] === 'env' ? 'env' : Number(match[1]), expiresAt };
}

/** True for a same-site path safe to redirect to after login (no `//host` tricks). */
export function isLocalPath(path: string): boolean {
  return path.startsWith('/') && !path.startsWith('//') && !path.startsWith('/\\');
}
