import type { AuditRequest } from '../audit/audit-log.ts';
import type { Locale } from '../i18n/locales.ts';
import type { AccountFlowDeps, FieldProblem } from '../recovery/deps.ts';
import { sendVerificationMail } from '../recovery/email-verification.ts';
import { findAccountByEmail, insertAccount, isUniqueViolation } from '../storage/postgres/accounts.queries.ts';
import { isPlausibleEmail, normalizeEmail } from './account.ts';

export interface Registration {
  email: string;
  name: string;
  password: string;
  locale: Locale;
  /** Where the request came from, for the audit trail. */
  request?: AuditRequest;
}

export type RegistrationResult = { ok: true } | { ok: false; problems: FieldProblem[] };

/**
 * Self-registration. Invalid input gets field messages; everything else gets the same answer ("check
 * your mail"), whether or not the address already has an account: a new account is mailed a
 * verification link, an existing owner a note that someone tried (nothing on the page reveals which).
 * Both paths compute one argon2 hash, so timing does not tell them apart either.
 */
export async function registerAccount(deps: AccountFlowDeps, input: Registration): Promise<RegistrationResult> {
  const email = normalizeEmail(input.email);
  const name = input.name.trim();
  const problems: FieldProblem[] = [];
  if (!isPlausibleEmail(email)) problems.push({ field: 'email', messageKey: 'account.problem.email' });
  if (name.length === 0 || name.length > 200) problems.push({ field: 'name', messageKey: 'account.problem.name' });
  const verdict = await deps.policy.check(input.password, { email, name });
  if (!verdict.ok) problems.push({ field: 'password', messageKey: verdict.messageKey, params: verdict.params });
  if (problems.length > 0) return { ok: false, problems };

  const passwordHash = await deps.hasher.hash(input.password);
  const existing = await findAccountByEmail(deps.db, email);
  if (existing) {
    await deps.mail.queue(existing.email, 'account-exists', input.locale, { resetUrl: `${deps.config.issuer}/forgot-password` });
    return { ok: true };
  }
  let account;
  try {
    account = await insertAccount(deps.db, { email, name, password_hash: passwordHash, email_verified: false, disabled_at: null });
  } catch (error) {
    // Two registrations of one address at once: the loser is treated exactly like an existing account.
    if (!isUniqueViolation(error)) throw error;
    return { ok: true };
  }
  await sendVerificationMail(deps, account.id, account.email, input.locale);
  await deps.audit.record({ type: 'registration', accountId: account.id }, input.request);
  return { ok: true };
}
