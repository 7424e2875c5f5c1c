import { randomBytes } from 'node:crypto';
import { AppError, NotFoundError } from '../errors.ts';
import type { Db } from '../storage/postgres/db.ts';
import type { ClientRow } from '../storage/postgres/database.ts';
import { deleteClient, findClientById, insertClient, listClients as listClientRows } from '../storage/postgres/clients.queries.ts';
import { findApisByIdentifiers } from '../storage/postgres/apis.queries.ts';
import { isOidcScope } from '../oidc/scopes.ts';
import { checkApiIdentifier } from './apis.ts';
import { checkRedirectUri, usesCustomScheme } from './redirect-uris.ts';

export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** What an operator asks for; everything but `id` has a safe default. */
export interface ClientInput {
  id: string;
  /** Confidential clients only; generated (32 random bytes, base64url) when absent. */
  secret?: string | undefined;
  redirectUris?: readonly string[] | undefined;
  postLogoutRedirectUris?: readonly string[] | undefined;
  /** Where Gatehouse POSTs a signed logout token when the user's session ends (OIDC Back-Channel Logout). */
  backchannelLogoutUri?: string | undefined;
  /** Default: authorization_code and refresh_token. */
  grantTypes?: readonly string[] | undefined;
  authMethod?: string | undefined;
  /** Space-separated; default "openid email profile" (+ offline_access with refresh_token). */
  scope?: string | undefined;
  /** No secret, token_endpoint_auth_method none (SPAs and native apps). */
  public?: boolean | undefined;
  /** application_type native (RFC 8252); implied by a custom-scheme redirect URI. */
  native?: boolean | undefined;
  name?: string | undefined;
  /** Skips the consent page (operator-vouched first-party apps only). */
  firstParty?: boolean | undefined;
  /** Every sign-in to this client needs a second factor (accounts without one enrol during sign-in). */
  mfaRequired?: boolean | undefined;
  /** Shown on the consent page: logo, home page, privacy policy, terms of service (https). */
  logoUri?: string | undefined;
  clientUri?: string | undefined;
  policyUri?: string | undefined;
  tosUri?: string | undefined;
  /** Identifiers of registered APIs the client may ask for with `resource` (RFC 8707). */
  apis?: readonly string[] | undefined;
  /** Identifiers of registered APIs this client is the resource server of: it may introspect their tokens. */
  introspects?: readonly string[] | undefined;
}

const PAGE_LINKS = [
  ['logoUri', 'logo_uri', 'logo URI'],
  ['clientUri', 'client_uri', 'client URI'],
  ['policyUri', 'policy_uri', 'policy URI'],
  ['tosUri', 'tos_uri', 'terms of service URI'],
] as const;

/** Links shown to users: https, or http on loopback for development. */
function checkPageLink(uri: string, label: string): string[] {
  const parsed = URL.parse(uri);
  if (!parsed || !['https:', 'http:'].includes(parsed.protocol)) return [`${label} "${uri}": must be an https URL`];
  if (parsed.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(parsed.hostname)) {
    return [`${label} "${uri}": http is allowed only on loopback; use https`];
  }
  return [];
}

/** oidc-provider client metadata, exactly as stored in clients.metadata. */
export interface ClientMetadata {
  client_id: string;
  client_name?: string;
  application_type: 'web' | 'native';
  client_secret?: string;
  token_endpoint_auth_method: AuthMethod;
  grant_types: GrantType[];
  response_types: string[];
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  backchannel_logout_uri?: string;
  backchannel_logout_session_required?: boolean;
  first_party?: boolean;
  mfa_required?: boolean;
  logo_uri?: string;
  client_uri?: string;
  policy_uri?: string;
  tos_uri?: string;
  /** The APIs the client may ask for (oidc/resource-servers.ts refuses the others with invalid_target). */
  allowed_apis?: string[];
  /**
   * The OpenID Connect scopes of --scope (oidc-provider accepts only its own scopes in `scope`). Absent
   * only for a client_credentials client given API scopes alone: no user, so no OIDC scope means anything.
   */
  scope?: string;
  /** The API scopes of --scope: all a client_credentials token for one of its APIs may carry. */
  api_scope?: string;
  /**
   * The APIs whose resource server this client is (`--introspects`): besides its own tokens, it may
   * introspect access tokens whose audience is one of them (AS-11, oidc/resource-servers.ts).
   */
  resource_server_for?: string[];
}

