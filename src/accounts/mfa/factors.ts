import type { Db } from '../../storage/postgres/db.ts';
import { findEnrolledFactors } from '../../storage/postgres/second-factors.queries.ts';

/** The second factors an account has enrolled: what the sign-in's `mfa` stage may offer. */
export interface EnrolledFactors {
  totp: boolean;
  /** How many passkeys the account has registered. */
  passkeys: number;
}

export function enrolledFactors(db: Db, accountId: string): Promise<EnrolledFactors> {
  return findEnrolledFactors(db, accountId);
}

/** Whether the password alone must not finish a sign-in (MFA-06): an authenticator app or any passkey. */
export const hasSecondFactor = (factors: EnrolledFactors): boolean => factors.totp || factors.passkeys > 0;
