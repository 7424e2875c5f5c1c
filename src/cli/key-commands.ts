import { listKeys, rotateKeys } from '../admin/keys.ts';
import { formatTable, noPositionals, parseOptions, print, printJson, withAuditedAction, withDatabase, type CliIo } from './context.ts';

async function list(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { json: { type: 'boolean' } });
  noPositionals(positionals);
  const keys = await withDatabase(io, ({ db, config }) => listKeys(db, config));
  if (values.json) printJson(io, keys);
  else {
    const rows = keys.map((k) => [k.kid, k.alg, k.status, k.activates_at, k.remove_after ?? '']);
    print(io, formatTable([['KID', 'ALG', 'STATUS', 'ACTIVATES_AT', 'REMOVE_AFTER'], ...rows]));
  }
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

export const keyCommands: Record<string, (args: string[], io: CliIo) => Promise<number>> = { list, rotate };
