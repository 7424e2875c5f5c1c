import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { EncryptionKeyMissingError } from '../errors.ts';

/**
 * `v1.<iv>.<tag>.<ciphertext>`: before key rotation (REL-F7) there was one key and no key id.
 * `v2.<keyId>.<iv>.<tag>.<ciphertext>`: the id names the key that sealed it, so decryption picks that key
 * instead of trying each one, and a ciphertext whose key is no longer configured is named as such.
 */
const LEGACY = 'v1';
const VERSION = 'v2';

export interface EncryptionKey {
  /** Not secret: the first 64 bits of SHA-256 over a label and the key (a key cannot be found from it). */
  readonly id: string;
  readonly key: Buffer;
}

/** The key-encryption keys (KEY_ENCRYPTION_KEY): the first seals, every one opens. */
export interface KeyRing {
  readonly current: EncryptionKey;
  readonly keys: readonly EncryptionKey[];
}

export function encryptionKeyId(key: Buffer): string {
  return createHash('sha256').update('gatehouse key-encryption key id\0').update(key).digest().subarray(0, 8).toString('base64url');
}

/** @throws Error when `keys` is empty (the config schema requires at least one). */
export function createKeyRing(keys: readonly Buffer[]): KeyRing {
  const ring = keys.map((key) => ({ id: encryptionKeyId(key), key }));
  if (!ring[0]) throw new Error('a key ring needs at least one key');
  return { current: ring[0], keys: ring };
}

/** The id of the key that sealed `sealed`; undefined for v1 ciphertexts, which carry none. */
export function sealedKeyId(sealed: string): string | undefined {
  const [version, keyId] = sealed.split('.');
  return version === VERSION ? keyId : undefined;
}

/** True when `sealed` is already under the ring's current key (nothing for a re-encryption to do). */
export function isSealedWithCurrentKey(ring: KeyRing, sealed: string): boolean {
  return sealedKeyId(sealed) === ring.current.id;
}

/**
 * AES-256-GCM for secrets at rest (private signing keys, TOTP seeds), under the ring's current key.
 * `aad` binds a ciphertext to its row (e.g. the key id), so a ciphertext copied into another row does not decrypt.
 */
export function encryptSecret(ring: KeyRing, plaintext: string, aad: string): string {
  const { id, key } = ring.current;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, id, ...[iv, cipher.getAuthTag(), ciphertext].map((part) => part.toString('base64url'))].join('.');
}

function open(key: Buffer, iv: string, tag: string, ciphertext: string, aad: string): string {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}

/**
 * Opens a v2 ciphertext with the key its id names. A v1 ciphertext (no id) is tried with each key in
 * order: safe, because GCM authenticates, so a wrong key fails its tag and never yields a wrong plaintext.
 * @throws EncryptionKeyMissingError when no configured key made it; Error when it was altered or is not ours.
 */
export function decryptSecret(ring: KeyRing, sealed: string, aad: string): string {
  const parts = sealed.split('.');
  if (parts[0] === VERSION && parts.length === 5) {
    const [, keyId, iv, tag, ciphertext] = parts as [string, string, string, string, string];
    const entry = ring.keys.find((candidate) => candidate.id === keyId);
    if (!entry) throw new EncryptionKeyMissingError([`a secret is under key id ${keyId}`], ring.keys.map((k) => k.id));
    return open(entry.key, iv, tag, ciphertext, aad);
  }
  if (parts[0] === LEGACY && parts.length === 4) {
    const [, iv, tag, ciphertext] = parts as [string, string, string, string];
    for (const { key } of ring.keys) {
      try {
        return open(key, iv, tag, ciphertext, aad);
      } catch {
        // the tag did not verify under this key: try the next one
      }
    }
    throw new EncryptionKeyMissingError(['no configured key opens a secret sealed before key ids (v1), or it was altered'], ring.keys.map((k) => k.id));
  }
  throw new Error('unknown secret format');
}
