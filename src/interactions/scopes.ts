/** Plain words for what each scope lets an application do (shown on the consent page). */
const DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are when you sign in',
  email: 'See your email address and whether it is verified',
  profile: 'See your name',
  offline_access: 'Stay connected when you are not using it',
};

export function describeScopes(scopes: readonly string[]): string[] {
  return scopes.map((scope) => DESCRIPTIONS[scope] ?? `Use the "${scope}" permission`);
}
