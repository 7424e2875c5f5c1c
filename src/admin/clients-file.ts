import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { upsertClient } from '../storage/postgres/clients.queries.ts';
import type { Db } from '../storage/postgres/db.ts';
import { buildClientMetadata, InvalidClientError, type ClientMetadata } from './clients.ts';

const uris = z.array(z.string()).optional();
/** One client as operators write it: the CLI's options in snake_case; the secret inline or from the environment. */
const fileClient = z
  .object({
    id: z.string(),
    name: z.string().optional(),
    secret: z.string().optional(),
    /** The name of an environment variable holding the secret (a Kubernetes Secret, not the ConfigMap). */
    secret_env: z.string().optional(),
    redirect_uris: uris,
    post_logout_redirect_uris: uris,
    backchannel_logout_uri: z.string().optional(),
    grant_types: z.array(z.string()).optional(),
    auth_method: z.string().optional(),
    scope: z.string().optional(),
    public: z.boolean().optional(),
    native: z.boolean().optional(),
    first_party: z.boolean().optional(),
    mfa_required: z.boolean().optional(),
    logo_uri: z.string().optional(),
    client_uri: z.string().optional(),
    policy_uri: z.string().optional(),
    tos_uri: z.string().optional(),
  })
  .strict();
const clientsFile = z.object({ clients: z.array(fileClient) }).strict();

/**
 * Reads CLIENTS_FILE (YAML, or JSON, which YAML reads too): relying parties managed as code. Every entry
 * goes through the same validation as `gatehouse client add`; a confidential client must bring its
 * secret (inline or `secret_env`), since a generated one could never be shown. All problems of the file
 * are listed together, like the rest of the configuration.
 * @throws ConfigError
 */
export function readClientsFile(path: string, env: Record<string, string | undefined>): ClientMetadata[] {
  const where = `CLIENTS_FILE ${path}`;
  let data: unknown;
  try {
    data = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError([`${where}: cannot be read as YAML or JSON (${(error as Error).message.split('\n')[0]})`]);
  }
  const parsed = clientsFile.safeParse(data);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${where}: ${issue.path.join('.') || '(file)'}: ${issue.message}`));
  }
  const problems: string[] = [];
  const clients: ClientMetadata[] = [];
  const seen = new Set<string>();
  for (const entry of parsed.data.clients) {
    const label = `${where}: client "${entry.id}"`;
    if (seen.has(entry.id)) problems.push(`${label}: listed twice`);
    seen.add(entry.id);
    const secret = entry.secret ?? (entry.secret_env === undefined ? undefined : env[entry.secret_env]);
    if (entry.secret_env !== undefined && !secret) problems.push(`${label}: secret_env ${entry.secret_env} is not set`);
    if (!entry.public && secret === undefined && entry.secret_env === undefined) {
      problems.push(`${label}: a confidential client needs secret or secret_env (a generated secret could not be shown)`);
    }
    try {
      clients.push(
        buildClientMetadata({
          id: entry.id,
          name: entry.name,
          secret: secret || undefined,
          redirectUris: entry.redirect_uris,
          postLogoutRedirectUris: entry.post_logout_redirect_uris,
          backchannelLogoutUri: entry.backchannel_logout_uri,
          grantTypes: entry.grant_types,
          authMethod: entry.auth_method,
          scope: entry.scope,
          public: entry.public,
          native: entry.native,
          firstParty: entry.first_party,
          mfaRequired: entry.mfa_required,
          logoUri: entry.logo_uri,
          clientUri: entry.client_uri,
          policyUri: entry.policy_uri,
          tosUri: entry.tos_uri,
        }),
      );
    } catch (error) {
      if (!(error instanceof InvalidClientError)) throw error;
      problems.push(...error.problems.map((problem) => `${label}: ${problem}`));
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return clients;
}

/** Creates or replaces each client of the file (clients not in the file are left alone). */
export async function applyClientsFile(db: Db, clients: readonly ClientMetadata[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    for (const client of clients) await upsertClient(trx, client.client_id, { ...client });
  });
}
