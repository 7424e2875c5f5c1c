import { AppError, NotFoundError } from '../errors.ts';
import { OIDC_SCOPES } from '../oidc/scopes.ts';
import type { Db } from '../storage/postgres/db.ts';
import type { ApiRow, ApiScope, ApiTokenFormat } from '../storage/postgres/database.ts';
import {
  deleteApi,
  findApiByIdentifier,
  findApisByIdentifiers,
  findClientsAllowedApi,
  insertApi,
  listApis as listApiRows,
  removeApiFromClients,
  setClientApiScope,
  updateApiRow,
} from '../storage/postgres/apis.queries.ts';

export const TOKEN_FORMATS = ['jwt', 'opaque'] as const;
/**
 * Bounds of an API's access-token lifetime. A retired signing key stays in JWKS for the longest lifetime
 * of the JWT APIs' tokens too (oidc/keys.ts), so each one verifies for its whole life.
 */
export const MIN_TTL_SECONDS = 60;
export const MAX_TTL_SECONDS = 86_400;
/** The OIDC scopes (`roles` among them) are the provider's own; an API defining one would make it ambiguous. */
const RESERVED_SCOPES = new Set<string>(OIDC_SCOPES);
/** RFC 6749 §3.3 scope-token. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** What an operator asks for with `gatehouse api add`. */
export interface ApiInput {
  identifier: string;
  name: string;
  /** "name" or "name description": a scope-token has no spaces, so the first space ends the name. */
  scopes: readonly string[];
  format?: string | undefined;
  ttlSeconds?: number | undefined;
  /** False: users' tokens get the requested scopes whatever their permissions (default true). */
  rbac?: boolean | undefined;
}

/** An API as shown to operators and used by the provider. */
export interface ApiView {
  identifier: string;
  name: string;
  scopes: ApiScope[];
  token_format: ApiTokenFormat;
  token_ttl_seconds: number;
  rbac: boolean;
  created_at: string;
  updated_at: string;
}

/** The input cannot make a valid API; `problems` lists every reason at once. */
export class InvalidApiError extends AppError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(400, 'invalid_api', `invalid API:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.problems = problems;
  }
}

export class ApiExistsError extends AppError {
  constructor(identifier: string) {
    super(409, 'api_exists', `an API with identifier "${identifier}" already exists`);
  }
}

/**
 * RFC 8707 §2: an absolute URI without a fragment (and, as it recommends, without a query). https, or
 * http on loopback for development. Compared exactly as written: it is the `aud` resource servers check.
 */
export function checkApiIdentifier(identifier: string): string[] {
  if (identifier.length > 512 || /\s/.test(identifier)) return [`identifier "${identifier}": must be a URI of at most 512 characters without spaces`];
  const parsed = URL.parse(identifier);
  if (!parsed) return [`identifier "${identifier}": must be an absolute URI such as https://api.example.com`];
  if (identifier.includes('#')) return [`identifier "${identifier}": must not have a fragment (RFC 8707)`];
  if (parsed.search) return [`identifier "${identifier}": must not have a query (RFC 8707)`];
  if (parsed.protocol === 'http:' && !LOOPBACK.has(parsed.hostname)) return [`identifier "${identifier}": http is allowed only on loopback; use https`];
  if (!['https:', 'http:'].includes(parsed.protocol)) return [`identifier "${identifier}": must be an https URI`];
  if (parsed.username || parsed.password) return [`identifier "${identifier}": must not carry a user name or password`];
  return [];
}

function parseScope(text: string, problems: string[]): ApiScope | undefined {
  const trimmed = text.trim();
  const space = trimmed.search(/\s/);
  const name = space === -1 ? trimmed : trimmed.slice(0, space);
  const description = space === -1 ? '' : trimmed.slice(space + 1).trim();
  if (!SCOPE_TOKEN.test(name)) {
    problems.push(`scope "${name}": must be 1-128 characters a scope can have (no spaces, quotes or backslashes)`);
    return undefined;
  }
  if (RESERVED_SCOPES.has(name)) {
    problems.push(`scope "${name}": is one of Gatehouse's own OpenID Connect scopes`);
    return undefined;
  }
  if (description.length > 200) problems.push(`scope "${name}": the description must be at most 200 characters`);
  return { name, description };
}

/**
 * Validates an operator's input.
 * @throws InvalidApiError listing every problem.
 */
export function buildApi(input: ApiInput, defaultTtlSeconds: number) {
  const problems = checkApiIdentifier(input.identifier);
  const name = input.name.trim();
  if (name.length === 0 || name.length > 200) problems.push('name must be 1-200 characters');
  if (input.scopes.length === 0) problems.push('an API needs at least one --scope');
  const scopes: ApiScope[] = [];
  for (const text of input.scopes) {
    const scope = parseScope(text, problems);
    if (!scope) continue;
    if (scopes.some((known) => known.name === scope.name)) problems.push(`scope "${scope.name}": listed twice`);
    else scopes.push(scope);
  }
  const format = input.format ?? 'jwt';
  if (!(TOKEN_FORMATS as readonly string[]).includes(format)) problems.push(`format "${format}" is not one of ${TOKEN_FORMATS.join(', ')}`);
  const ttl = input.ttlSeconds ?? Math.min(Math.max(defaultTtlSeconds, MIN_TTL_SECONDS), MAX_TTL_SECONDS);
  if (!Number.isInteger(ttl) || ttl < MIN_TTL_SECONDS || ttl > MAX_TTL_SECONDS) {
    problems.push(`ttl must be a whole number of seconds from ${MIN_TTL_SECONDS} to ${MAX_TTL_SECONDS}`);
  }
  if (problems.length > 0) throw new InvalidApiError(problems);
  return { identifier: input.identifier, name, scopes, tokenFormat: format as ApiTokenFormat, tokenTtlSeconds: ttl, rbac: input.rbac ?? true };
}

