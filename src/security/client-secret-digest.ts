import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * A client's previous secret is kept as SHA-256 only: it is compared, never used as a key, and our
 * secrets are 256 random bits (or at least 32 chars), so a fast hash is enough (no password to stretch).
 */
export function clientSecretDigest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * Whether `presented` is exactly `expected`, in constant time whatever either's length or content (both
 * compared as SHA-256 digests): client secrets, and the state an upstream sends back (src/upstream/flow.ts).
 */
export function sameSecret(expected: string, presented: string): boolean {
  return matchesClientSecretDigest(clientSecretDigest(expected), presented);
}

/** Constant-time: both sides are 32-byte digests, whatever was presented. */
export function matchesClientSecretDigest(digestHex: string, presented: string): boolean {
  const stored = Buffer.from(digestHex, 'hex');
  const actual = createHash('sha256').update(presented, 'utf8').digest();
  return stored.length === actual.length && timingSafeEqual(stored, actual);
}
