/** English strings of the sign-in's second step; merged into en.ts. */
export const mfaPagesEn = {
  'mfa.title': 'Two-step verification',
  'mfa.heading': 'Enter your verification code',
  'mfa.explain': 'Open your authenticator app and enter the 6-digit code it shows for this account, or one of your recovery codes.',
  'mfa.code': 'Verification code',
  'mfa.submit': 'Verify',
  'mfa.wrongCode': 'That code is not right. Check the time on your phone and try the newest code.',
  'mfa.recovery.heading': 'Your recovery codes',
  'mfa.recovery.explain': 'If you lose your phone, each of these codes signs you in once in place of a code from the app. Save them somewhere safe now: they are shown only this once.',
  'mail.mfaChanged.recovery': 'One of your recovery codes was just used to sign in to your account. Each code works once; you can make a new set on your account page.',
  'mfa.recovery.regenerateExplain': 'Lost your recovery codes or used several? Make a new set; the old codes stop working.',
  'mfa.recovery.regenerate': 'Make new recovery codes',
  'mfa.recovery.replaced': 'Your new recovery codes are below. The old ones no longer work.',
  'errors.mfa_too_many_attempts': 'Too many wrong codes. Go back to the application and sign in again.',
  'errors.mfa_locked': 'Two-step verification is locked after too many wrong codes. Reset your password to unlock it, or contact the operator.',
};