export function toApiView(row: ApiRow): ApiView {
  return {
    identifier: row.identifier,
    name: row.name,
    scopes: row.scopes.map(({ name, description }) => ({ name, description })),
    token_format: row.token_format,
    token_ttl_seconds: row.token_ttl_seconds,
    rbac: row.rbac,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

/** @throws InvalidApiError for bad input; ApiExistsError when the identifier is taken. */
export async function addApi(db: Db, input: ApiInput, defaultTtlSeconds: number): Promise<ApiView> {
  const api = buildApi(input, defaultTtlSeconds);
  if (await findApiByIdentifier(db, api.identifier)) throw new ApiExistsError(api.identifier);
  try {
    return toApiView(await insertApi(db, api));
  } catch (error) {
    // Another process registered the same identifier between the check and the insert.
    if ((error as { code?: unknown }).code === '23505') throw new ApiExistsError(api.identifier);
    throw error;
  }
}

export async function listApis(db: Db): Promise<ApiView[]> {
  return (await listApiRows(db)).map(toApiView);
}

/** @throws NotFoundError when there is no such API. */
export async function showApi(db: Db, identifier: string): Promise<ApiView> {
  const row = await findApiByIdentifier(db, identifier);
  if (!row) throw new NotFoundError(`no API with identifier "${identifier}"`);
  return toApiView(row);
}

/**
 * Deletes the API and takes it out of every client's allowed APIs (returned, for the audit trail).
 * Access tokens already issued for it stay valid until they expire: a JWT is checked by the resource
 * server alone. Running servers stop issuing new ones within their lookup cache (oidc/resource-servers.ts).
 * @throws NotFoundError when there is no such API.
 */
export async function removeApi(db: Db, identifier: string): Promise<{ clients: string[] }> {
  if (!(await findApiByIdentifier(db, identifier))) throw new NotFoundError(`no API with identifier "${identifier}"`);
  await deleteApi(db, identifier);
  return { clients: await removeApiFromClients(db, identifier) };
}

/** What `gatehouse api update` changes; what is undefined stays. `scopes` replaces the whole list. */
export type ApiChanges = Partial<Pick<ApiInput, 'name' | 'scopes' | 'format' | 'ttlSeconds' | 'rbac'>>;

/** One changed field, before and after, for the audit trail and the operator's output. */
export type ApiChangeLog = Record<string, { from: unknown; to: unknown }>;

export interface ApiUpdate {
  api: ApiView;
  changes: ApiChangeLog;
  /** Clients whose `api_scope` lost a scope the API no longer defines. */
  clients: string[];
}

function scopeText(scope: ApiScope): string {
  return scope.description ? `${scope.name} ${scope.description}` : scope.name;
}

/**
 * Changes an API, validated exactly as `api add` validates (the merged result goes through buildApi).
 * A scope taken off the API is also taken out of the `api_scope` of every client allowed the API
 * (unless another API that client is allowed defines the same name), in the caller's transaction, as
 * `api remove` takes the API off its clients: otherwise a scope added back later under the same name
 * would silently return to client_credentials clients that were given the old one.
 * Running servers see the change within their lookup cache (API_CACHE_SECONDS, oidc/resource-servers.ts).
 * @throws NotFoundError when there is no such API; InvalidApiError for bad input.
 */
export async function updateApi(db: Db, identifier: string, changes: ApiChanges): Promise<ApiUpdate> {
  const row = await findApiByIdentifier(db, identifier);
  if (!row) throw new NotFoundError(`no API with identifier "${identifier}"`);
  const before = toApiView(row);
  const api = buildApi(
    {
      identifier,
      name: changes.name ?? before.name,
      scopes: changes.scopes ?? before.scopes.map(scopeText),
      format: changes.format ?? before.token_format,
      ttlSeconds: changes.ttlSeconds ?? before.token_ttl_seconds,
      rbac: changes.rbac ?? before.rbac,
    },
    before.token_ttl_seconds,
  );
  const log: ApiChangeLog = {};
  const note = (field: string, from: unknown, to: unknown) => {
    if (JSON.stringify(from) !== JSON.stringify(to)) log[field] = { from, to };
  };
  note('name', before.name, api.name);
  note('scopes', before.scopes, api.scopes);
  note('format', before.token_format, api.tokenFormat);
  note('ttl_seconds', before.token_ttl_seconds, api.tokenTtlSeconds);
  note('rbac', before.rbac, api.rbac);
  const updated = toApiView(await updateApiRow(db, api));

  const kept = new Set(api.scopes.map((scope) => scope.name));
  const dropped = before.scopes.map((scope) => scope.name).filter((name) => !kept.has(name));
  const clients: string[] = [];
  if (dropped.length > 0) {
    for (const client of await findClientsAllowedApi(db, identifier)) {
      const metadata = client.metadata as { allowed_apis?: string[]; api_scope?: string };
      const given = metadata.api_scope?.split(' ').filter(Boolean) ?? [];
      if (!given.some((scope) => dropped.includes(scope))) continue;
      const others = await findApisByIdentifiers(db, (metadata.allowed_apis ?? []).filter((other) => other !== identifier));
      const definedElsewhere = new Set(others.flatMap((other) => other.scopes.map((scope) => scope.name)));
      const remaining = given.filter((scope) => !dropped.includes(scope) || definedElsewhere.has(scope));
      if (remaining.length === given.length) continue;
      await setClientApiScope(db, client.id, remaining.join(' '));
      clients.push(client.id);
    }
  }
  return { api: updated, changes: log, clients };
}
