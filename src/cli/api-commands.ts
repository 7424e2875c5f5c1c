import { addApi, listApis, removeApi, showApi, updateApi, type ApiChanges, type ApiUpdate, type ApiView } from '../admin/apis.ts';
import { UsageError } from '../errors.ts';
import type { ApiScope } from '../storage/postgres/database.ts';
import { API_CACHE_SECONDS } from '../oidc/resource-servers.ts';
import {
  noPositionals,
  onePositional,
  parseOptions,
  print,
  printJson,
  printListing,
  withAuditedAction,
  withDatabase,
  type CliIo,
} from './context.ts';

function describeApi(api: ApiView): string {
  const scopes = api.scopes.map((scope) => `  ${scope.name}${scope.description ? `  ${scope.description}` : ''}`);
  return [
    `identifier: ${api.identifier}`,
    `name: ${api.name}`,
    `token_format: ${api.token_format}`,
    `token_ttl_seconds: ${api.token_ttl_seconds}`,
    `rbac: ${api.rbac}`,
    `created_at: ${api.created_at}`,
    `updated_at: ${api.updated_at}`,
    'scopes:',
    ...scopes,
  ].join('\n');
}

/** A whole number of seconds, or a usage error (parseArgs gives strings). */
function parseTtl(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value)) throw new UsageError(`--ttl must be a whole number of seconds, not "${value}"`);
  return Number(value);
}

/** The options of `api add`; `api update` takes them all, and --rbac to turn the check back on. */
const API_OPTIONS = {
  id: { type: 'string' },
  name: { type: 'string' },
  scope: { type: 'string', multiple: true },
  format: { type: 'string' },
  ttl: { type: 'string' },
  'no-rbac': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

async function add(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, API_OPTIONS);
  noPositionals(positionals);
  if (values.id === undefined) throw new UsageError('api add needs --id URI');
  if (values.name === undefined) throw new UsageError('api add needs --name');
  const input = { identifier: values.id, name: values.name, scopes: values.scope ?? [], format: values.format, ttlSeconds: parseTtl(values.ttl), rbac: !values['no-rbac'] };
  const api = await withAuditedAction(
    io,
    ({ db, config }) => addApi(db, input, config.ttl.accessToken),
    (added) => ({
      type: 'admin_api_added',
      details: { api: added.identifier, scopes: added.scopes.map((scope) => scope.name), format: added.token_format, ttl_seconds: added.token_ttl_seconds, rbac: added.rbac },
    }),
  );
  if (values.json) printJson(io, api);
  else print(io, `added API ${api.identifier}\n${describeApi(api)}`);
  return 0;
}

/** Audit details are flat (audit/details.ts): the fields changed, then the new value of each, scopes as added and removed names. */
function updateDetails({ changes }: ApiUpdate): Record<string, string | number | boolean | string[]> {
  const details: Record<string, string | number | boolean | string[]> = { changed: Object.keys(changes) };
  for (const [field, { from, to }] of Object.entries(changes)) {
    if (field === 'scopes') {
      const before = (from as ApiScope[]).map((scope) => scope.name);
      const after = (to as ApiScope[]).map((scope) => scope.name);
      details['scopes_added'] = after.filter((name) => !before.includes(name));
      details['scopes_removed'] = before.filter((name) => !after.includes(name));
    } else details[field] = to as string | number | boolean;
  }
  return details;
}

async function update(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { ...API_OPTIONS, rbac: { type: 'boolean' } });
  noPositionals(positionals);
  if (values.id === undefined) throw new UsageError('api update needs --id URI');
  if (values.rbac && values['no-rbac']) throw new UsageError('give --rbac or --no-rbac, not both');
  const changes: ApiChanges = {
    ...(values.name === undefined ? {} : { name: values.name }),
    ...(values.scope === undefined ? {} : { scopes: values.scope }),
    ...(values.format === undefined ? {} : { format: values.format }),
    ...(values.ttl === undefined ? {} : { ttlSeconds: parseTtl(values.ttl) }),
    ...(values.rbac ? { rbac: true } : values['no-rbac'] ? { rbac: false } : {}),
  };
  if (Object.keys(changes).length === 0) throw new UsageError('api update needs at least one of --name, --scope, --format, --ttl, --rbac, --no-rbac');
  const identifier = values.id;
  const result = await withAuditedAction(
    io,
    ({ db }) => updateApi(db, identifier, changes),
    (updated) => ({ type: 'admin_api_updated', details: { api: identifier, ...updateDetails(updated), clients: updated.clients } }),
  );
  if (values.json) printJson(io, result.api);
  else {
    const changed = Object.keys(result.changes);
    print(io, [
      changed.length === 0 ? `API ${identifier} unchanged` : `updated API ${identifier} (${changed.join(', ')})`,
      ...(result.clients.length > 0 ? [`removed scopes taken out of the api_scope of: ${result.clients.join(', ')}`] : []),
      // Running servers cache what they read about an API (oidc/resource-servers.ts).
      ...(changed.length > 0 ? [`running servers use the change within ${API_CACHE_SECONDS} seconds; tokens already issued keep what they carry until they expire`] : []),
      describeApi(result.api),
    ].join('\n'));
  }
  return 0;
}

async function list(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { json: { type: 'boolean' } });
  noPositionals(positionals);
  const apis = await withDatabase(io, ({ db }) => listApis(db));
  printListing(io, values.json, apis, {
    header: ['IDENTIFIER', 'NAME', 'FORMAT', 'TTL', 'SCOPES'],
    row: (api) => [api.identifier, api.name, api.token_format, String(api.token_ttl_seconds), api.scopes.map((scope) => scope.name).join(' ')],
    empty: 'no APIs',
  });
  return 0;
}

async function show(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { json: { type: 'boolean' } });
  const identifier = onePositional(positionals, 'API identifier');
  const api = await withDatabase(io, ({ db }) => showApi(db, identifier));
  if (values.json) printJson(io, api);
  else print(io, describeApi(api));
  return 0;
}

async function remove(args: string[], io: CliIo): Promise<number> {
  const { positionals } = parseOptions(args, {});
  const identifier = onePositional(positionals, 'API identifier');
  const { clients } = await withAuditedAction(
    io,
    ({ db }) => removeApi(db, identifier),
    (removed) => ({ type: 'admin_api_removed', details: { api: identifier, clients: removed.clients } }),
  );
  print(io, `removed API ${identifier}${clients.length > 0 ? ` (no longer allowed for: ${clients.join(', ')})` : ''}`);
  return 0;
}

export const apiCommands: Record<string, (args: string[], io: CliIo) => Promise<number>> = { add, update, list, show, remove };
