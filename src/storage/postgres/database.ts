import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export interface AccountsTable {
  id: Generated<string>;
  /** Stored as given; uniqueness is case-insensitive (unique index on lower(email)). */
  email: string;
  email_verified: Generated<boolean>;
  name: string | null;
  /** argon2id PHC string; null for accounts that cannot use a password. */
  password_hash: string | null;
  disabled_at: Date | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Password attempts since the last correct one (ABU-01); counted before the argon2 verify. */
  failed_sign_ins: Generated<number>;
  /** No password attempt at this account is admitted before this time (the growing delay). */
  sign_in_delay_until: Date | null;
  /** Set at the lock threshold: the password fails like a wrong one until a reset or `user unlock`. */
  locked_at: Date | null;
}

export interface ClientsTable {
  id: string;
  /** oidc-provider client metadata (includes client_secret: never log this column). */
  metadata: Json<Record<string, unknown>>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** A client's previous secret during a rotation's overlap (SHA-256 hex only; see the migration). */
export interface ClientPreviousSecretsTable {
  client_id: string;
  secret_sha256: string;
  expires_at: Timestamp;
  created_at: Generated<Date>;
}

export type SigningKeyStatus = 'next' | 'current' | 'retired';

export interface SigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: Json<Record<string, unknown>>;
  /** AES-256-GCM ciphertext of the private JWK under KEY_ENCRYPTION_KEY: iv.tag.ciphertext, base64url. */
  private_jwk_encrypted: string;
  status: SigningKeyStatus;
  created_at: Timestamp;
  /** When a `next` key starts signing. */
  activates_at: Timestamp;
  /** When a `retired` key leaves JWKS (after every token it signed has expired). */
  retired_at: Date | null;
  remove_after: Date | null;
}

/** oidc-provider's models (sessions, grants, codes, tokens) when no Redis is configured. */
export interface OidcPayloadsTable {
  model: string;
  id: string;
  payload: Json<Record<string, unknown>>;
  grant_id: string | null;
  /** The account a Session, Grant, code or token belongs to (for revoking everything of one account). */
  account_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: Date | null;
  consumed_at: Date | null;
}

export type AccountTokenPurpose = 'verify_email' | 'reset_password' | 'change_email';

export interface AccountTokensTable {
  id: Generated<string>;
  account_id: string;
  purpose: AccountTokenPurpose;
  /** SHA-256 of the mailed token; the token itself is never stored. */
  token_hash: string;
  /** The address the token was mailed to (the new address for change_email). */
  email: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Date | null;
}

export interface MailOutboxTable {
  id: Generated<string>;
  recipient: string;
  subject: string;
  text_body: string;
  html_body: string;
  created_at: Generated<Date>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_error: string | null;
  sent_at: Date | null;
  failed_at: Date | null;
}

export interface AccountTotpTable {
  account_id: string;
  /** AES-256-GCM of the base32 seed under KEY_ENCRYPTION_KEY, bound to the account id. */
  secret_encrypted: string;
  created_at: Timestamp;
  /** Null while enrolment awaits its first valid code. */
  activated_at: Date | null;
  /** The newest accepted time step: codes at or before it are refused (single use). */
  last_used_step: ColumnType<string | null, string | number | null, string | number | null>;
  failed_attempts: Generated<number>;
  locked_at: Date | null;
}

/** Browsers an account signed in from: only the SHA-256 of the device cookie (migration 20261129080000). */
export interface KnownDevicesTable {
  account_id: string;
  device_hash: string;
  first_seen_at: Timestamp;
  last_seen_at: Timestamp;
}

export interface RecoveryCodesTable {
  id: Generated<string>;
  account_id: string;
  /** argon2id of the code (80 bits: a password hash, since that is below 112 bits, MFA-05). */
  code_hash: string;
  created_at: Timestamp;
  used_at: Date | null;
}

export type PasskeyDeviceType = 'singleDevice' | 'multiDevice';

export interface PasskeysTable {
  id: Generated<string>;
  account_id: string;
  /** base64url of the WebAuthn credential id, unique across accounts: an assertion names one account. */
  credential_id: string;
  /** The COSE public key the authenticator made at registration (public: no secret is stored). */
  public_key: Uint8Array;
  /** The authenticator's signature counter; only ever raised (pg returns bigint as text, PGlite as a number). */
  counter: ColumnType<string | number, number | undefined, number>;
  /** Comma list of the transports the browser reported (usb, nfc, ble, internal, hybrid), for allowCredentials. */
  transports: string;
  /** singleDevice: bound to one authenticator; multiDevice: synced by a passkey provider. */
  device_type: PasskeyDeviceType;
  backed_up: boolean;
  /** Chosen by the owner, shown on the account page. */
  name: string;
  created_at: Timestamp;
  last_used_at: Date | null;
}

