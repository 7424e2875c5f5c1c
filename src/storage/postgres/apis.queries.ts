import { sql } from 'kysely';
import { noteChanged } from './change-feed.ts';
import { CLIENTS_CHANGED } from './clients.queries.ts';
import type { Db } from './db.ts';
import type { ApiRow, ApiScope, ApiTokenFormat } from './database.ts';

export interface NewApi {
  identifier: string;
  name: string;
  scopes: readonly ApiScope[];
  tokenFormat: ApiTokenFormat;
  tokenTtlSeconds: number;
  rbac: boolean;
}

export function findApiByIdentifier(db: Db, identifier: string): Promise<ApiRow | undefined> {
  return db.selectFrom('apis').selectAll().where('identifier', '=', identifier).executeTakeFirst();
}

export function findApisByIdentifiers(db: Db, identifiers: readonly string[]): Promise<ApiRow[]> {
  if (identifiers.length === 0) return Promise.resolve([]);
  return db.selectFrom('apis').selectAll().where('identifier', 'in', [...identifiers]).execute();
}

/** The longest lifetime of any API's JWT access tokens (0 without such APIs): retired keys stay in JWKS that long. */
export async function longestJwtApiTokenTtl(db: Db): Promise<number> {
  const row = await db
    .selectFrom('apis')
    .select((eb) => eb.fn.max('token_ttl_seconds').as('longest'))
    .where('token_format', '=', 'jwt')
    .executeTakeFirst();
  return Number(row?.longest ?? 0);
}

export function listApis(db: Db): Promise<ApiRow[]> {
  return db.selectFrom('apis').selectAll().orderBy('identifier').execute();
}

export function insertApi(db: Db, api: NewApi): Promise<ApiRow> {
  return db
    .insertInto('apis')
    .values({
      identifier: api.identifier,
      name: api.name,
      scopes: JSON.stringify(api.scopes),
      token_format: api.tokenFormat,
      token_ttl_seconds: api.tokenTtlSeconds,
      rbac: api.rbac,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteApi(db: Db, identifier: string): Promise<void> {
  await db.deleteFrom('apis').where('identifier', '=', identifier).execute();
}

/**
 * Takes the API out of every client's `allowed_apis`, so that an API registered again later under the
 * same URI is not open to the clients of the old one. Returns the ids of the clients changed.
 */
export async function removeApiFromClients(db: Db, identifier: string): Promise<string[]> {
  const changed = new Set<string>();
  // The same for the resource servers registered for it (`resource_server_for`, AS-11 introspection).
  for (const key of ['allowed_apis', 'resource_server_for']) {
    const rows = await db
      .updateTable('clients')
      .set({
        metadata: sql`jsonb_set(metadata, ${`{${key}}`}::text[], (metadata->${key}::text) - ${identifier}::text)`,
        updated_at: new Date(),
      })
      .where(sql<boolean>`metadata->${key}::text @> jsonb_build_array(${identifier}::text)`)
      .returning('id')
      .execute();
    for (const row of rows) changed.add(row.id);
  }
  noteChanged(db, CLIENTS_CHANGED); // this process's client cache, before the notification comes back
  return [...changed].sort();
}

export function updateApiRow(db: Db, api: NewApi): Promise<ApiRow> {
  return db
    .updateTable('apis')
    .set({
      name: api.name,
      scopes: JSON.stringify(api.scopes),
      token_format: api.tokenFormat,
      token_ttl_seconds: api.tokenTtlSeconds,
      rbac: api.rbac,
      updated_at: new Date(),
    })
    .where('identifier', '=', api.identifier)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The clients allowed this API (`allowed_apis` names it), with their metadata. */
export function findClientsAllowedApi(db: Db, identifier: string): Promise<{ id: string; metadata: unknown }[]> {
  return db
    .selectFrom('clients')
    .select(['id', 'metadata'])
    .where(sql<boolean>`metadata->'allowed_apis' @> jsonb_build_array(${identifier}::text)`)
    .orderBy('id')
    .execute();
}

/** Sets a client's `api_scope` (space-separated), or drops the key when no API scope is left. */
export async function setClientApiScope(db: Db, clientId: string, apiScope: string): Promise<void> {
  await db
    .updateTable('clients')
    .set({
      metadata: apiScope ? sql`jsonb_set(metadata, '{api_scope}', to_jsonb(${apiScope}::text))` : sql`metadata - 'api_scope'`,
      updated_at: new Date(),
    })
    .where('id', '=', clientId)
    .execute();
  noteChanged(db, CLIENTS_CHANGED);
}
