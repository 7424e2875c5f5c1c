import type { Locale } from '../i18n/locales.ts';
import { updatePasswordHash } from '../storage/postgres/accounts.queries.ts';
import type { AccountRow } from '../storage/postgres/database.ts';
import { isCurrentPassword } from './current-password.ts';
import type { AccountSettingsDeps, SettingsProblem } from './deps.ts';

export type PasswordChangeResult = { ok: true } | { ok: false; problems: SettingsProblem[] };

/**
 * A signed-in user changes their password. The current password is required (a session left open on a
 * shared computer must not be enough), checked with argon2 before the new one is judged, so a wrong
 * current password tells nothing about the policy. On success, in order: the hash is replaced and the
 * notification queued in one transaction (REC-06), then every session, grant and token of the account
 * is revoked, the current session included: the user signs in again with the new password.
 */
export async function changePassword(
  deps: AccountSettingsDeps,
  account: AccountRow,
  input: { currentPassword: string; newPassword: string },
  locale: Locale,
): Promise<PasswordChangeResult> {
  if (!(await isCurrentPassword(deps.hasher, account, input.currentPassword))) {
    return { ok: false, problems: [{ field: 'currentPassword', messageKey: 'settings.problem.currentPassword' }] };
  }
  const verdict = await deps.policy.check(input.newPassword, { email: account.email, name: account.name ?? undefined });
  if (!verdict.ok) {
    return { ok: false, problems: [{ field: 'newPassword', messageKey: verdict.messageKey, params: verdict.params }] };
  }
  const passwordHash = await deps.hasher.hash(input.newPassword);
  await deps.db.transaction().execute(async (trx) => {
    await updatePasswordHash(trx, account.id, passwordHash);
    await deps.mail.queue(account.email, 'password-changed', locale, { resetUrl: `${deps.config.issuer}/forgot-password` }, trx);
  });
  await deps.revoker.revokeAccount(account.id);
  deps.logger.info({ accountId: account.id }, 'password changed by its owner; sessions and grants revoked');
  return { ok: true };
}
