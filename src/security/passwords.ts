import argon2 from 'argon2';
import type { Config } from '../config/load.ts';

export type Argon2Cost = Config['argon2'];

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** True when the password matches the stored hash. Never throws on a malformed hash: it just fails. */
  verify(hash: string, password: string): Promise<boolean>;
  /** True when the hash was made with weaker (or other) parameters than the configured ones. */
  needsRehash(hash: string): boolean;
  /**
   * Spends the same work as a real verify against a fixed decoy hash, so an unknown email takes as long
   * as a wrong password (no account enumeration by timing).
   */
  decoyVerify(password: string): Promise<void>;
}

/**
 * node-argon2 writes the parameters as `m=..,p=..,t=..`; the PHC string format (and libargon2's own
 * decoder, which other languages' libraries use) wants `m=..,t=..,p=..`. We store the standard order so
 * the hashes stay portable; node-argon2 reads parameters by name, so it verifies either.
 */
export function toStandardPhc(hash: string): string {
  return hash.replace(/\$m=(\d+),p=(\d+),t=(\d+)\$/, (_match, m: string, p: string, t: string) => `$m=${m},t=${t},p=${p}$`);
}

export async function createPasswordHasher(cost: Argon2Cost): Promise<PasswordHasher> {
  const options = { type: argon2.argon2id as 2, memoryCost: cost.memoryCost, timeCost: cost.timeCost, parallelism: cost.parallelism };
  const decoyHash = await argon2.hash('decoy password that matches nothing', options);
  return {
    hash: async (password) => toStandardPhc(await argon2.hash(password, options)),
    async verify(hash, password) {
      try {
        return await argon2.verify(hash, password);
      } catch {
        return false;
      }
    },
    needsRehash: (hash) => argon2.needsRehash(hash, options),
    async decoyVerify(password) {
      await argon2.verify(decoyHash, password);
    },
  };
}
