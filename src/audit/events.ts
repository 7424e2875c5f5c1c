/**
 * What the audit trail records (issue 7, LOG-01). A type names what was attempted; whether it worked is
 * the event's `outcome`, and why it failed its `reason`, so `gatehouse audit list --type sign_in` shows
 * the successes and the failures of one action together.
 */
export const AUDIT_EVENT_TYPES = [
  // Signing in and out (a failure names its reason; the account is null when none matched).
  'sign_in',
  'mfa_verify',
  'recovery_code_used',
  'sign_out',
  'account_locked',
  'account_unlocked',
  // The account's own changes.
  'registration',
  'password_changed',
  'password_reset_requested',
  'password_reset',
  'email_change_requested',
  'email_changed',
  'email_verified',
  'mfa_enabled',
  'mfa_disabled',
  'recovery_codes_regenerated',
  'passkey_added',
  'passkey_removed',
  'upstream_linked',
  'upstream_unlinked',
  'sessions_revoked',
  // The protocol.
  'consent_granted',
  'consent_revoked',
  'token_reuse_detected',
  // Operators (the CLI today, an admin API later).
  'admin_user_created',
  'admin_user_disabled',
  'admin_user_unlocked',
  'admin_password_set',
  'admin_sessions_revoked',
  'admin_all_sessions_revoked',
  'admin_client_added',
  'admin_client_removed',
  'admin_client_secret_rotated',
  'admin_api_added',
  'admin_api_updated',
  'admin_api_removed',
  'admin_role_added',
  'admin_role_removed',
  'admin_role_granted',
  'admin_role_revoked',
  'admin_keys_rotated',
  'admin_secrets_reencrypted',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** Why an attempt failed: stable snake_case words, never the attempted value itself. */
export const AUDIT_FAILURE_REASONS = [
  'unknown_account',
  'wrong_password',
  'no_password',
  'account_disabled',
  'email_unverified',
  'account_locked',
  'rate_limited',
  'wrong_code',
  'code_reused',
  'too_many_attempts',
  'expired',
  'invalid_token',
  // An upstream provider's sign-in (issue 12) that did not lead into an account.
  'upstream_cancelled',
  'upstream_failed',
  'upstream_unavailable',
  'upstream_no_email',
  'upstream_unverified_email',
  'upstream_no_account',
] as const;

export type AuditFailureReason = (typeof AUDIT_FAILURE_REASONS)[number];

export function isAuditEventType(value: string): value is AuditEventType {
  return (AUDIT_EVENT_TYPES as readonly string[]).includes(value);
}
