import { randomBytes } from 'node:crypto';
import type { PasswordHasher } from '../../security/passwords.ts';
import type { Db } from '../../storage/postgres/db.ts';
import { listUnusedRecoveryCodes, markRecoveryCodeUsed, replaceRecoveryCodes } from '../../storage/postgres/recovery-codes.queries.ts';

export const RECOVERY_CODE_COUNT = 10;
/** Crockford base32: no I, L, O or U, so codes read aloud or copied by hand survive. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export interface RecoveryCodeDeps {
  db: Db;
  /** argon2id at a low cost: the codes have 80 bits, below the 112 that would allow a fast hash (MFA-05). */
  hasher: PasswordHasher;
  now(): Date;
}

/** 16 characters of Crockford base32 = 80 bits from the CSPRNG, shown as XXXX-XXXX-XXXX-XXXX. */
function newCode(): string {
  const bytes = randomBytes(10);
  let bits = 0n;
  for (const byte of bytes) bits = (bits << 8n) | BigInt(byte);
  let code = '';
  for (let i = 0; i < 16; i += 1) {
    code = ALPHABET[Number(bits & 31n)]! + code;
    bits >>= 5n;
  }
  return code.match(/.{4}/g)!.join('-');
}

/** What a person typed, in canonical form: case, dashes and spaces ignored, look-alikes mapped. */
export function normaliseRecoveryCode(input: string): string {
  return input.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

/** Makes a new set of codes (the old ones stop working) and returns them: the only time they are shown. */
export async function generateRecoveryCodes(deps: RecoveryCodeDeps, accountId: string): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
  const hashes = await Promise.all(codes.map((code) => deps.hasher.hash(normaliseRecoveryCode(code))));
  await replaceRecoveryCodes(deps.db, accountId, hashes, deps.now());
  return codes;
}

/** Whether `input` looks like a recovery code at all (so a 6-digit TOTP code is never tried as one). */
export function looksLikeRecoveryCode(input: string): boolean {
  return /^[0-9A-Z]{16}$/.test(normaliseRecoveryCode(input));
}

/** Uses a recovery code if it matches one of the account's unused codes; single use, atomically. */
export async function useRecoveryCode(deps: RecoveryCodeDeps, accountId: string, input: string): Promise<boolean> {
  if (!looksLikeRecoveryCode(input)) return false;
  const code = normaliseRecoveryCode(input);
  for (const row of await listUnusedRecoveryCodes(deps.db, accountId)) {
    if (await deps.hasher.verify(row.code_hash, code)) return markRecoveryCodeUsed(deps.db, row.id, deps.now());
  }
  return false;
}
