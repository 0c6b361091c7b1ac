import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { AppError } from './errors.js';

const ALGORITHM = 'aes-256-gcm';
const FORMAT_VERSION = 'v1';
const IV_BYTES = 12;
const KEY_SALT = 'sitewire.credentials.v1';

/**
 * Encrypts and decrypts broker credentials at rest with AES-256-GCM. The key is derived from
 * SECRET_KEY with scrypt; every value gets a fresh IV and carries its authentication tag, so
 * a tampered or wrongly keyed value fails loudly instead of decrypting to garbage.
 */
export class CredentialCipher {
  readonly #key: Buffer;

  constructor(secretKey: string) {
    this.#key = scryptSync(secretKey, KEY_SALT, 32);
  }

  /** Encrypts a plain value into `v1:<iv>:<tag>:<ciphertext>` (base64 parts). */
  encrypt(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.#key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [FORMAT_VERSION, iv, tag, body].map(encodePart).join(':');
  }

  /** Decrypts a value produced by encrypt; throws CREDENTIAL_DECRYPT_FAILED otherwise. */
  decrypt(stored: string): string {
    const [version, iv, tag, body] = stored.split(':');
    if (version !== FORMAT_VERSION || !iv || !tag || body === undefined) {
      throw new AppError('CREDENTIAL_DECRYPT_FAILED', 'stored credential has an unknown format');
    }

    try {
      const decipher = createDecipheriv(ALGORITHM, this.#key, Buffer.from(iv, 'base64'));
      decipher.setAuthTag(Buffer.from(tag, 'base64'));
      const plain = Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]);
      return plain.toString('utf8');
    } catch (cause) {
      throw new AppError('CREDENTIAL_DECRYPT_FAILED', 'stored credential does not decrypt', {
        cause,
      });
    }
  }
}

function encodePart(part: string | Buffer): string {
  return typeof part === 'string' ? part : part.toString('base64');
}
