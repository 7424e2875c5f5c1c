/** Plain words for what each scope lets an application do (shown on the consent page). */
const SCOPES: Record<string, string> = {
  openid: 'Know who you are when you sign in',
  email: 'See your email address and whether it is verified',
  profile: 'See your name',
  offline_access: 'Stay connected when you are not using it',
};

/** Plain words for individual claims asked for with the `claims` parameter. */
const CLAIMS: Record<string, string> = {
  sub: 'Your account identifier',
  email: 'Your email address',
  email_verified: 'Whether your email address is verified',
  name: 'Your name',
};

export function describeScopes(scopes: readonly string[]): string[] {
  return scopes.map((scope) => SCOPES[scope] ?? `Use the "${scope}" permission`);
}

export function describeClaims(claims: readonly string[]): string[] {
  return claims.filter((claim) => claim !== 'sub').map((claim) => CLAIMS[claim] ?? `Your "${claim}" information`);
}
