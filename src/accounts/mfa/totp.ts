import { generateSecret, generateURI, verify } from 'otplib';
import { decryptSecret, encryptSecret, type KeyRing } from '../../security/encryption.ts';
import type { Db } from '../../storage/postgres/db.ts';
import { acceptTotpStep, activateTotp, findTotp, recordTotpFailure, savePendingTotp } from '../../storage/postgres/totp.queries.ts';

/** After this many consecutive wrong codes across sign-ins, TOTP is locked until recovery (MFA-04). */
export const TOTP_ACCOUNT_FAILURE_LIMIT = 100;

export interface TotpDeps {
  db: Db;
  keyEncryptionKeys: KeyRing;
  now(): Date;
}

/** The AAD that binds a seed to its account (also used by `gatehouse keys reencrypt`). */
export const totpSecretAad = (accountId: string) => `totp:${accountId}`;

/**
 * Checks a 6-digit code: SHA-1, 30 s steps (what authenticator apps support), the current step or one
 * step back for clock drift and typing time, never a future step (MFA-03: a deliberate, documented
 * deviation from ASVS 6.5.5's strict 30 s), and only steps after `afterStep` (single use, MFA-02).
 * @returns the code's time step, or undefined when it does not match.
 */
export async function matchTotpCode(secret: string, code: string, now: Date, afterStep?: number): Promise<number | undefined> {
  if (!/^\d{6}$/.test(code)) return undefined;
  const result = await verify({
    secret,
    token: code,
    epoch: Math.floor(now.getTime() / 1000),
    epochTolerance: [30, 0],
    ...(afterStep === undefined ? {} : { afterTimeStep: afterStep }),
  });
  // verify() is typed for TOTP and HOTP together; a TOTP result carries its timeStep.
  return result.valid && 'timeStep' in result ? result.timeStep : undefined;
}

export interface TotpEnrolment {
  /** Base32 seed, to show grouped for manual entry. */
  secret: string;
  /** otpauth:// URI for the QR code and the tap-to-add link. */
  uri: string;
}

/** Starts enrolment: a fresh 160-bit seed (MFA-01), stored encrypted and inactive until a code confirms it. */
export async function startTotpEnrolment(deps: TotpDeps, account: { id: string; email: string }, issuerName: string): Promise<TotpEnrolment | undefined> {
  const secret = generateSecret({ length: 20 });
  const saved = await savePendingTotp(deps.db, account.id, encryptSecret(deps.keyEncryptionKeys, secret, totpSecretAad(account.id)), deps.now());
  if (!saved) return undefined; // already active: changing it is a separate, reauthenticated step
  return { secret, uri: totpUri(issuerName, account.email, secret) };
}

/** The otpauth:// URI an authenticator app reads from the QR code or the tap-to-add link. */
export function totpUri(issuerName: string, email: string, secret: string): string {
  return generateURI({ issuer: issuerName, label: email, secret });
}

/** The pending enrolment of an account (to show its QR again), if any. */
export async function pendingTotpSecret(deps: TotpDeps, accountId: string): Promise<string | undefined> {
  const row = await findTotp(deps.db, accountId);
  if (!row || row.activated_at) return undefined;
  return decryptSecret(deps.keyEncryptionKeys, row.secret_encrypted, totpSecretAad(accountId));
}

/** People copy codes as "123 456"; matchTotpCode itself wants exactly six digits. */
const typedCode = (code: string) => code.replace(/\s+/g, '');

/** Activates a pending enrolment when `code` is valid; false otherwise. */
export async function confirmTotpEnrolment(deps: TotpDeps, accountId: string, code: string): Promise<boolean> {
  const secret = await pendingTotpSecret(deps, accountId);
  if (!secret) return false;
  const step = await matchTotpCode(secret, typedCode(code), deps.now());
  return step !== undefined && activateTotp(deps.db, accountId, step, deps.now());
}

export async function hasActiveTotp(db: Db, accountId: string): Promise<boolean> {
  const row = await findTotp(db, accountId);
  return Boolean(row?.activated_at);
}

export type TotpOutcome = 'accepted' | 'rejected' | 'locked';

/**
 * The sign-in check. A matching code is accepted only if its step is newer than the last accepted one,
 * atomically; a wrong code counts toward the per-account lock (kept in the database, so starting a new
 * sign-in does not reset it).
 */
export async function verifyTotpForSignIn(deps: TotpDeps, accountId: string, code: string): Promise<TotpOutcome> {
  const row = await findTotp(deps.db, accountId);
  if (!row?.activated_at) return 'rejected';
  if (row.locked_at) return 'locked';
  const secret = decryptSecret(deps.keyEncryptionKeys, row.secret_encrypted, totpSecretAad(accountId));
  const lastStep = row.last_used_step === null ? undefined : Number(row.last_used_step);
  const step = await matchTotpCode(secret, typedCode(code), deps.now(), lastStep);
  if (step !== undefined && (await acceptTotpStep(deps.db, accountId, step))) return 'accepted';
  const failures = await recordTotpFailure(deps.db, accountId, TOTP_ACCOUNT_FAILURE_LIMIT, deps.now());
  return failures >= TOTP_ACCOUNT_FAILURE_LIMIT ? 'locked' : 'rejected';
}
