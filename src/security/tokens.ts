import { createHash, randomBytes } from 'node:crypto';

/**
 * One-time tokens sent by mail (email verification, password reset): 256 bits from the CSPRNG, shown
 * to the user once, stored only as a SHA-256 hash (REC-02). A database leak then yields no usable link,
 * and a fast hash is enough because the token itself has full entropy (no dictionary to attack).
 */
export interface IssuedToken {
  /** The secret for the link; never stored. */
  token: string;
  /** What the database keeps. */
  hash: string;
}

export function issueToken(): IssuedToken {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
