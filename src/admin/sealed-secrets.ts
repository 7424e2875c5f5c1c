import { totpSecretAad } from '../accounts/mfa/totp.ts';
import { EncryptionKeyMissingError } from '../errors.ts';
import { decryptSecret, encryptSecret, type KeyRing } from '../security/encryption.ts';
import type { Db } from '../storage/postgres/db.ts';
import {
  countSealed,
  countSealedByKey,
  findLegacySealed,
  lockSealedNotUnderKey,
  replaceSealed,
  type SealedTable,
} from '../storage/postgres/sealed-secrets.queries.ts';

/** Every store of secrets sealed under KEY_ENCRYPTION_KEY, with the AAD each row's secret is bound to. */
const SEALED_STORES: readonly { table: SealedTable; what: string; auditName: string; aad: (id: string) => string }[] = [
  { table: 'account_totp', what: 'TOTP secrets', auditName: 'authenticators', aad: totpSecretAad },
  { table: 'signing_keys', what: 'signing keys', auditName: 'signing_kids', aad: (kid) => kid },
];

/**
 * At start (REL-F7): every stored secret must be sealed by a configured key. v2 secrets name their key;
 * v1 secrets (from before key ids) were all sealed by the one key there was then, so one of them is opened.
 * @throws EncryptionKeyMissingError naming each store, count and key id that is not configured.
 */
export async function checkSealedSecrets(db: Db, ring: KeyRing): Promise<void> {
  const configured = new Set(ring.keys.map((key) => key.id));
  const findings: string[] = [];
  for (const store of SEALED_STORES) {
    for (const { key_id: keyId, count } of await countSealedByKey(db, store.table)) {
      if (keyId !== null && !configured.has(keyId)) findings.push(`${count} ${store.what} under key id ${keyId}`);
    }
    const legacy = await findLegacySealed(db, store.table);
    if (legacy && !opens(ring, legacy.sealed, store.aad(legacy.id))) {
      findings.push(`${store.what} sealed before key ids (v1) by a key that is not configured`);
    }
  }
  if (findings.length > 0) throw new EncryptionKeyMissingError(findings, [...configured]);
}

function opens(ring: KeyRing, sealed: string, aad: string): boolean {
  try {
    decryptSecret(ring, sealed, aad);
    return true;
  } catch {
    return false;
  }
}

export interface ReencryptCounts {
  /** The current key's id: every secret is now sealed by it. */
  keyId: string;
  stores: { table: SealedTable; what: string; auditName: string; reencrypted: number; total: number }[];
}

/**
 * `gatehouse keys reencrypt`: seals every stored secret under the ring's current key, `batchSize` rows
 * per transaction (short locks; an interrupted run keeps its finished batches). Idempotent: rows already
 * under the current key are not selected, so a second run re-encrypts nothing.
 * @throws EncryptionKeyMissingError when a secret's key is not configured (nothing of that batch changes).
 */
export async function reencryptSecrets(db: Db, ring: KeyRing, batchSize = 500): Promise<ReencryptCounts> {
  const stores: ReencryptCounts['stores'] = [];
  for (const store of SEALED_STORES) {
    let reencrypted = 0;
    for (;;) {
      const done = await db.transaction().execute(async (trx) => {
        const rows = await lockSealedNotUnderKey(trx, store.table, ring.current.id, batchSize);
        for (const row of rows) {
          const aad = store.aad(row.id);
          await replaceSealed(trx, store.table, row.id, row.sealed, encryptSecret(ring, decryptSecret(ring, row.sealed, aad), aad));
        }
        return rows.length;
      });
      reencrypted += done;
      if (done < batchSize) break;
    }
    stores.push({ table: store.table, what: store.what, auditName: store.auditName, reencrypted, total: await countSealed(db, store.table) });
  }
  return { keyId: ring.current.id, stores };
}
