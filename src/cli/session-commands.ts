import { revokeAllSessions } from '../admin/revoke-all.ts';
import { noPositionals, parseOptions, print, withAuditedAction, type CliIo } from './context.ts';

/**
 * `sessions revoke-all`: the revocation epoch moves with its audit event in one transaction. It prints
 * the new epoch and how long running servers may take to notice (REL-F13).
 */
async function revokeAll(args: string[], io: CliIo): Promise<number> {
  noPositionals(parseOptions(args, {}).positionals);
  const { revokedBefore, refreshSeconds } = await withAuditedAction(
    io,
    async ({ db, config }) => ({ revokedBefore: await revokeAllSessions(db), refreshSeconds: config.revocationEpoch.refreshSeconds }),
    (result) => ({ type: 'admin_all_sessions_revoked', details: { revoked_before: result.revokedBefore.toISOString() } }),
  );
  print(io, `revoked every session, grant, code and token issued before ${revokedBefore.toISOString()}: everyone must sign in again`);
  print(io, `Running servers refuse them within ${refreshSeconds}s (REVOCATION_EPOCH_REFRESH_SECONDS); servers started from now on refuse them at once.`);
  return 0;
}

export const sessionCommands: Record<string, (args: string[], io: CliIo) => Promise<number>> = { 'revoke-all': revokeAll };