export type WebauthnChallengePurpose = 'register' | 'authenticate';

export interface WebauthnChallengesTable {
  purpose: WebauthnChallengePurpose;
  /** What the challenge was issued for (an account, or a sign-in interaction); part of the key. */
  binding: string;
  /** base64url, as it comes back inside clientDataJSON. */
  challenge: string;
  expires_at: Timestamp;
}

export type AuditOutcome = 'success' | 'failure';

/** The audit trail (LOG-01): inserted by src/audit/audit-log.ts, deleted only by the retention job. */
export interface AuditEventsTable {
  /** bigint identity, read as text (pg returns int8 as a string, PGlite as a number). */
  id: ColumnType<string, never, never>;
  occurred_at: Timestamp;
  type: string;
  outcome: AuditOutcome;
  /** No foreign key: history outlives the account (see the migration). */
  account_id: string | null;
  client_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  /** Small and sanitised: never a secret (src/audit/details.ts). */
  details: Json<Record<string, unknown>>;
}

/** One row (migration 20261129090000): what oidc-provider issued before `revoked_before` is void (REL-F13). */
export interface RevocationEpochTable {
  singleton: Generated<boolean>;
  revoked_before: Timestamp;
}

export type ApiTokenFormat = 'jwt' | 'opaque';

/** A scope an API defines; the description is shown to users on the consent page. */
export interface ApiScope {
  name: string;
  description: string;
}

/** Resource servers (migration 20261129100000, issue 11): the `resource` a client asks for. */
export interface ApisTable {
  /** An absolute URI without fragment (RFC 8707 §2); the `aud` of its access tokens. */
  identifier: string;
  name: string;
  scopes: Json<ApiScope[]>;
  token_format: ColumnType<ApiTokenFormat, ApiTokenFormat | undefined, ApiTokenFormat>;
  token_ttl_seconds: number;
  rbac: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** Roles (migration 20261129120000, issue 11): global (client_id null) or one client's own. */
export interface RolesTable {
  id: Generated<string>;
  name: string;
  description: ColumnType<string, string | undefined, string>;
  client_id: string | null;
  created_at: Timestamp;
}

/** The permissions (e.g. `posts:delete`) a role carries. */
export interface RolePermissionsTable {
  role_id: string;
  permission: string;
}

/** The roles an account holds. */
export interface AccountRolesTable {
  account_id: string;
  role_id: string;
  granted_at: Timestamp;
}

/** An account's identity at an upstream OpenID provider (issue 12); see the migration. */
export interface UpstreamIdentitiesTable {
  provider: string;
  /** The upstream's `sub`: with `provider`, the only key an upstream sign-in finds an account by. */
  subject: string;
  account_id: string;
  /** The upstream's address when linked, for the account page; never used to find an account. */
  email: string | null;
  created_at: Generated<Date>;
  last_used_at: Date | null;
  /** Linked while the account's address was unproven: a password reset (which proves it) unlinks it. */
  address_unproven: Generated<boolean>;
}

export interface Database {
  accounts: AccountsTable;
  clients: ClientsTable;
  signing_keys: SigningKeysTable;
  oidc_payloads: OidcPayloadsTable;
  account_tokens: AccountTokensTable;
  mail_outbox: MailOutboxTable;
  account_totp: AccountTotpTable;
  recovery_codes: RecoveryCodesTable;
  known_devices: KnownDevicesTable;
  audit_events: AuditEventsTable;
  passkeys: PasskeysTable;
  webauthn_challenges: WebauthnChallengesTable;
  apis: ApisTable;
  roles: RolesTable;
  role_permissions: RolePermissionsTable;
  account_roles: AccountRolesTable;
  revocation_epoch: RevocationEpochTable;
  client_previous_secrets: ClientPreviousSecretsTable;
  upstream_identities: UpstreamIdentitiesTable;
}

export type AccountRow = Selectable<AccountsTable>;
export type NewAccountRow = Insertable<AccountsTable>;
export type ClientRow = Selectable<ClientsTable>;
export type SigningKeyRow = Selectable<SigningKeysTable>;
export type OidcPayloadRow = Selectable<OidcPayloadsTable>;
export type AccountTokenRow = Selectable<AccountTokensTable>;
export type MailOutboxRow = Selectable<MailOutboxTable>;
export type AccountTotpRow = Selectable<AccountTotpTable>;
export type PasskeyRow = Selectable<PasskeysTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type ApiRow = Selectable<ApisTable>;
export type RoleRow = Selectable<RolesTable>;
export type UpstreamIdentityRow = Selectable<UpstreamIdentitiesTable>;
