import type Provider from 'oidc-provider';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AccountFlowDeps } from '../recovery/deps.ts';
import type { RecoveryCodeDeps } from '../accounts/mfa/recovery-codes.ts';
import type { UpstreamLinks } from '../upstream/linking.ts';
import type { Upstreams } from '../upstream/providers.ts';

/**
 * What the signed-in account pages need: the account flows' deps (app.ts shares one object) without the
 * page rate limits, plus the provider, whose session says who is signed in.
 */
export type AccountSettingsDeps = Omit<AccountFlowDeps, 'rateLimits'> & {
  /** The current oidc-provider instance (it is replaced on key rotation). */
  provider(): Provider;
  recoveryCodes: RecoveryCodeDeps;
  /** Every change made on these pages is audited (who, from where), after it succeeded. */
  audit: AuditLog;
  /** Upstream providers the account can link and unlink (issue 12). */
  upstreams: Upstreams;
  upstreamLinks: UpstreamLinks;
};

export type { FieldProblem as SettingsProblem } from '../http/form-pages.ts';

/** How long a link to confirm a new address works. */
export const EMAIL_CHANGE_TTL_MS = 24 * 3600 * 1000;
