import { addApi, listApis, removeApi, showApi, type ApiView } from '../admin/apis.ts';
import { UsageError } from '../errors.ts';
import {
  formatTable,
  noPositionals,
  onePositional,
  parseOptions,
  print,
  printJson,
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

async function add(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    id: { type: 'string' },
    name: { type: 'string' },
    scope: { type: 'string', multiple: true },
    format: { type: 'string' },
    ttl: { type: 'string' },
    'no-rbac': { type: 'boolean' },
    json: { type: 'boolean' },
  });
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

async function list(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { json: { type: 'boolean' } });
  noPositionals(positionals);
  const apis = await withDatabase(io, ({ db }) => listApis(db));
  if (values.json) printJson(io, apis);
  else if (apis.length === 0) print(io, 'no APIs');
  else {
    const rows = apis.map((api) => [api.identifier, api.name, api.token_format, String(api.token_ttl_seconds), api.scopes.map((scope) => scope.name).join(' ')]);
    print(io, formatTable([['IDENTIFIER', 'NAME', 'FORMAT', 'TTL', 'SCOPES'], ...rows]));
  }
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

export const apiCommands: Record<string, (args: string[], io: CliIo) => Promise<number>> = { add, list, show, remove };
