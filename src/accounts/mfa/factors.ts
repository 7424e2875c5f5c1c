import type { Db } from '../../storage/postgres/db.ts';
import { hasActiveTotp } from './totp.ts';

/** The second factors an account has enrolled: what the sign-in's `mfa` stage may offer. */
export interface EnrolledFactors {
  totp: boolean;
}

export async function enrolledFactors(db: Db, accountId: string): Promise<EnrolledFactors> {
  return { totp: await hasActiveTotp(db, accountId) };
}

/** Whether the password alone must not finish a sign-in (MFA-06). */
export const hasSecondFactor = (factors: EnrolledFactors): boolean => factors.totp;
