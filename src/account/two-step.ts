import { authenticatorSetup as setupOf, totpIssuerName, type AuthenticatorSetup } from '../accounts/mfa/authenticator-setup.ts';
import { verifySecondFactorCode } from '../accounts/mfa/second-factor-code.ts';
import { confirmTotpEnrolment, hasActiveTotp, pendingTotpSecret, startTotpEnrolment, totpUri, type TotpDeps } from '../accounts/mfa/totp.ts';
import type { Locale } from '../i18n/locales.ts';
import { recoveryCodesFile as codesFile } from '../accounts/mfa/recovery-codes-file.ts';
import { deleteTotp } from '../storage/postgres/totp.queries.ts';
import { deleteRecoveryCodes } from '../storage/postgres/recovery-codes.queries.ts';
import { generateRecoveryCodes } from '../accounts/mfa/recovery-codes.ts';
import { enrolledFactors, hasSecondFactor } from '../accounts/mfa/factors.ts';
import type { AccountRow } from '../storage/postgres/database.ts';
import { isCurrentPassword } from './current-password.ts';
import type { AccountSettingsDeps, SettingsProblem } from './deps.ts';

export type { AuthenticatorSetup };

type Outcome<T = object> = ({ ok: true } & T) | { ok: false; problems: SettingsProblem[] };

const totpDeps = (deps: AccountSettingsDeps): TotpDeps => ({ db: deps.db, keyEncryptionKeys: deps.config.keyEncryptionKeys, now: deps.now });

const issuerName = (deps: AccountSettingsDeps) => totpIssuerName(deps.config.issuer);

/** The recovery codes as a file for the page's Download link (see recoveryCodesFile in accounts/mfa). */
export function recoveryCodesFile(deps: AccountSettingsDeps, codes: readonly string[], locale: Locale): string {
  return codesFile(deps.config.issuer, deps.now(), codes, locale);
}

export function isTwoStepOn(deps: AccountSettingsDeps, accountId: string): Promise<boolean> {
  return hasActiveTotp(deps.db, accountId);
}

/**
 * Starts enrolling an authenticator app. Reauthentication: the current password is required, so a
 * session left open elsewhere cannot bind the attacker's phone (MFA-07). A restart replaces the pending
 * secret; an active authenticator is never replaced here (it must be turned off first).
 */
export async function startAuthenticatorSetup(deps: AccountSettingsDeps, account: AccountRow, password: string): Promise<Outcome<{ setup: AuthenticatorSetup }>> {
  if (!(await isCurrentPassword(deps.hasher, account, password))) {
    return { ok: false, problems: [{ field: 'totpPassword', messageKey: 'settings.problem.currentPassword' }] };
  }
  const enrolment = await startTotpEnrolment(totpDeps(deps), account, issuerName(deps));
  if (!enrolment) return { ok: false, problems: [{ field: 'totpPassword', messageKey: 'settings.problem.totpAlreadyOn' }] };
  return { ok: true, setup: await setupOf(enrolment.secret, enrolment.uri) };
}

export type ConfirmOutcome = { ok: true; recoveryCodes: string[] } | { ok: false; setup?: AuthenticatorSetup; problems: SettingsProblem[] };

/**
 * Activates the pending authenticator only with a valid code from it (MFA-01: the app really holds the
 * secret), then mails the owner (MFA-07). A wrong code gives the same setup back (same secret) with the
 * problem on the code field; without a pending enrolment there is nothing to show again.
 */
export async function confirmAuthenticator(deps: AccountSettingsDeps, account: AccountRow, code: string, locale: Locale): Promise<ConfirmOutcome> {
  const totp = totpDeps(deps);
  if (await confirmTotpEnrolment(totp, account.id, code)) {
    await notify(deps, account, 'on', locale);
    deps.logger.info({ accountId: account.id }, 'authenticator app enrolled by its owner');
    // Ten single-use recovery codes, shown once on the next page (MFA-05).
    return { ok: true, recoveryCodes: await generateRecoveryCodes(deps.recoveryCodes, account.id) };
  }
  const problems = [{ field: 'code', messageKey: 'settings.problem.totpCode' }];
  const secret = await pendingTotpSecret(totp, account.id);
  if (!secret) return { ok: false, problems };
  return { ok: false, problems, setup: await setupOf(secret, totpUri(issuerName(deps), account.email, secret)) };
}

/**
 * Turns two-step verification off. Full reauthentication (MFA-07): the current password and a current
 * code of the active authenticator, single use and counted toward its lock like a sign-in code (MFA-02,
 * MFA-04), or a recovery code: that is the way back from an authenticator locked after 100 wrong codes
 * (or a lost phone), after which the owner can set up a new one. The password is checked first, so a
 * wrong password neither spends nor counts a code. The row is deleted and the notification queued in
 * one transaction.
 */
export async function removeAuthenticator(
  deps: AccountSettingsDeps,
  account: AccountRow,
  input: { password: string; code: string },
  locale: Locale,
): Promise<Outcome> {
  if (!(await isCurrentPassword(deps.hasher, account, input.password))) {
    return { ok: false, problems: [{ field: 'totpPassword', messageKey: 'settings.problem.currentPassword' }] };
  }
  const { outcome } = await verifySecondFactorCode({ totp: totpDeps(deps), recoveryCodes: deps.recoveryCodes }, account.id, input.code);
  if (outcome !== 'accepted') {
    const messageKey = outcome === 'locked' ? 'settings.problem.totpLocked' : 'settings.problem.totpCode';
    return { ok: false, problems: [{ field: 'totpCode', messageKey }] };
  }
  await deps.db.transaction().execute(async (trx) => {
    await deleteTotp(trx, account.id);
    // The recovery codes stand in for any second factor: they go only with the last one (passkeys may remain).
    if (!hasSecondFactor(await enrolledFactors(trx, account.id))) await deleteRecoveryCodes(trx, account.id);
    await notify(deps, account, 'off', locale, trx);
  });
  deps.logger.info({ accountId: account.id }, 'authenticator app removed by its owner');
  return { ok: true };
}

function notify(deps: AccountSettingsDeps, account: AccountRow, change: 'on' | 'off', locale: Locale, db?: AccountSettingsDeps['db']): Promise<void> {
  return deps.mail.queue(account.email, 'mfa-changed', locale, { change, resetUrl: `${deps.config.issuer}/forgot-password` }, db);
}
