import { isPlausibleEmail, normalizeEmail } from '../accounts/account.ts';
import type { Locale } from '../i18n/locales.ts';
import { hashToken, issueToken } from '../security/tokens.ts';
import { consumeAccountToken, findUsableAccountToken, insertAccountToken, retireAccountTokens } from '../storage/postgres/account-tokens.queries.ts';
import { changeAccountEmail, findAccountByEmail, isUniqueViolation } from '../storage/postgres/accounts.queries.ts';
import type { AccountRow } from '../storage/postgres/database.ts';
import { isCurrentPassword } from './current-password.ts';
import { EMAIL_CHANGE_TTL_MS, type AccountSettingsDeps, type SettingsProblem } from './deps.ts';

export const CONFIRM_EMAIL_PATH = '/account/email/confirm';

export type EmailChangeRequestResult = { ok: true } | { ok: false; problems: SettingsProblem[] };

/**
 * A signed-in user asks to move their account to another address. The current password is required
 * and always checked (one argon2 verify on every path). The new address only becomes the account's once
 * a link mailed to it is followed (it must be proven, like at registration).
 *
 * No enumeration: an address that already belongs to another account gets exactly the same answer as a
 * free one, and nothing is mailed to anyone (a note to that account's owner would tell them about a
 * stranger's attempt without them being able to act on it; the account-exists mail speaks of a
 * registration). Its link could never succeed anyway, since addresses are unique.
 */
export async function requestEmailChange(
  deps: AccountSettingsDeps,
  account: AccountRow,
  input: { newEmail: string; password: string },
  locale: Locale,
): Promise<EmailChangeRequestResult> {
  const newEmail = normalizeEmail(input.newEmail);
  const problems: SettingsProblem[] = [];
  const passwordOk = await isCurrentPassword(deps.hasher, account, input.password);
  if (!isPlausibleEmail(newEmail)) problems.push({ field: 'newEmail', messageKey: 'account.problem.email' });
  else if (newEmail.toLowerCase() === account.email.toLowerCase()) problems.push({ field: 'newEmail', messageKey: 'settings.problem.sameEmail' });
  if (!passwordOk) problems.push({ field: 'emailPassword', messageKey: 'settings.problem.currentPassword' });
  if (problems.length > 0) return { ok: false, problems };

  const now = deps.now();
  // A new request replaces older links, to this address or another.
  await retireAccountTokens(deps.db, account.id, 'change_email', now);
  if (await findAccountByEmail(deps.db, newEmail)) {
    deps.logger.info({ accountId: account.id }, 'email change to an address in use; nothing mailed');
    return { ok: true };
  }
  const { token, hash } = issueToken();
  await insertAccountToken(deps.db, {
    accountId: account.id,
    purpose: 'change_email',
    tokenHash: hash,
    email: newEmail,
    createdAt: now,
    expiresAt: new Date(now.getTime() + EMAIL_CHANGE_TTL_MS),
  });
  const link = new URL(CONFIRM_EMAIL_PATH, `${deps.config.issuer}/`);
  link.searchParams.set('token', token);
  await deps.mail.queue(newEmail, 'email-change-verify', locale, { link: link.href, newEmail, hours: EMAIL_CHANGE_TTL_MS / 3_600_000 });
  return { ok: true };
}

/** The new address a change link would move its account to, while the link is usable (uses nothing up). */
export async function pendingEmailChange(deps: AccountSettingsDeps, token: string): Promise<string | undefined> {
  return (await findUsableAccountToken(deps.db, hashToken(token), 'change_email', deps.now()))?.email;
}

/**
 * Follows a change link: uses it up (atomically, single use), moves the account to the new address,
 * marks it verified (following the link proved it), retires links mailed to the old address, and tells
 * the old address (so its owner learns if someone else did this). Returns the new address, or
 * undefined when the link is used, expired, unknown, or the address was taken meanwhile.
 */
export async function confirmEmailChange(deps: AccountSettingsDeps, token: string, locale: Locale): Promise<{ accountId: string; newEmail: string } | undefined> {
  const now = deps.now();
  const row = await consumeAccountToken(deps.db, hashToken(token), 'change_email', now);
  if (!row) return undefined;
  try {
    return await deps.db.transaction().execute(async (trx) => {
      const oldEmail = await changeAccountEmail(trx, row.account_id, row.email, now);
      if (oldEmail === undefined) return undefined;
      // Links mailed to the old address (reset, verification) must not outlive the change.
      await retireAccountTokens(trx, row.account_id, 'reset_password', now);
      await retireAccountTokens(trx, row.account_id, 'verify_email', now);
      await deps.mail.queue(oldEmail, 'email-changed', locale, { newEmail: row.email }, trx);
      deps.logger.info({ accountId: row.account_id }, 'email address changed');
      return { accountId: row.account_id, newEmail: row.email };
    });
  } catch (error) {
    // Another account registered or moved to this address after the link was sent.
    if (isUniqueViolation(error)) return undefined;
    throw error;
  }
}
