import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import { enrolledFactors, hasSecondFactor } from '../accounts/mfa/factors.ts';
import { listAccountPasskeys, passkeyRegistrationOptions, registerPasskey, removeAccountPasskey, renameAccountPasskey, type PasskeyDeps } from '../accounts/mfa/passkeys.ts';
import { generateRecoveryCodes } from '../accounts/mfa/recovery-codes.ts';
import type { Locale } from '../i18n/locales.ts';
import type { AccountRow } from '../storage/postgres/database.ts';
import { deleteRecoveryCodes, listUnusedRecoveryCodes } from '../storage/postgres/recovery-codes.queries.ts';
import { isCurrentPassword } from './current-password.ts';
import type { AccountSettingsDeps, SettingsProblem } from './deps.ts';

type Outcome<T = object> = ({ ok: true } & T) | { ok: false; problems: SettingsProblem[] };

const passkeyDeps = (deps: AccountSettingsDeps): PasskeyDeps => ({ db: deps.db, issuer: deps.config.issuer, now: deps.now });

const wrongPassword = (field: string): Outcome<never> => ({ ok: false, problems: [{ field, messageKey: 'settings.problem.currentPassword' }] });

/** One row of the security page's passkey list, dates already in the page's language. */
export interface PasskeyListItem {
  id: string;
  name: string;
  synced: boolean;
  added: string;
  lastUsed: string | undefined;
}

/** The passkeys section of /account/security. */
export async function passkeyList(deps: AccountSettingsDeps, accountId: string, locale: Locale): Promise<PasskeyListItem[]> {
  const date = new Intl.DateTimeFormat(locale, { dateStyle: 'medium' });
  return (await listAccountPasskeys(deps.db, accountId)).map((passkey) => ({
    id: passkey.id,
    name: passkey.name,
    synced: passkey.synced,
    added: date.format(passkey.createdAt),
    lastUsed: passkey.lastUsedAt ? date.format(passkey.lastUsedAt) : undefined,
  }));
}

/**
 * Starts adding a passkey: the current password first (MFA-07), so a session left open elsewhere cannot
 * add the attacker's authenticator. The challenge that comes back is this account's only open
 * registration, and it expires within minutes: it carries the reauthentication to the next step.
 */
export async function startPasskeyRegistration(
  deps: AccountSettingsDeps,
  account: AccountRow,
  password: string,
): Promise<Outcome<{ options: PublicKeyCredentialCreationOptionsJSON }>> {
  if (!(await isCurrentPassword(deps.hasher, account, password))) return wrongPassword('passkeyPassword');
  return { ok: true, options: await passkeyRegistrationOptions(passkeyDeps(deps), account) };
}

/**
 * Saves the passkey the browser made for the open challenge, mails the owner and logs it. When it is the
 * account's first second factor and there are no recovery codes, ten are made and returned, to be shown
 * this once (MFA-05), as turning on an authenticator app does.
 */
export async function completePasskeyRegistration(
  deps: AccountSettingsDeps,
  account: AccountRow,
  input: { response: string; name: string },
  locale: Locale,
): Promise<Outcome<{ recoveryCodes: string[] | undefined }>> {
  const firstFactor = !hasSecondFactor(await enrolledFactors(deps.db, account.id));
  const passkey = await registerPasskey(passkeyDeps(deps), account.id, input.response, input.name);
  if (!passkey) return { ok: false, problems: [{ field: 'passkeyAdd', messageKey: 'settings.problem.passkeyNotAdded' }] };
  await notify(deps, account, 'passkey-added', locale);
  deps.logger.info({ accountId: account.id, passkeyId: passkey.id, synced: passkey.synced }, 'passkey added by its owner');
  const needsCodes = firstFactor && (await listUnusedRecoveryCodes(deps.db, account.id)).length === 0;
  return { ok: true, recoveryCodes: needsCodes ? await generateRecoveryCodes(deps.recoveryCodes, account.id) : undefined };
}

/** Renames one of the account's passkeys (a label only: no reauthentication, no mail). */
export async function renamePasskeyOf(deps: AccountSettingsDeps, account: AccountRow, passkeyId: string, name: string): Promise<Outcome> {
  if (!(await renameAccountPasskey(deps.db, account.id, passkeyId, name))) {
    return { ok: false, problems: [{ field: 'renamePasskey', messageKey: 'settings.problem.passkeyUnknown' }] };
  }
  deps.logger.info({ accountId: account.id, passkeyId }, 'passkey renamed by its owner');
  return { ok: true };
}

/**
 * Removes a passkey behind the current password (MFA-07). Deleting it, dropping the recovery codes when
 * no second factor is left (they would otherwise wake up again with the next factor), and queueing the
 * owner's mail happen in one transaction.
 * @returns lastFactor: the account now signs in with its password alone.
 */
export async function removePasskeyOf(
  deps: AccountSettingsDeps,
  account: AccountRow,
  input: { passkeyId: string; password: string },
  locale: Locale,
): Promise<Outcome<{ lastFactor: boolean }>> {
  if (!(await isCurrentPassword(deps.hasher, account, input.password))) return wrongPassword('removePasskeyPassword');
  const removed = await deps.db.transaction().execute(async (trx) => {
    if ((await removeAccountPasskey(trx, account.id, input.passkeyId)) === undefined) return undefined;
    const lastFactor = !hasSecondFactor(await enrolledFactors(trx, account.id));
    if (lastFactor) await deleteRecoveryCodes(trx, account.id);
    await notify(deps, account, 'passkey-removed', locale, trx);
    return { lastFactor };
  });
  if (!removed) return { ok: false, problems: [{ field: 'removePasskey', messageKey: 'settings.problem.passkeyUnknown' }] };
  deps.logger.info({ accountId: account.id, passkeyId: input.passkeyId, lastFactor: removed.lastFactor }, 'passkey removed by its owner');
  return { ok: true, lastFactor: removed.lastFactor };
}

function notify(deps: AccountSettingsDeps, account: AccountRow, change: 'passkey-added' | 'passkey-removed', locale: Locale, db?: AccountSettingsDeps['db']): Promise<void> {
  return deps.mail.queue(account.email, 'mfa-changed', locale, { change, resetUrl: `${deps.config.issuer}/forgot-password` }, db);
}
