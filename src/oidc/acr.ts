/**
 * The authentication context classes Gatehouse asserts in `acr` (published as acr_values_supported):
 * what the sign-in actually used, never more.
 */
export const ACR = {
  password: 'urn:gatehouse:loa:pwd',
  /** An upstream provider's sign-in alone (issue 12): its own methods are not ours to vouch for. */
  federated: 'urn:gatehouse:loa:fed',
  mfa: 'urn:gatehouse:loa:mfa',
} as const;

export const ACR_VALUES = [ACR.password, ACR.federated, ACR.mfa];
