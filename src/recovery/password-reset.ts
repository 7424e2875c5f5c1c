import type { Locale } from '../i18n/locales.ts';
import { hashToken, issueToken } from '../security/tokens.ts';
import { consumeAccountToken, findUsableAccountToken, insertAccountToken, latestAccountTokenAt, retireAccountTokens } from '../storage/postgres/account-tokens.queries.ts';
import { findAccountByEmail, findAccountById, updatePasswordHash } from '../storage/postgres/accounts.queries.ts';
import type { AccountRow } from '../storage/postgres/database.ts';
import { unlockSignIn } from '../storage/postgres/sign-in-lock.queries.ts';
import { deleteIdentitiesLinkedUnproven } from '../storage/postgres/upstream-identities.queries.ts';
import { enrolledFactors, hasSecondFactor } from '../accounts/mfa/factors.ts';
import { verifySecondFactorCode } from '../accounts/mfa/second-factor-code.ts';
import type { AuditRequest } from '../audit/audit-log.ts';
import { linkTo, RESEND_COOLDOWN_MS, runAfterResponse, type AccountFlowDeps, type FieldProblem } from './deps.ts';

/**
 * "Forgot password" (REC-01/02/03). Returns at once: the lookup, the token and the queued mail happen
 * after the response, so known and unknown addresses get the same page in the same time. Disabled and
 * unknown accounts get nothing; one mail a minute per account at most.
 */
export function requestPasswordReset(deps: AccountFlowDeps, email: string, locale: Locale, request?: AuditRequest): void {
  runAfterResponse(deps, 'password reset request', () => issuePasswordReset(deps, email, locale, request));
}

async function issuePasswordReset(deps: AccountFlowDeps, email: string, locale: Locale, request?: AuditRequest): Promise<void> {
  const account = await findAccountByEmail(deps.db, email.trim());
  if (!account || account.disabled_at) return;
  const now = deps.now();
  const last = await latestAccountTokenAt(deps.db, account.id, 'reset_password');
  if (last && now.getTime() - last.getTime() < RESEND_COOLDOWN_MS) return;
  const { token, hash } = issueToken();
  // A new request invalidates every older link (REC-02).
  await retireAccountTokens(deps.db, account.id, 'reset_password', now);
  await insertAccountToken(deps.db, {
    accountId: account.id,
    purpose: 'reset_password',
    tokenHash: hash,
    email: account.email,
    createdAt: now,
    expiresAt: new Date(now.getTime() + deps.config.accounts.resetTtl * 1000),
  });
  await deps.mail.queue(account.email, 'reset-password', locale, {
    link: linkTo(deps.config, '/reset-password', token),
    minutes: Math.max(1, Math.ceil(deps.config.accounts.resetTtl / 60)),
  });
  // After the response like the rest, so known and unknown addresses still cost the request the same.
  await deps.audit.record({ type: 'password_reset_requested', accountId: account.id }, request);
}

/**
 * Whether a reset of this account needs its second factor too: with an authenticator app or a passkey
 * enrolled, the reset form asks for a current code or a recovery code, so a mailbox alone never replaces
 * a password and bypasses MFA (REC-05; NIST AAL2 recovery: a recovery code plus the mailbox).
 */
export async function resetNeedsSecondFactor(deps: AccountFlowDeps, account: AccountRow): Promise<boolean> {
  return hasSecondFactor(await enrolledFactors(deps.db, account.id));
}

/** The account a reset link belongs to while it is still usable (for the form); uses nothing up. */
export async function accountForResetToken(deps: AccountFlowDeps, token: string): Promise<AccountRow | undefined> {
  const row = await findUsableAccountToken(deps.db, hashToken(token), 'reset_password', deps.now());
  return row ? findAccountById(deps.db, row.account_id) : undefined;
}

/** `unlocked`: the reset lifted a sign-in lock (100 consecutive wrong passwords, ABU-01); the caller audits it. */
export type ResetResult =
  /** `unlinked`: providers whose identities were linked while the address was unproven, now unlinked (issue 12). */
  | { ok: true; accountId: string; unlocked: boolean; unlinked: string[] }
  | { ok: false; expired: true }
  | { ok: false; expired: false; problems: FieldProblem[] };

/**
 * Sets the new password. A weak password is refused before the link is used up, so the user can try
 * another. Then, in order: the link is consumed atomically (single use), the hash replaced, a sign-in
 * lock and the failure count cleared (the reset is the recovery NIST asks for), every session, grant and
 * refresh token of the account revoked, and a notification mailed (REC-06). The user is not signed in:
 * they sign in with the new password (REC-05).
 */
export async function completePasswordReset(
  deps: AccountFlowDeps,
  token: string,
  input: { password: string; code: string },
  locale: Locale,
): Promise<ResetResult> {
  const { password } = input;
  const account = await accountForResetToken(deps, token);
  if (!account) return { ok: false, expired: true };
  const verdict = await deps.policy.check(password, { email: account.email, name: account.name ?? undefined });
  if (!verdict.ok) {
    return { ok: false, expired: false, problems: [{ field: 'password', messageKey: verdict.messageKey, params: verdict.params }] };
  }
  // After the password check, so a refused weak password does not use up a single-use code.
  if (await resetNeedsSecondFactor(deps, account)) {
    const totp = { db: deps.db, keyEncryptionKeys: deps.config.keyEncryptionKeys, now: deps.now };
    const { outcome, recovery } = await verifySecondFactorCode({ totp, recoveryCodes: deps.recoveryCodes }, account.id, input.code);
    if (outcome !== 'accepted') {
      return { ok: false, expired: false, problems: [{ field: 'code', messageKey: outcome === 'locked' ? 'errors.mfa_locked' : 'mfa.wrongCode' }] };
    }
    if (recovery) await deps.mail.queue(account.email, 'mfa-changed', locale, { change: 'recovery', resetUrl: `${deps.config.issuer}/forgot-password` });
  }
  const passwordHash = await deps.hasher.hash(password);
  const consumed = await deps.db.transaction().execute(async (trx) => {
    const row = await consumeAccountToken(trx, hashToken(token), 'reset_password', deps.now());
    if (!row) return undefined;
    await updatePasswordHash(trx, row.account_id, passwordHash);
    const unlocked = (await unlockSignIn(trx, row.account_id, deps.now())) === true;
    // The reset proves the mailbox: upstream identities linked before anyone had proven it may belong to
    // whoever made the account with this address before its owner came (account pre-hijacking).
    const unlinked = await deleteIdentitiesLinkedUnproven(trx, row.account_id);
    await deps.mail.queue(account.email, 'password-changed', locale, { resetUrl: `${deps.config.issuer}/forgot-password` }, trx);
    return { unlocked, unlinked };
  });
  if (!consumed) return { ok: false, expired: true };
  await deps.revoker.revokeAccount(account.id);
  deps.logger.info({ accountId: account.id }, 'password reset completed; sessions and grants revoked');
  return { ok: true, accountId: account.id, unlocked: consumed.unlocked, unlinked: consumed.unlinked };
}
