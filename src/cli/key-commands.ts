import { listKeys, rotateKeys } from '../admin/keys.ts';
import { reencryptSecrets } from '../admin/sealed-secrets.ts';
import { UsageError } from '../errors.ts';
import { noPositionals, parseOptions, print, printListing, withAuditedAction, withDatabase, type CliIo } from './context.ts';

async function list(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { json: { type: 'boolean' } });
  noPositionals(positionals);
  const keys = await withDatabase(io, ({ db, config }) => listKeys(db, config));
  printListing(io, values.json, keys, { header: ['KID', 'ALG', 'STATUS', 'ACTIVATES_AT', 'REMOVE_AFTER'], row: (k) => [k.kid, k.alg, k.status, k.activates_at, k.remove_after ?? ''] });
  return 0;
}

async function rotate(args: string[], io: CliIo): Promise<number> {
  const { positionals } = parseOptions(args, {});
  noPositionals(positionals);
  const { keys, refreshSeconds } = await withAuditedAction(
    io,
    async ({ db, config }) => ({ keys: await rotateKeys(db, config), refreshSeconds: config.keys.refreshSeconds }),
    (rotated) => ({ type: 'admin_keys_rotated', details: { kids: rotated.keys.map((key) => key.kid) } }),
  );
  for (const key of keys) print(io, `published ${key.kid} (${key.alg}, ${key.status}): signs from ${key.activates_at}`);
  print(io, `Running servers publish the new keys in JWKS within ${refreshSeconds}s and switch at activates_at.`);
  return 0;
}

function batchSizeOf(value: string | undefined): number {
  if (value === undefined) return 500;
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 10_000) throw new UsageError(`--batch-size takes a number from 1 to 10000 (got "${value}")`);
  return Number(value);
}

/**
 * `keys reencrypt`: every stored secret under KEY_ENCRYPTION_KEY's first key (REL-F7). The batches commit
 * one by one (no long lock on the tables), so the audit event is written after the last one, not with
 * them: a run that fails half way is not audited, and running it again finishes the work.
 */
async function reencrypt(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { 'batch-size': { type: 'string' } });
  noPositionals(positionals);
  const batchSize = batchSizeOf(values['batch-size']);
  const counts = await withDatabase(io, ({ db, config }) => reencryptSecrets(db, config.keyEncryptionKeys, batchSize));
  await withAuditedAction(
    io,
    async () => counts,
    (done) => ({
      type: 'admin_secrets_reencrypted',
      // Named around the audit sanitiser's secret words (key, totp): these are counts and a public key id.
      details: { encrypted_under: done.keyId, ...Object.fromEntries(done.stores.map((store) => [store.auditName, store.reencrypted])) },
    }),
  );
  for (const store of counts.stores) {
    print(io, `${store.what}: re-encrypted ${store.reencrypted}, ${store.total} in all now under key ${counts.keyId}`);
  }
  print(io, 'Every stored secret is under the first KEY_ENCRYPTION_KEY; the other keys can now be removed from it.');
  return 0;
}

export const keyCommands: Record<string, (args: string[], io: CliIo) => Promise<number>> = { list, rotate, reencrypt };
