/** English strings of the rate limits (ABU-02, REC-02); merged into en.ts. */
export const limitsEn = {
  // The error page cannot fill placeholders, so the wait is in the Retry-After header and the JSON description only.
  'errors.too_many_requests': 'Too many attempts. Please wait a while, then try again.',
};