/** A client as shown to operators: the secret never leaves the database after `add`. */
export type ClientView = Omit<ClientMetadata, 'client_secret'> & { has_secret: boolean; created_at: string; updated_at: string };

/** The input cannot make a valid client; `problems` lists every reason at once. */
export class InvalidClientError extends AppError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(400, 'invalid_client_metadata', `invalid client:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.problems = problems;
  }
}

export class ClientExistsError extends AppError {
  constructor(id: string) {
    super(409, 'client_exists', `a client with id "${id}" already exists`);
  }
}

const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** RFC 6749 §3.3 scope-token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
/** A hand-picked secret is the client's only credential (and its HMAC key for HS* algorithms): make it long. */
const MIN_SECRET_LENGTH = 32;

export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

function includes<T extends string>(values: readonly T[], value: string): value is T {
  return (values as readonly string[]).includes(value);
}

/**
 * Validates an operator's input and turns it into oidc-provider metadata. A confidential client without
 * a given secret gets a generated one (in `client_secret`; the caller shows it once).
 * @throws InvalidClientError listing every problem.
 */
export function buildClientMetadata(input: ClientInput): ClientMetadata {
  const problems: string[] = [];
  if (!ID_PATTERN.test(input.id)) problems.push('id must be 1-128 characters of A-Z a-z 0-9 . _ : -');

  const authMethod = input.authMethod ?? (input.public ? 'none' : 'client_secret_basic');
  if (!includes(AUTH_METHODS, authMethod)) problems.push(`auth method "${authMethod}" is not one of ${AUTH_METHODS.join(', ')}`);
  const isPublic = Boolean(input.public) || authMethod === 'none';
  if (input.public && authMethod !== 'none') problems.push(`a public client authenticates with "none", not "${authMethod}"`);
  if (isPublic && input.secret !== undefined) problems.push('a public client has no secret');
  if (!isPublic && input.secret !== undefined && input.secret.length < MIN_SECRET_LENGTH) {
    problems.push(`a client secret needs at least ${MIN_SECRET_LENGTH} characters (leave it out to generate one)`);
  }

  const grantTypes = [...new Set(input.grantTypes ?? ['authorization_code', 'refresh_token'])];
  const grants = grantTypes.filter((grant): grant is GrantType => includes(GRANT_TYPES, grant));
  for (const grant of grantTypes) {
    if (!includes(GRANT_TYPES, grant)) problems.push(`grant type "${grant}" is not one of ${GRANT_TYPES.join(', ')}`);
  }
  if (grantTypes.length === 0) problems.push('at least one grant type is needed');
  const codeFlow = grants.includes('authorization_code');
  if (grants.includes('client_credentials') && isPublic) problems.push('client_credentials needs a confidential client (not --public)');
  if (grants.includes('refresh_token') && !codeFlow) problems.push('refresh_token is only issued with authorization_code');

  const redirectUris = [...new Set(input.redirectUris ?? [])];
  const postLogoutUris = [...new Set(input.postLogoutRedirectUris ?? [])];
  if (codeFlow && redirectUris.length === 0) problems.push('authorization_code needs at least one redirect URI');
  if (!codeFlow && redirectUris.length + postLogoutUris.length > 0) {
    problems.push('redirect URIs are only used by authorization_code clients');
  }
  const native = Boolean(input.native) || [...redirectUris, ...postLogoutUris].some(usesCustomScheme);
  if (native && !isPublic) problems.push('native apps (--native or a custom-scheme URI) cannot keep a secret: add --public');
  for (const uri of redirectUris) problems.push(...checkRedirectUri(uri, 'redirect URI', { native }));
  for (const uri of postLogoutUris) problems.push(...checkRedirectUri(uri, 'post-logout redirect URI', { native }));
  const backchannel = input.backchannelLogoutUri;
  if (backchannel !== undefined) {
    // Server-to-server: the same exact-URL rules as a web redirect URI, whatever kind of app the client is.
    problems.push(...checkRedirectUri(backchannel, 'back-channel logout URI', { native: false }));
    if (usesCustomScheme(backchannel)) problems.push(`back-channel logout URI "${backchannel}": must be http(s)`);
  }

  const defaultScope = `openid email profile${grants.includes('refresh_token') ? ' offline_access' : ''}`;
  const scopes = [...new Set((input.scope ?? defaultScope).split(/\s+/).filter(Boolean))];
  if (scopes.length === 0) problems.push('scope must name at least one scope');
  for (const scope of scopes) if (!SCOPE_TOKEN.test(scope)) problems.push(`scope "${scope}" has characters a scope cannot have`);
  const oidcScopes = scopes.filter(isOidcScope);
  const apiScopes = scopes.filter((scope) => !isOidcScope(scope));
  if (codeFlow && scopes.length > 0 && oidcScopes.length === 0) problems.push('an authorization_code client needs at least one OpenID Connect scope (openid, email, profile, offline_access)');
  const name = input.name?.trim();
  if (name !== undefined && (name.length === 0 || name.length > 200)) problems.push('name must be 1-200 characters');

  const links: Record<string, string> = {};
  for (const [inputKey, metadataKey, label] of PAGE_LINKS) {
    const uri = input[inputKey];
    if (uri === undefined) continue;
    problems.push(...checkPageLink(uri, label));
    links[metadataKey] = uri;
  }

  const apis = [...new Set(input.apis ?? [])];
  for (const api of apis) problems.push(...checkApiIdentifier(api).map((problem) => `API ${problem}`));
  const served = [...new Set(input.introspects ?? [])];
  for (const api of served) problems.push(...checkApiIdentifier(api).map((problem) => `--introspects ${problem}`));
  // Introspection needs client authentication: a public client could not prove it is the resource server.
  if (served.length > 0 && isPublic) problems.push('--introspects needs a confidential client (not --public)');
  if (apiScopes.length > 0 && apis.length === 0) {
    problems.push(`scope "${apiScopes[0]}" is not an OpenID Connect scope: an API scope needs the API given with --api`);
  }

  if (problems.length > 0) throw new InvalidClientError(problems);
  return {
    ...links,
    ...(input.firstParty ? { first_party: true } : {}),
    ...(input.mfaRequired ? { mfa_required: true } : {}),
    client_id: input.id,
    ...(name ? { client_name: name } : {}),
    application_type: native ? 'native' : 'web',
    ...(isPublic ? {} : { client_secret: input.secret ?? generateClientSecret() }),
    token_endpoint_auth_method: authMethod as AuthMethod,
    grant_types: grants,
    response_types: codeFlow ? ['code'] : [],
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogoutUris,
    ...(backchannel === undefined ? {} : { backchannel_logout_uri: backchannel, backchannel_logout_session_required: true }),
    ...(apis.length > 0 ? { allowed_apis: apis } : {}),
    ...(oidcScopes.length > 0 ? { scope: oidcScopes.join(' ') } : {}),
    ...(apiScopes.length > 0 ? { api_scope: apiScopes.join(' ') } : {}),
    ...(served.length > 0 ? { resource_server_for: served } : {}),
  };
}

/** Fixed key order: jsonb stores keys in its own order, and operators read `show` top-down. */
export function toClientView(row: ClientRow): ClientView {
  const metadata = row.metadata as unknown as ClientMetadata;
  return {
    client_id: metadata.client_id,
    ...(metadata.client_name === undefined ? {} : { client_name: metadata.client_name }),
    application_type: metadata.application_type,
    token_endpoint_auth_method: metadata.token_endpoint_auth_method,
    has_secret: typeof metadata.client_secret === 'string' && metadata.client_secret.length > 0,
    grant_types: metadata.grant_types,
    response_types: metadata.response_types,
    redirect_uris: metadata.redirect_uris,
    post_logout_redirect_uris: metadata.post_logout_redirect_uris,
    ...(metadata.backchannel_logout_uri === undefined ? {} : { backchannel_logout_uri: metadata.backchannel_logout_uri }),
    ...(metadata.first_party ? { first_party: true } : {}),
    ...(metadata.mfa_required ? { mfa_required: true } : {}),
    ...Object.fromEntries(PAGE_LINKS.filter(([, key]) => metadata[key] !== undefined).map(([, key]) => [key, metadata[key]])),
    ...(metadata.allowed_apis?.length ? { allowed_apis: metadata.allowed_apis } : {}),
    ...(metadata.scope === undefined ? {} : { scope: metadata.scope }),
    ...(metadata.api_scope ? { api_scope: metadata.api_scope } : {}),
    ...(metadata.resource_server_for?.length ? { resource_server_for: metadata.resource_server_for } : {}),
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

/**
 * Registers a client. Every API it may ask for must be registered already. `generatedSecret` is set only when the secret was made here: the one moment it
 * may be shown, since list/show never return it.
 * @throws InvalidClientError for bad input; ClientExistsError when the id is taken.
 */
export async function addClient(db: Db, input: ClientInput): Promise<{ client: ClientView; generatedSecret: string | undefined }> {
  const metadata = buildClientMetadata(input);
  const allowed = metadata.allowed_apis ?? [];
  const served = metadata.resource_server_for ?? [];
  const registered = await findApisByIdentifiers(db, [...new Set([...allowed, ...served])]);
  const problems = [...new Set([...allowed, ...served])]
    .filter((api) => !registered.some((row) => row.identifier === api))
    .map((api) => `API "${api}" is not registered (see \`gatehouse api list\`)`);
  const defined = new Set(registered.filter((api) => allowed.includes(api.identifier)).flatMap((api) => api.scopes.map((scope) => scope.name)));
  for (const scope of metadata.api_scope?.split(' ') ?? []) {
    if (!defined.has(scope)) problems.push(`scope "${scope}" is neither an OpenID Connect scope nor defined by an API given with --api`);
  }
  if (problems.length > 0) throw new InvalidClientError(problems);
  if (await findClientById(db, metadata.client_id)) throw new ClientExistsError(metadata.client_id);
  let row: ClientRow;
  try {
    row = await insertClient(db, metadata.client_id, { ...metadata });
  } catch (error) {
    // Another process registered the same id between the check and the insert.
    if ((error as { code?: unknown }).code === '23505') throw new ClientExistsError(metadata.client_id);
    throw error;
  }
  const generatedSecret = input.secret === undefined ? metadata.client_secret : undefined;
  return { client: toClientView(row), generatedSecret };
}

export async function listClients(db: Db): Promise<ClientView[]> {
  return (await listClientRows(db)).map(toClientView);
}

/** @throws NotFoundError when there is no such client. */
export async function showClient(db: Db, id: string): Promise<ClientView> {
  const row = await findClientById(db, id);
  if (!row) throw new NotFoundError(`no client with id "${id}"`);
  return toClientView(row);
}

/** @throws NotFoundError when there is no such client. */
export async function removeClient(db: Db, id: string): Promise<void> {
  // Looked up first rather than trusting the delete's row count, which the embedded driver reports as 0.
  if (!(await findClientById(db, id))) throw new NotFoundError(`no client with id "${id}"`);
  await deleteClient(db, id);
}
