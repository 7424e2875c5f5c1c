import type { Locale } from '../i18n/locales.ts';
import { issueToken, hashToken } from '../security/tokens.ts';
import { consumeAccountToken, findUsableAccountToken, insertAccountToken, latestAccountTokenAt, retireAccountTokens } from '../storage/postgres/account-tokens.queries.ts';
import { findAccountByEmail, markEmailVerified } from '../storage/postgres/accounts.queries.ts';
import { linkTo, RESEND_COOLDOWN_MS, runAfterResponse, type AccountFlowDeps } from './deps.ts';

/** Mails a fresh verification link (older links stop working). */
export async function sendVerificationMail(deps: AccountFlowDeps, accountId: string, email: string, locale: Locale): Promise<void> {
  const now = deps.now();
  const { token, hash } = issueToken();
  await retireAccountTokens(deps.db, accountId, 'verify_email', now);
  await insertAccountToken(deps.db, {
    accountId,
    purpose: 'verify_email',
    tokenHash: hash,
    email,
    createdAt: now,
    expiresAt: new Date(now.getTime() + deps.config.accounts.verificationTtl * 1000),
  });
  await deps.mail.queue(email, 'verify-email', locale, {
    link: linkTo(deps.config, '/verify-email', token),
    hours: Math.max(1, Math.ceil(deps.config.accounts.verificationTtl / 3600)),
  });
}

/**
 * "Send the link again": returns at once and does its work after the response (like a reset request),
 * so every address gets the same page in the same time; mails only an existing, unverified account, at
 * most once a minute.
 */
export function resendVerification(deps: AccountFlowDeps, email: string, locale: Locale): void {
  runAfterResponse(deps, 'verification resend', () => resendNow(deps, email, locale));
}

async function resendNow(deps: AccountFlowDeps, email: string, locale: Locale): Promise<void> {
  const account = await findAccountByEmail(deps.db, email.trim());
  if (!account || account.email_verified || account.disabled_at) return;
  const last = await latestAccountTokenAt(deps.db, account.id, 'verify_email');
  if (last && deps.now().getTime() - last.getTime() < RESEND_COOLDOWN_MS) return;
  await sendVerificationMail(deps, account.id, account.email, locale);
}

/** Whether a verification link is still good (shown before the user confirms; uses nothing up). */
export async function isVerificationTokenUsable(deps: AccountFlowDeps, token: string): Promise<boolean> {
  return (await findUsableAccountToken(deps.db, hashToken(token), 'verify_email', deps.now())) !== undefined;
}

/** Uses the link up and marks the address verified: the account's id, or undefined when the link is used, expired or unknown. */
export async function confirmEmail(deps: AccountFlowDeps, token: string): Promise<string | undefined> {
  const now = deps.now();
  const row = await consumeAccountToken(deps.db, hashToken(token), 'verify_email', now);
  if (!row) return undefined;
  return (await markEmailVerified(deps.db, row.account_id, row.email, now)) ? row.account_id : undefined;
}
