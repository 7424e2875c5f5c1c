import { DEFAULT_SECRET_OVERLAP_SECONDS, MAX_SECRET_OVERLAP_SECONDS, rotateClientSecret } from '../admin/client-secret-rotation.ts';
import { addClient, listClients, removeClient, showClient, type ClientView } from '../admin/clients.ts';
import { UsageError } from '../errors.ts';
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

function splitList(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((item) => item.trim()).filter(Boolean);
}

function describeClient(client: ClientView): string {
  return Object.entries(client)
    .map(([key, value]) => {
      const text = Array.isArray(value) ? (value.length > 0 ? value.join(' ') : '(none)') : String(value);
      return `${key}: ${text}`;
    })
    .join('\n');
}

async function add(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    id: { type: 'string' },
    secret: { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'post-logout-redirect-uri': { type: 'string', multiple: true },
    'backchannel-logout-uri': { type: 'string' },
    'first-party': { type: 'boolean' },
    'mfa-required': { type: 'boolean' },
    'logo-uri': { type: 'string' },
    'client-uri': { type: 'string' },
    'policy-uri': { type: 'string' },
    'tos-uri': { type: 'string' },
    api: { type: 'string', multiple: true },
    introspects: { type: 'string', multiple: true },
    'grant-types': { type: 'string' },
    'auth-method': { type: 'string' },
    scope: { type: 'string' },
    public: { type: 'boolean' },
    native: { type: 'boolean' },
    name: { type: 'string' },
    json: { type: 'boolean' },
  });
  noPositionals(positionals);
  if (values.id === undefined) throw new UsageError('client add needs --id');
  const input = {
    id: values.id,
    secret: values.secret,
    redirectUris: values['redirect-uri'],
    postLogoutRedirectUris: values['post-logout-redirect-uri'],
    backchannelLogoutUri: values['backchannel-logout-uri'],
    firstParty: values['first-party'],
    mfaRequired: values['mfa-required'],
    logoUri: values['logo-uri'],
    clientUri: values['client-uri'],
    policyUri: values['policy-uri'],
    tosUri: values['tos-uri'],
    apis: values.api,
    introspects: values.introspects,
    grantTypes: splitList(values['grant-types']),
    authMethod: values['auth-method'],
    scope: values.scope,
    public: values.public,
    native: values.native,
    name: values.name,
  };
  const { client, generatedSecret } = await withAuditedAction(
    io,
    ({ db }) => addClient(db, input),
    // Redirect URIs are where codes go: an operator reviewing the trail must see them.
    ({ client: added }) => ({
      type: 'admin_client_added',
      clientId: added.client_id,
      details: { redirect_uris: added.redirect_uris, grant_types: added.grant_types, auth_method: added.token_endpoint_auth_method, first_party: added.first_party ?? false, apis: added.allowed_apis ?? [], introspects: added.resource_server_for ?? [] },
    }),
  );
  if (values.json) {
    printJson(io, generatedSecret === undefined ? client : { ...client, client_secret: generatedSecret });
    return 0;
  }
  print(io, `added client ${client.client_id}\n${describeClient(client)}`);
  // The one moment the secret is shown: list and show never return it.
  if (generatedSecret !== undefined) {
    print(io, `\nclient_secret: ${generatedSecret}\nThis secret is shown only now: store it with the application.`);
  }
  return 0;
}

async function list(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { json: { type: 'boolean' } });
  noPositionals(positionals);
  const clients = await withDatabase(io, ({ db }) => listClients(db));
  printListing(io, values.json, clients, {
    header: ['CLIENT_ID', 'NAME', 'AUTH_METHOD', 'GRANT_TYPES', 'REDIRECT_URIS'],
    row: (c) => [c.client_id, c.client_name ?? '', c.token_endpoint_auth_method, c.grant_types.join(','), c.redirect_uris.join(' ')],
    empty: 'no clients',
  });
  return 0;
}

async function show(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { json: { type: 'boolean' } });
  const id = onePositional(positionals, 'client id');
  const client = await withDatabase(io, ({ db }) => showClient(db, id));
  if (values.json) printJson(io, client);
  else print(io, describeClient(client));
  return 0;
}

async function remove(args: string[], io: CliIo): Promise<number> {
  const { positionals } = parseOptions(args, {});
  const id = onePositional(positionals, 'client id');
  await withAuditedAction(io, ({ db }) => removeClient(db, id), () => ({ type: 'admin_client_removed', clientId: id }));
  print(io, `removed client ${id}`);
  return 0;
}

function overlapOf(value: string | undefined): number {
  if (value === undefined) return DEFAULT_SECRET_OVERLAP_SECONDS;
  if (!/^\d{1,7}$/.test(value) || Number(value) > MAX_SECRET_OVERLAP_SECONDS) {
    throw new UsageError(`--overlap takes seconds from 0 to ${MAX_SECRET_OVERLAP_SECONDS} (got "${value}")`);
  }
  return Number(value);
}

/** `client rotate-secret ID [--overlap SECONDS]`: a new secret now; the old one still works for the overlap (REL-F7). */
async function rotateSecret(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { overlap: { type: 'string' }, json: { type: 'boolean' } });
  const id = onePositional(positionals, 'client id');
  const overlap = overlapOf(values.overlap);
  const rotated = await withAuditedAction(
    io,
    ({ db, config }) => {
      // The file would put its own secret back at the next start: such a client's secret changes in the file.
      if (config.clients?.some((client) => client.client_id === id)) throw new UsageError(`client "${id}" is managed by CLIENTS_FILE: change its secret there`);
      return rotateClientSecret(db, id, overlap);
    },
    // Never the secrets: when the old one stops is what a reviewer needs.
    (done) => ({ type: 'admin_client_secret_rotated', clientId: done.clientId, details: { overlap_seconds: overlap, previous_valid_until: done.previousValidUntil?.toISOString() ?? null } }),
  );
  const until = rotated.previousValidUntil?.toISOString() ?? null;
  if (values.json) {
    printJson(io, { client_id: rotated.clientId, client_secret: rotated.secret, previous_secret_valid_until: until });
    return 0;
  }
  print(io, `client_secret: ${rotated.secret}\nThis secret is shown only now: store it with the application.`);
  print(io, until ? `The previous secret is still accepted until ${until}; after that only this one.` : 'The previous secret no longer works.');
  return 0;
}

export const clientCommands: Record<string, (args: string[], io: CliIo) => Promise<number>> = { add, list, show, remove, 'rotate-secret': rotateSecret };
