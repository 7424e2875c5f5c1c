import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/load.ts';
import type { AdapterFactory } from '../storage/oidc-adapter.ts';
import type { PrivateJwk } from './keys.ts';
import type { FindAccount } from './find-account.ts';
import { createInteractionPolicy, loadExistingGrant, sessionTtl, type Clock } from './policy.ts';
import { SUPPORTED_LOCALES } from '../i18n/locales.ts';
import { ACR_VALUES } from './acr.ts';
import { mayIntrospect, resourceIndicatorsFeature, type ApiDirectory } from './resource-servers.ts';
import { OIDC_SCOPES } from './scopes.ts';

/**
 * Cookie names. Over https the session cookie takes the `__Host-` prefix (Secure, Path=/, no Domain:
 * no subdomain can set or shadow it) and the path-scoped interaction cookies `__Secure-` (SES-03).
 * Browsers refuse prefixed cookies without Secure, so a plain-http development issuer uses plain names.
 */
export function cookieNames(https: boolean) {
  return https
    ? { session: '__Host-gh_session', interaction: '__Secure-gh_interaction', resume: '__Secure-gh_resume' }
    : { session: 'gh_session', interaction: 'gh_interaction', resume: 'gh_resume' };
}

export interface ProviderPages {
  /** Renders oidc-provider's error pages through our layout. */
  renderError(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }, error: Error): Promise<void>;
  logoutSource(ctx: KoaContextWithOIDC, form: string): Promise<void>;
  postLogoutSuccessSource(ctx: KoaContextWithOIDC): Promise<void>;
}

export interface ProviderDependencies {
  adapter: AdapterFactory;
  clock: Clock;
  findAccount: FindAccount;
  /** Whether an account has a second factor it could be asked for (voluntary acr_values step-up). */
  hasSecondFactor(accountId: string): Promise<boolean>;
  jwks: { keys: PrivateJwk[] };
  pages: ProviderPages;
  /** The registered APIs (resource servers) clients ask for with `resource` (RFC 8707). */
  apis: ApiDirectory;
}

/** Standard claims released per scope (OIDC Core §5.4). */
export const CLAIMS = {
  sid: null,
  // Every ID token says how and when the user signed in (truthful acr/amr: what the sign-in used). A code-flow
  // ID token carries only this scope's claims (conformIdTokenClaims, OIDC Core §5.4); roles and permissions are
  // listed here too so apps read them from the ID token, and find-account.ts releases them only when the
  // roles scope was granted.
  openid: ['sub', 'acr', 'amr', 'auth_time', 'roles', 'permissions'],
  email: ['email', 'email_verified'],
  profile: ['name'],
  // The account's roles and their permissions as this client may see them (find-account.ts).
  roles: ['roles', 'permissions'],
} as const;

/**
 * Our Config -> oidc-provider options. Everything protocol-relevant is decided here: PKCE S256 for every
 * client, code flow only (no implicit, no password grant), refresh-token rotation, and the dev
 * interactions switched off (we serve our own pages).
 */
export function createProviderConfiguration(config: Config, deps: ProviderDependencies): Configuration {
  const https = config.issuer.startsWith('https:');
  return {
    adapter: deps.adapter as unknown as Configuration['adapter'],
    findAccount: deps.findAccount,
    jwks: deps.jwks as Configuration['jwks'],
    claims: CLAIMS as unknown as Configuration['claims'],
    scopes: [...OIDC_SCOPES],
    responseTypes: ['code'],
    acrValues: ACR_VALUES,
    pkce: { required: () => true },
    // RFC 9700 §4.14.2: a public client's refresh token rotates at every use, so a stolen copy shows up at its
    // next use (oidc-provider then revokes the grant); a confidential client's is bound to its authentication
    // and does not rotate (FAPI 2.0 advises against it), so a token response lost on the way never ends its
    // grant: the retry with the same refresh token works (AS-07, REL-F5).
    rotateRefreshToken: (ctx) => {
      const { Client: client, RefreshToken: refreshToken } = ctx.oidc.entities;
      return client?.clientAuthMethod === 'none' && !refreshToken?.isSenderConstrained();
    },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    cookies: {
      names: cookieNames(https),
      keys: [...config.cookieSecrets],
      long: { httpOnly: true, sameSite: 'lax', secure: https, signed: true },
      short: { httpOnly: true, sameSite: 'lax', secure: https, signed: true },
    },
    ttl: {
      // An API's own lifetime (`gatehouse api add --ttl`) wins for its tokens.
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ttl.accessToken,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ttl.accessToken,
      IdToken: config.ttl.idToken,
      RefreshToken: config.ttl.refreshToken,
      Session: sessionTtl(config.reauth, config.ttl.session, deps.clock),
      Interaction: config.ttl.interaction,
      Grant: config.ttl.refreshToken,
      AuthorizationCode: 60,
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: createInteractionPolicy(config.reauth, { required: config.accounts.mfaRequired, hasSecondFactor: deps.hasSecondFactor }, deps.clock),
    },
    loadExistingGrant,
    // Set by `gatehouse client add`: --first-party skips the consent page, --mfa-required makes every
    // sign-in to that client use a second factor (policy.ts), --api lists the APIs it may ask for and
    // api_scope holds the API scopes of --scope (resource-servers.ts); `scope` keeps the OIDC ones, since
    // oidc-provider accepts only its own scopes there; --introspects sets resource_server_for, the APIs
    // whose tokens the client may introspect (resource-servers.ts).
    extraClientMetadata: {
      properties: ['first_party', 'mfa_required', 'allowed_apis', 'api_scope', 'resource_server_for'],
      validator(_ctx, key, value) {
        if (value === undefined) return;
        if (key === 'api_scope') {
          if (typeof value !== 'string') throw new Error(`${key} must be a string`);
        } else if (key === 'allowed_apis' || key === 'resource_server_for') {
          if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new Error(`${key} must be an array of strings`);
        } else if (typeof value !== 'boolean') throw new Error(`${key} must be a boolean`);
      },
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // AS-11: the client the token was issued to, or the registered resource server of its audience;
        // anyone else gets {"active": false} (RFC 7662 §2.2), as for an unknown token.
        allowedPolicy: async (_ctx, client, token) => mayIntrospect(client, token),
      },
      revocation: {
        enabled: true,
        // Only the client a token was issued to may revoke it (RFC 7009 §2.1).
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: deps.pages.logoutSource,
        postLogoutSuccessSource: deps.pages.postLogoutSuccessSource,
      },
      backchannelLogout: { enabled: true },
      userinfo: { enabled: true },
      // RPs may make an acr essential (OIDC Core §5.5.1.1); step-up then asks for the missing factor.
      claimsParameter: { enabled: true },
      resourceIndicators: resourceIndicatorsFeature(deps.apis),
    },
    renderError: deps.pages.renderError as unknown as Configuration['renderError'],
    discovery: { service_documentation: `${config.issuer}/`, ui_locales_supported: [...SUPPORTED_LOCALES] },
  };
}
