import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { PasskeyDeviceType } from '../../storage/postgres/database.ts';
import { findPasskeyByCredentialId, listPasskeys, recordPasskeyUse, type ChallengeKey } from '../../storage/postgres/passkeys.queries.ts';
import { CEREMONY_TIMEOUT_MS, openChallenge, relyingParty, spendChallenge, splitTransports, userHandleOf, webauthn, type PasskeyDeps } from './passkeys.ts';
import { parseAuthenticationResponse } from './webauthn-json.ts';

/**
 * What a sign-in asks a passkey for:
 * - `second-factor`: after the password, in the interaction's mfa stage. Only the account's own
 *   credentials are offered and accepted; user presence is enough (the password was the knowledge
 *   factor, the passkey proves possession).
 * - `passwordless`: the first and only step. Any discoverable credential may answer, and user
 *   verification (the device's PIN or biometric) is required: possession plus that local check is
 *   what makes one passkey a multi-factor authenticator.
 */
export type PasskeyUse =
  | { kind: 'second-factor'; interactionUid: string; accountId: string }
  | { kind: 'passwordless'; interactionUid: string };

/** A challenge belongs to one interaction, and for a second factor to the account that passed the password. */
function challengeKey(use: PasskeyUse): ChallengeKey {
  const binding = use.kind === 'second-factor' ? `mfa:${use.interactionUid}:${use.accountId}` : `login:${use.interactionUid}`;
  return { purpose: 'authenticate', binding };
}

/**
 * Options for navigator.credentials.get(), with a fresh challenge bound to this use.
 * @returns undefined for a second factor when the account has no passkey (nothing to offer).
 */
export async function passkeyAuthenticationOptions(deps: PasskeyDeps, use: PasskeyUse): Promise<PublicKeyCredentialRequestOptionsJSON | undefined> {
  const { rpID } = relyingParty(deps.issuer);
  let allowCredentials: { id: string; transports: string[] }[] | undefined;
  if (use.kind === 'second-factor') {
    const rows = await listPasskeys(deps.db, use.accountId);
    if (rows.length === 0) return undefined;
    allowCredentials = rows.map((row) => ({ id: row.credential_id, transports: splitTransports(row.transports) }));
  }
  const { generateAuthenticationOptions } = await webauthn();
  const options = await generateAuthenticationOptions({
    rpID,
    timeout: CEREMONY_TIMEOUT_MS,
    // Passwordless: no list, so the authenticator offers its discoverable credentials for this RP.
    ...(allowCredentials ? { allowCredentials } : {}),
    // 'discouraged' after a password: presence proves possession and a PIN prompt would add nothing.
    userVerification: use.kind === 'passwordless' ? 'required' : 'discouraged',
  });
  await openChallenge(deps, challengeKey(use), options.challenge);
  return options;
}

export type AssertionOutcome = { ok: true; accountId: string; deviceType: PasskeyDeviceType } | { ok: false };

/**
 * Verifies an assertion for `use`. In order: the response's challenge is spent (single use, and only
 * for the binding it was issued for), the credential must exist and, as a second factor, belong to the
 * account that passed the password; a passwordless response's user handle must name the credential's
 * account; the signature, origin, RP ID, presence (and verification when passwordless) are checked by
 * @simplewebauthn/server; last, the signature counter must rise, stored atomically.
 */
export async function verifyPasskeyAssertion(deps: PasskeyDeps, use: PasskeyUse, responseText: string): Promise<AssertionOutcome> {
  const failed: AssertionOutcome = { ok: false };
  const response = parseAuthenticationResponse(responseText);
  if (!response) return failed;
  const challenge = await spendChallenge(deps, challengeKey(use), response.response.clientDataJSON);
  if (!challenge) return failed;
  const row = await findPasskeyByCredentialId(deps.db, response.id);
  if (!row) return failed;
  if (use.kind === 'second-factor' && row.account_id !== use.accountId) return failed;
  // A discoverable credential always returns its user handle (WebAuthn §7.2 step 6): it must name the credential's account.
  if (use.kind === 'passwordless' && response.response.userHandle !== userHandleOf(row.account_id)) return failed;
  const { rpID, origin } = relyingParty(deps.issuer);
  const { verifyAuthenticationResponse } = await webauthn();
  const verification = await verifyAuthenticationResponse({
    response,
    expectedChallenge: challenge,
    expectedOrigin: origin,
    expectedRPID: rpID,
    credential: { id: row.credential_id, publicKey: new Uint8Array(row.public_key), counter: Number(row.counter), transports: splitTransports(row.transports) },
    requireUserVerification: use.kind === 'passwordless',
  }).catch(() => undefined); // the library throws on any mismatch (origin, RP ID, flags, counter, signature)
  if (!verification?.verified) return failed;
  const { newCounter, credentialBackedUp, credentialDeviceType } = verification.authenticationInfo;
  if (!(await recordPasskeyUse(deps.db, row.id, newCounter, credentialBackedUp, deps.now()))) return failed;
  return { ok: true, accountId: row.account_id, deviceType: credentialDeviceType };
}

/**
 * The amr value (RFC 8176) a passkey sign-in asserts. 'hwk' (proof of possession of a hardware-secured
 * key) only for a single-device credential, whose private key cannot leave its authenticator; a
 * multi-device (synced) passkey is copied between devices by its provider, so it is 'swk' (a software-
 * secured key), however good that provider's protection is. The flag comes from this assertion's own
 * authenticator data (its BE bit), not from what was stored at registration.
 */
export const passkeyAmr = (deviceType: PasskeyDeviceType): 'hwk' | 'swk' => (deviceType === 'singleDevice' ? 'hwk' : 'swk');
