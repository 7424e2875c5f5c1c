/** English strings of the rate limits and the sign-in lock (ABU-01, ABU-02, ABU-04, REC-02); merged into en.ts. */
export const limitsEn = {
  // The error page cannot fill placeholders, so the wait is in the Retry-After header and the JSON description only.
  'errors.too_many_requests': 'Too many attempts. Please wait a while, then try again.',
  'errors.busy': 'The service is busy right now. Please try again in a few seconds.',
  'errors.rate_limit_unavailable': 'Signing in is not possible right now. Please try again in a few minutes.',
  'mail.accountLocked.subject': 'Password sign-in to your account is locked',
  'mail.accountLocked.intro': 'Someone entered a wrong password for your account {count} times in a row, so signing in with your password is now locked. None of these attempts succeeded, and nothing else has changed.',
  'mail.accountLocked.action': 'Choose a new password to unlock',
  'mail.accountLocked.reset': 'Choosing a new password unlocks your account. You can also ask the people who run this service to unlock it.',
  'mail.accountLocked.notYou': 'If these attempts were not yours, someone may be trying to guess your password: choose a long one you use nowhere else.',
};
