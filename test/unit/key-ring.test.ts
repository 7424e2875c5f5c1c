import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError, EncryptionKeyMissingError } from '../../src/errors.ts';
import { createKeyRing, decryptSecret, encryptSecret, encryptionKeyId, isSealedWithCurrentKey, sealedKeyId } from '../../src/security/encryption.ts';

/** REL-F7: KEY_ENCRYPTION_KEY is a list; the first key seals, every key opens, each ciphertext names its key. */
const OLD = Buffer.alloc(32, 1);
const NEW = Buffer.alloc(32, 2);
const base64 = (key: Buffer) => key.toString('base64');

/** What the release before key ids wrote: v1.<iv>.<tag>.<ciphertext>. */
function sealV1(key: Buffer, plaintext: string, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', ...[iv, cipher.getAuthTag(), ciphertext].map((part) => part.toString('base64url'))].join('.');
}

describe('the key ring', () => {
  it('seals under the first key and names it; the id is stable, short and not the key', () => {
    const ring = createKeyRing([NEW, OLD]);
    const sealed = encryptSecret(ring, 'seed', 'totp:1');
    expect(sealedKeyId(sealed)).toBe(encryptionKeyId(NEW));
    expect(encryptionKeyId(NEW)).toBe(encryptionKeyId(Buffer.from(NEW)));
    expect(encryptionKeyId(NEW)).toMatch(/^[\w-]{11}$/);
    expect(encryptionKeyId(NEW)).not.toBe(encryptionKeyId(OLD));
    expect(sealed).not.toContain(NEW.toString('base64url'));
    expect(isSealedWithCurrentKey(ring, sealed)).toBe(true);
    expect(isSealedWithCurrentKey(createKeyRing([OLD, NEW]), sealed)).toBe(false);
  });

  it('opens with the key the id names, wherever it is in the list', () => {
    const sealedByOld = encryptSecret(createKeyRing([OLD]), 'seed', 'totp:1');
    expect(decryptSecret(createKeyRing([NEW, OLD]), sealedByOld, 'totp:1')).toBe('seed');
    expect(decryptSecret(createKeyRing([OLD, NEW]), sealedByOld, 'totp:1')).toBe('seed');
  });

  it('says which key is missing instead of trying the others', () => {
    const sealedByOld = encryptSecret(createKeyRing([OLD]), 'seed', 'totp:1');
    expect(() => decryptSecret(createKeyRing([NEW]), sealedByOld, 'totp:1')).toThrow(EncryptionKeyMissingError);
    expect(() => decryptSecret(createKeyRing([NEW]), sealedByOld, 'totp:1')).toThrow(`under key id ${encryptionKeyId(OLD)}`);
  });

  it('opens v1 secrets (no key id) by trying each key, which GCM makes safe: a wrong key or a changed byte fails', () => {
    const legacy = sealV1(OLD, 'seed', 'totp:1');
    expect(sealedKeyId(legacy)).toBeUndefined();
    expect(decryptSecret(createKeyRing([NEW, OLD]), legacy, 'totp:1')).toBe('seed');
    expect(() => decryptSecret(createKeyRing([NEW]), legacy, 'totp:1')).toThrow(EncryptionKeyMissingError);
    expect(() => decryptSecret(createKeyRing([NEW, OLD]), legacy, 'totp:2')).toThrow();
  });

  it('refuses a changed ciphertext, a ciphertext moved to another row, and an unknown format', () => {
    const ring = createKeyRing([NEW]);
    const sealed = encryptSecret(ring, 'seed', 'totp:1');
    const parts = sealed.split('.');
    const last = parts[4]!;
    parts[4] = (last[0] === 'A' ? 'B' : 'A') + last.slice(1);
    expect(() => decryptSecret(ring, parts.join('.'), 'totp:1')).toThrow();
    expect(() => decryptSecret(ring, sealed, 'totp:2')).toThrow();
    expect(() => decryptSecret(ring, `v9.${sealed}`, 'totp:1')).toThrow('unknown secret format');
  });
});

describe('KEY_ENCRYPTION_KEY in the configuration', () => {
  const env = { NODE_ENV: 'test', DATA_DIR: 'memory://', COOKIE_SECRETS: 'a'.repeat(32) };

  it('takes one key (as before) or a comma list, first key first', () => {
    expect(loadConfig({ ...env, KEY_ENCRYPTION_KEY: base64(OLD) }).keyEncryptionKeys.keys.map((key) => key.id)).toEqual([encryptionKeyId(OLD)]);
    const ring = loadConfig({ ...env, KEY_ENCRYPTION_KEY: `${base64(NEW)}, ${base64(OLD)}` }).keyEncryptionKeys;
    expect(ring.current.id).toBe(encryptionKeyId(NEW));
    expect(ring.keys.map((key) => key.id)).toEqual([encryptionKeyId(NEW), encryptionKeyId(OLD)]);
  });

  it('refuses a short key anywhere in the list and the same key twice', () => {
    const problemsOf = (value: string) => {
      try {
        loadConfig({ ...env, KEY_ENCRYPTION_KEY: value });
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      return [];
    };
    expect(problemsOf(`${base64(NEW)},AAAA`)).toEqual([expect.stringMatching(/^KEY_ENCRYPTION_KEY: each key must be base64 of exactly 32 bytes/)]);
    expect(problemsOf(`${base64(NEW)},${base64(NEW)}`)).toEqual(['KEY_ENCRYPTION_KEY: lists the same key twice']);
  });
});
