import { errors, type Client, type Configuration, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import type { ApiRow } from '../storage/postgres/database.ts';
import type { GatehouseAccount } from './find-account.ts';

/** The part of a registered API the provider needs to issue its access tokens. */
export interface RegisteredApi {
  identifier: string;
  scopes: readonly string[];
  tokenFormat: 'jwt' | 'opaque';
  tokenTtlSeconds: number;
  /** A user's token gets only the API scopes their permissions name (`gatehouse api add --no-rbac` turns it off). */
  rbac: boolean;
}

export interface ApiDirectory {
  /** The API registered under exactly this identifier, or undefined. */
  find(identifier: string): Promise<RegisteredApi | undefined>;
}

/**
 * How long a running server keeps using what it read about an API (and that an identifier is unknown):
 * `gatehouse api add|remove` reaches running servers within this time. Without the cache every token
 * request naming a resource would read the apis table.
 */
export const API_CACHE_SECONDS = 30;
/** Unknown identifiers are cached too (a client sending made-up ones costs no query); bounded memory. */
const MAX_CACHED = 1_000;

/** Reads APIs through a small time-bounded cache. `load` is the database lookup (apis.queries.ts). */
export function createApiDirectory(
  load: (identifier: string) => Promise<ApiRow | undefined>,
  options: { cacheSeconds?: number; now?: () => number } = {},
): ApiDirectory {
  const { cacheSeconds = API_CACHE_SECONDS, now = Date.now } = options;
  const cache = new Map<string, { api: RegisteredApi | undefined; until: number }>();
  return {
    async find(identifier) {
      const hit = cache.get(identifier);
      if (hit && hit.until > now()) return hit.api;
      const row = await load(identifier);
      const api = row && {
        identifier: row.identifier,
        scopes: row.scopes.map((scope) => scope.name),
        tokenFormat: row.token_format,
        tokenTtlSeconds: row.token_ttl_seconds,
        rbac: row.rbac,
      };
      cache.delete(identifier);
      if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
      cache.set(identifier, { api, until: now() + cacheSeconds * 1000 });
      return api;
    },
  };
}

/** The APIs an operator allowed this client (`gatehouse client add --api URI`, metadata `allowed_apis`). */
function allowedApis(client: Client): readonly unknown[] {
  const value = client['allowed_apis'];
  return Array.isArray(value) ? value : [];
}

/**
 * RFC 8707 resource indicators backed by the apis table. A resource the client was not allowed, or that
 * is not registered, is refused with invalid_target (the same answer for both: a client learns nothing
 * about APIs it may not use). A client_credentials token carries only the API's scopes that the
 * client's --scope named (metadata `api_scope`); a user's token the API's scopes the user consented to
 * and, for an API with RBAC on, that the user's permissions name (global roles and this client's own).
 * oidc-provider asks for the resource server again when it issues each token, with the account loaded
 * (ctx.oidc.account: code exchange, refresh), and limits the token's scope to what is returned here, so
 * permissions are read at every issuance: a revoked role is gone from the next refresh's token. At the
 * authorization endpoint the account is not loaded yet and the API's scopes are not limited there; a
 * user without a permission still signs in and consents, and their token simply lacks the scope.
 * JWT access tokens follow RFC 9068 (oidc-provider sets typ at+jwt, aud, client_id, scope, sub, iat,
 * exp, jti) and are signed with the provider's RS256 key, so a resource server verifies them from JWKS.
 */
export function resourceIndicatorsFeature(apis: ApiDirectory): NonNullable<NonNullable<Configuration['features']>['resourceIndicators']> {
  return {
    enabled: true,
    // Only an explicit `resource` selects an API: a request without one keeps the opaque token for userinfo.
    defaultResource: async (_ctx, _client, oneOf) => oneOf,
    // The code exchange and refreshes need not repeat `resource`: the granted API is used.
    useGrantedResource: async () => true,
    async getResourceServerInfo(ctx: KoaContextWithOIDC, resourceIndicator: string, client: Client): Promise<ResourceServer> {
      if (!allowedApis(client).includes(resourceIndicator)) throw new errors.InvalidTarget();
      const api = await apis.find(resourceIndicator);
      if (!api) throw new errors.InvalidTarget();
      let scopes = [...api.scopes];
      if (ctx.oidc.params?.['grant_type'] === 'client_credentials') {
        const clientScopes = new Set(String(client['api_scope'] ?? '').split(' '));
        scopes = scopes.filter((scope) => clientScopes.has(scope));
      }
      const account = ctx.oidc.account as GatehouseAccount | undefined;
      if (api.rbac && account) {
        const { permissions } = await account.accessFor(client.clientId);
        scopes = scopes.filter((scope) => permissions.includes(scope));
      }
      return {
        scope: scopes.join(' '),
        audience: api.identifier,
        accessTokenTTL: api.tokenTtlSeconds,
        accessTokenFormat: api.tokenFormat,
        ...(api.tokenFormat === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
      };
    },
  };
}

/**
 * AS-11: who may introspect a token. The client it was issued to, or a client registered as the
 * resource server of the token's audience (`gatehouse client add --introspects URI`, metadata
 * `resource_server_for`), for every audience the token has. A token without an audience (one for
 * userinfo, a refresh token) only its owner: no resource server has a claim to it. Being a confidential
 * client is not enough: otherwise any app could read what other apps' tokens say about their users.
 */
export function mayIntrospect(client: Client, token: { clientId?: string | undefined; aud?: unknown }): boolean {
  if (token.clientId === client.clientId) return true;
  const audiences = typeof token.aud === 'string' ? [token.aud] : Array.isArray(token.aud) ? token.aud : [];
  const served = client['resource_server_for'];
  return audiences.length > 0 && Array.isArray(served) && audiences.every((audience) => served.includes(audience));
}
