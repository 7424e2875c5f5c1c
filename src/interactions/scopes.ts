import type { MessageKey, Translate } from '../i18n/translate.ts';

/** Catalogue keys for what each scope lets an application do (shown on the consent page). */
const SCOPES: Record<string, MessageKey> = {
  openid: 'scope.openid',
  email: 'scope.email',
  profile: 'scope.profile',
  offline_access: 'scope.offline_access',
  roles: 'scope.roles',
};

/** Catalogue keys for individual claims asked for with the `claims` parameter. */
const CLAIMS: Record<string, MessageKey> = {
  sub: 'claim.sub',
  email: 'claim.email',
  email_verified: 'claim.email_verified',
  name: 'claim.name',
  roles: 'claim.roles',
  permissions: 'claim.permissions',
};

// Object.hasOwn: a scope named "constructor" must not find Object.prototype's.
const known = (table: Record<string, MessageKey>, name: string) => (Object.hasOwn(table, name) ? table[name] : undefined);

export function describeScopes(scopes: readonly string[], t: Translate): string[] {
  return scopes.map((scope) => {
    const key = known(SCOPES, scope);
    return key ? t(key) : t('scope.unknown', { scope });
  });
}

/** What the consent page needs of a registered API (src/storage/postgres/apis.queries.ts rows). */
export interface ApiScopeCatalogue {
  identifier: string;
  name: string;
  scopes: readonly { name: string; description: string }[];
}

/**
 * The scopes of APIs asked for with `resource`, in the words the operator gave with `gatehouse api add`
 * ("Posts API: Read your posts"); those are not translated. A scope without a description falls back
 * to the generic line.
 */
export function describeApiScopes(missing: Record<string, readonly string[]>, apis: readonly ApiScopeCatalogue[], t: Translate): string[] {
  return Object.entries(missing).flatMap(([identifier, scopes]) => {
    const api = apis.find((candidate) => candidate.identifier === identifier);
    return scopes.map((scope) => {
      const description = api?.scopes.find((known) => known.name === scope)?.description;
      return api && description ? `${api.name}: ${description}` : t('scope.unknown', { scope });
    });
  });
}

/** `sub` is left out: every sign-in releases it, and the openid scope already says so in plain words. */
export function describeClaims(claims: readonly string[], t: Translate): string[] {
  return claims
    .filter((claim) => claim !== 'sub')
    .map((claim) => {
      const key = known(CLAIMS, claim);
      return key ? t(key) : t('claim.unknown', { claim });
    });
}
