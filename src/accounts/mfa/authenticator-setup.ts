import type { AccountRow } from '../../storage/postgres/database.ts';
import { pendingTotpSecret, startTotpEnrolment, totpUri, type TotpDeps } from './totp.ts';

/** What a setup page shows: the same secret three ways (QR code, tap-to-add link, typed by hand). */
export interface AuthenticatorSetup {
  uri: string;
  /** Inline SVG markup made by the qrcode library from `uri` alone (no user text reaches it). */
  qrSvg: string;
  /** The base32 secret in groups of 4, easier to type. */
  secretGroups: string;
}

/** The name an authenticator app shows above the code: this deployment's host (e.g. id.example.com). */
export const totpIssuerName = (issuer: string): string => new URL(issuer).host;

export async function authenticatorSetup(secret: string, uri: string): Promise<AuthenticatorSetup> {
  // Loaded at the first enrolment, not at start-up (issue 13: every module loaded at start delays ready).
  const { default: QRCode } = await import('qrcode');
  const qrSvg = await QRCode.toString(uri, { type: 'svg', width: 200, errorCorrectionLevel: 'M' });
  return { uri, qrSvg, secretGroups: secret.match(/.{1,4}/g)!.join(' ') };
}

/**
 * The setup for an account's pending authenticator, starting one when none is pending, so reloading a
 * setup page shows the secret the user may already have scanned. Undefined when an authenticator is
 * already active.
 */
export async function pendingOrNewSetup(deps: TotpDeps, account: Pick<AccountRow, 'id' | 'email'>, issuer: string): Promise<AuthenticatorSetup | undefined> {
  const issuerName = totpIssuerName(issuer);
  const pending = await pendingTotpSecret(deps, account.id);
  if (pending) return authenticatorSetup(pending, totpUri(issuerName, account.email, pending));
  const started = await startTotpEnrolment(deps, account, issuerName);
  return started && authenticatorSetup(started.secret, started.uri);
}
