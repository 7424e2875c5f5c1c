import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import type { Db } from '../../storage/postgres/db.ts';
import {
  consumeWebauthnChallenge,
  deletePasskey,
  insertPasskey,
  listPasskeys,
  renamePasskey,
  saveWebauthnChallenge,
  type ChallengeKey,
} from '../../storage/postgres/passkeys.queries.ts';
import { clientDataChallenge, parseRegistrationResponse } from './webauthn-json.ts';

/**
 * Loaded at the first passkey ceremony, not at start-up: with its ASN.1 and COSE dependencies it is the
 * largest module of the sign-in code and added about 0.15 s to every start (issue 13's bench).
 */
export const webauthn = () => import('@simplewebauthn/server');

export interface PasskeyDeps {
  db: Db;
  /** The issuer URL: its host name is the WebAuthn RP ID and its origin the only origin accepted. */
  issuer: string;
  now(): Date;
}

/** How long the browser may take over one ceremony, and how long its challenge stays usable. */
export const CEREMONY_TIMEOUT_MS = 120_000;
const CHALLENGE_TTL_MS = CEREMONY_TIMEOUT_MS + 60_000;
export const PASSKEY_NAME_MAX = 60;
export const DEFAULT_PASSKEY_NAME = 'Passkey';

/**
 * The relying party as WebAuthn sees it. A credential is scoped to the RP ID (the issuer's host name,
 * without port), and every response must come from the issuer's exact origin: a look-alike site gets
 * nothing it can replay here.
 */
export function relyingParty(issuer: string): { rpID: string; origin: string; rpName: string } {
  const url = new URL(issuer);
  return { rpID: url.hostname, origin: url.origin, rpName: url.host };
}

/**
 * The WebAuthn user handle of an account: its id (a random UUID, no personal data), so a passwordless
 * assertion can be checked against the account its credential is registered to.
 */
export const userHandleOf = (accountId: string): string => Buffer.from(accountId, 'utf8').toString('base64url');

/** Opens a single-use challenge for `key` (replacing an open one) that expires with the ceremony. */
export async function openChallenge(deps: PasskeyDeps, key: ChallengeKey, challenge: string): Promise<void> {
  const now = deps.now();
  await saveWebauthnChallenge(deps.db, key, challenge, new Date(now.getTime() + CHALLENGE_TTL_MS), now);
}

/**
 * Spends the challenge a response carries, before anything else is checked: a response is looked at
 * once, whatever its outcome, and only for the binding its challenge was issued for.
 */
export async function spendChallenge(deps: PasskeyDeps, key: ChallengeKey, clientDataJSON: string): Promise<string | undefined> {
  const challenge = clientDataChallenge(clientDataJSON);
  if (!challenge) return undefined;
  return (await consumeWebauthnChallenge(deps.db, key, challenge, deps.now())) ? challenge : undefined;
}

const registrationKey = (accountId: string): ChallengeKey => ({ purpose: 'register', binding: `account:${accountId}` });

/**
 * Options for navigator.credentials.create(). The caller has just checked the current password
 * (MFA-07); the challenge is bound to this account and ends the reauthentication's reach.
 *
 * residentKey 'required': every passkey registered here is discoverable, so each one works both as a
 * second factor and for passwordless sign-in. userVerification 'preferred', not 'required': the owner
 * proved who they are with the password just now, so UV at registration adds nothing; what matters is
 * UV at each passwordless sign-in, which is required there, per assertion. This keeps security keys
 * without a PIN usable as a second factor.
 */
export async function passkeyRegistrationOptions(
  deps: PasskeyDeps,
  account: { id: string; email: string; name: string | null },
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { rpID, rpName } = relyingParty(deps.issuer);
  const existing = await listPasskeys(deps.db, account.id);
  const { generateRegistrationOptions } = await webauthn();
  const options = await generateRegistrationOptions({
    rpName,
    rpID,
    userName: account.email,
    userDisplayName: account.name ?? account.email,
    userID: new Uint8Array(Buffer.from(account.id, 'utf8')),
    timeout: CEREMONY_TIMEOUT_MS,
    attestationType: 'none',
    // The same authenticator twice would only be a confusing duplicate in the list.
    excludeCredentials: existing.map((row) => ({ id: row.credential_id, transports: splitTransports(row.transports) })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
  });
  await openChallenge(deps, registrationKey(account.id), options.challenge);
  return options;
}

export interface PasskeyView {
  id: string;
  name: string;
  /** true: synced by a passkey provider (multi-device); false: bound to one authenticator. */
  synced: boolean;
  createdAt: Date;
  lastUsedAt: Date | undefined;
}

/**
 * Verifies a registration response against this account's open challenge and saves the credential.
 * @returns the new passkey, or undefined when the response is malformed, its challenge was not this
 *   account's open one (or was used already, or expired), it fails verification, or the credential is
 *   already registered.
 */
export async function registerPasskey(deps: PasskeyDeps, accountId: string, responseText: string, name: string): Promise<PasskeyView | undefined> {
  const response = parseRegistrationResponse(responseText);
  if (!response) return undefined;
  const challenge = await spendChallenge(deps, registrationKey(accountId), response.response.clientDataJSON);
  if (!challenge) return undefined;
  const { rpID, origin } = relyingParty(deps.issuer);
  const { verifyRegistrationResponse } = await webauthn();
  const verification = await verifyRegistrationResponse({
    response,
    expectedChallenge: challenge,
    expectedOrigin: origin,
    expectedRPID: rpID,
    requireUserVerification: false, // see passkeyRegistrationOptions
  }).catch(() => undefined); // the library throws on any malformed or mismatching response
  if (!verification?.verified) return undefined;
  const { credential, credentialDeviceType, credentialBackedUp } = verification.registrationInfo;
  const createdAt = deps.now();
  const id = await insertPasskey(deps.db, {
    accountId,
    credentialId: credential.id,
    publicKey: credential.publicKey,
    counter: credential.counter,
    transports: credential.transports ?? [],
    deviceType: credentialDeviceType,
    backedUp: credentialBackedUp,
    name: cleanName(name),
    createdAt,
  });
  if (!id) return undefined;
  return { id, name: cleanName(name), synced: credentialDeviceType === 'multiDevice', createdAt, lastUsedAt: undefined };
}

/** A name as the owner typed it, trimmed and capped; empty means the default. */
function cleanName(name: string): string {
  const trimmed = name.trim().slice(0, PASSKEY_NAME_MAX);
  return trimmed || DEFAULT_PASSKEY_NAME;
}

export const splitTransports = (transports: string): string[] => transports.split(',').filter(Boolean);

export async function listAccountPasskeys(db: Db, accountId: string): Promise<PasskeyView[]> {
  return (await listPasskeys(db, accountId)).map((row) => ({
    id: row.id,
    name: row.name,
    synced: row.device_type === 'multiDevice',
    createdAt: new Date(row.created_at),
    lastUsedAt: row.last_used_at ? new Date(row.last_used_at) : undefined,
  }));
}

/** Renames one of the account's passkeys; false when the id is not one of them. */
export function renameAccountPasskey(db: Db, accountId: string, passkeyId: string, name: string): Promise<boolean> {
  return renamePasskey(db, accountId, passkeyId, cleanName(name));
}

/** Removes one of the account's passkeys; its name, or undefined when the id is not one of them. */
export function removeAccountPasskey(db: Db, accountId: string, passkeyId: string): Promise<string | undefined> {
  return deletePasskey(db, accountId, passkeyId);
}
