import { looksLikeRecoveryCode, useRecoveryCode, type RecoveryCodeDeps } from './recovery-codes.ts';
import { verifyTotpForSignIn, type TotpDeps, type TotpOutcome } from './totp.ts';

/**
 * A code typed where a second factor is asked (the sign-in's second step, a password reset): a recovery
 * code when it looks like one (single use, MFA-05), otherwise the authenticator app's current code
 * (single use, counted toward its lock: MFA-02, MFA-04). An account with passkeys only can still answer
 * with a recovery code. `recovery` tells the caller to notify the owner.
 */
export async function verifySecondFactorCode(
  deps: { totp: TotpDeps; recoveryCodes: RecoveryCodeDeps },
  accountId: string,
  code: string,
): Promise<{ outcome: TotpOutcome; recovery: boolean }> {
  if (looksLikeRecoveryCode(code)) {
    return { outcome: (await useRecoveryCode(deps.recoveryCodes, accountId, code)) ? 'accepted' : 'rejected', recovery: true };
  }
  return { outcome: await verifyTotpForSignIn(deps.totp, accountId, code), recovery: false };
}
