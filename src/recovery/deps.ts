import type { Logger } from 'pino';
import type { RecoveryCodeDeps } from '../accounts/mfa/recovery-codes.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Config } from '../config/load.ts';
import type { PasswordHasher } from '../security/passwords.ts';
import type { AccountRateLimits } from '../security/rate-limits.ts';
import type { AccountRevoker } from '../storage/oidc-adapter.ts';
import type { Db } from '../storage/postgres/db.ts';
import type { MailQueue, PasswordPolicy } from './ports.ts';

/** What the account flows (registration, verification, reset) need; built once in app.ts. */
export interface AccountFlowDeps {
  db: Db;
  hasher: PasswordHasher;
  mail: MailQueue;
  policy: PasswordPolicy;
  revoker: AccountRevoker;
  config: Config;
  logger: Logger;
  /** Per-IP and per-address limits on these pages (ABU-02, REC-02), on the store app.ts chose. */
  rateLimits: AccountRateLimits;
  /** The audit trail (app.audit): events these flows record, e.g. account_unlocked by a reset. */
  audit: AuditLog;
  /** A reset of an account with a second factor takes a recovery code in place of the app's code (REC-05). */
  recoveryCodes: RecoveryCodeDeps;
  /** Injected so tests can expire links without waiting. */
  now(): Date;
}

export type { FieldProblem } from '../http/form-pages.ts';

/** Links in mail are built from the configured issuer only, never from the request (REC-03). */
export function linkTo(config: Config, path: string, token: string): string {
  const url = new URL(path, `${config.issuer}/`);
  url.searchParams.set('token', token);
  return url.href;
}

/** How long to wait before mailing the same address again for the same purpose. */
export const RESEND_COOLDOWN_MS = 60_000;

/**
 * Runs account work after the response is on its way, so the request itself does the same (nothing)
 * whether or not the address has an account: neither body nor timing tells (REC-01). Failures are
 * logged; the user was told to check their mail either way, and can ask again.
 */
export function runAfterResponse(deps: Pick<AccountFlowDeps, 'logger'>, label: string, work: () => Promise<void>): void {
  setImmediate(() => {
    work().catch((error: unknown) => deps.logger.error({ err: error, task: label }, 'account request failed'));
  });
}
