import { describe, expect, it } from 'vitest';
import { CredentialCipher } from '../src/crypto.js';
import { isAppError } from '../src/errors.js';

describe('CredentialCipher', () => {
  const cipher = new CredentialCipher('a-secret-key-for-tests-only');

  it('decrypts what it encrypted, with a fresh ciphertext every time', () => {
    const first = cipher.encrypt('broker-password');
    const second = cipher.encrypt('broker-password');

    expect(first).not.toContain('broker-password');
    expect(first).not.toBe(second);
    expect(cipher.decrypt(first)).toBe('broker-password');
    expect(cipher.decrypt(second)).toBe('broker-password');
  });

  it('refuses a value encrypted under another key', () => {
    const foreign = new CredentialCipher('another-secret-key-entirely').encrypt('x');

    expect(() => cipher.decrypt(foreign)).toThrow(
      expect.objectContaining({ code: 'CREDENTIAL_DECRYPT_FAILED' }),
    );
  });

  it('refuses a tampered or malformed value', () => {
    const [version, iv, tag, body] = cipher.encrypt('secret').split(':');
    const flipped = Buffer.from(body!, 'base64');
    flipped[0] = flipped[0]! ^ 0xff;
    const tampered = [version, iv, tag, flipped.toString('base64')].join(':');

    for (const value of [tampered, 'plain-text', '']) {
      let caught: unknown;
      try {
        cipher.decrypt(value);
      } catch (error) {
        caught = error;
      }
      expect(isAppError(caught, 'CREDENTIAL_DECRYPT_FAILED')).toBe(true);
    }
  });
});
