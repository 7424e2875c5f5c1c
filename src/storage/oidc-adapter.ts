import { errors, type AdapterPayload } from 'oidc-provider';

/**
 * The storage port oidc-provider calls for its models (Session, Grant, AuthorizationCode, AccessToken, ...).
 * Backends: storage/postgres/oidc-adapter.ts (the embedded default) and storage/redis/oidc-adapter.ts. Both
 * must behave like oidc-provider's lib/adapters/memory_adapter.js, which test/contract pins, except `consume`.
 * The payload type is oidc-provider's own, so a factory plugs straight into the Provider's `adapter` option.
 */
export type { AdapterPayload };

export interface OidcAdapter {
  /** Stores (or replaces) the record and re-indexes it; `expiresIn` seconds, none means it never expires. */
  upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
  /** The payload, with `consumed` (epoch seconds) once consumed; undefined when absent or expired. */
  find(id: string): Promise<AdapterPayload | undefined>;
  /** Sessions only: the session whose `uid` this is. */
  findByUid(uid: string): Promise<AdapterPayload | undefined>;
  /** Device flow: the record holding this `userCode`. */
  findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
  /**
   * Marks the record consumed, atomically: exactly one of any number of concurrent calls succeeds.
   * @throws InvalidGrant when the record was already consumed (its grant is revoked first) or is absent.
   */
  consume(id: string): Promise<void>;
  /** Removes the record and its uid / userCode / grant index entries. */
  destroy(id: string): Promise<void>;
  /** Removes every grantable record (of any model) issued under this grant. */
  revokeByGrantId(grantId: string): Promise<void>;
}

export type AdapterFactory = (model: string) => OidcAdapter;

/** Ends everything oidc-provider holds for one account: sessions, grants, codes and tokens (REC-06). */
export interface AccountRevoker {
  revokeAccount(accountId: string): Promise<void>;
}

/** Models indexed by grantId; the same set as oidc-provider's memory adapter. */
export const GRANTABLE_MODELS: ReadonlySet<string> = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

/** Models indexed by accountId: what must disappear when an account's sessions and grants are revoked. */
export const ACCOUNT_MODELS: ReadonlySet<string> = new Set(['Session', 'Grant', ...GRANTABLE_MODELS]);

/** The account a payload belongs to, if any (anonymous sessions have none). */
export function accountIdOf(payload: AdapterPayload | undefined): string | undefined {
  const accountId = payload?.accountId;
  return typeof accountId === 'string' && accountId !== '' ? accountId : undefined;
}

/** oidc-provider's own error, so its token endpoint answers 400 invalid_grant rather than a 500. */
/** The detail of a lost or replayed consume (clients see invalid_grant); the audit trail recognises it. */
export const CONSUME_REJECTED = 'grant already used; the grant is revoked';

export function invalidGrant(): Error {
  return new errors.InvalidGrant(CONSUME_REJECTED);
}

/** The grantId a payload was issued under, if any. */
export function grantIdOf(payload: AdapterPayload | undefined): string | undefined {
  const grantId = payload?.grantId;
  return typeof grantId === 'string' && grantId !== '' ? grantId : undefined;
}

/**
 * What a backend does when its atomic `consume` finds the record already consumed or gone.
 *
 * This is the one deliberate difference from the memory adapter, whose `consume` silently overwrites
 * `consumed`. oidc-provider checks `code.consumed` and then calls `adapter.consume()` without a lock, so
 * two parallel token requests with one authorization code (or one rotating refresh token) would both see
 * it unconsumed and both get tokens. Here the loser gets what oidc-provider itself does on a detected
 * replay: the grant is revoked (every grantable model by grantId, and the Grant record, which makes
 * introspection and userinfo refuse the winner's tokens too) and the request fails with invalid_grant.
 *
 * A record that is gone also fails (without revoking: its grantId is unknown). oidc-provider found it a
 * moment earlier, so it was revoked, destroyed or expired in between; typically another loser of the same
 * race revoked the grant. A no-op here would let that request go on to issue tokens.
 * @throws InvalidGrant always.
 */
export async function rejectConsume(adapterFor: AdapterFactory, grantId: string | undefined): Promise<never> {
  if (grantId !== undefined) {
    await Promise.all([
      ...[...GRANTABLE_MODELS].map((model) => adapterFor(model).revokeByGrantId(grantId)),
      adapterFor('Grant').destroy(grantId),
    ]);
  }
  throw invalidGrant();
}
