import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { stringify } from 'yaml';
import { showClient } from '../../src/admin/clients.ts';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';
import { startTestServer, TEST_ENV } from '../support/app.ts';

const SERVICE_SECRET = 'service-secret-from-a-kubernetes-secret-0123';

/** Issue 8: relying parties managed as code in CLIENTS_FILE, validated with the configuration, upserted at start. */
describe('CLIENTS_FILE', () => {
  let dir: string;
  const file = (name: string) => join(dir, name);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-clients-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the clients at start, then updates them from the changed file on the next start', async () => {
    const data = join(dir, 'store');
    const path = file('clients.yaml');
    const clients = [
      { id: 'billing', grant_types: ['client_credentials'], secret_env: 'BILLING_SECRET', name: 'Billing' },
      { id: 'spa', public: true, redirect_uris: ['https://spa.example.com/cb'], name: 'Single page' },
    ];
    await writeFile(path, stringify({ clients }));
    const env = { DATA_DIR: data, CLIENTS_FILE: path, BILLING_SECRET: SERVICE_SECRET };
    let server = await startTestServer(env);
    try {
      const billing = await oidc.discovery(new URL(server.issuer), 'billing', undefined, oidc.ClientSecretBasic(SERVICE_SECRET), { execute: [oidc.allowInsecureRequests] });
      const tokens = await oidc.clientCredentialsGrant(billing, {});
      expect(tokens.access_token).toBeTruthy();
      expect(await showClient(server.app.db, 'spa')).toMatchObject({ token_endpoint_auth_method: 'none', redirect_uris: ['https://spa.example.com/cb'], has_secret: false });
    } finally {
      await server.close();
    }
    await writeFile(path, JSON.stringify({ clients: [clients[0], { ...clients[1], name: 'Renamed SPA', redirect_uris: ['https://spa.example.com/callback'] }] }));
    server = await startTestServer(env);
    try {
      expect(await showClient(server.app.db, 'spa')).toMatchObject({ client_name: 'Renamed SPA', redirect_uris: ['https://spa.example.com/callback'] });
    } finally {
      await server.close();
    }
  }, 120_000);

  it('lists every problem of the file with the rest of the configuration, and starts nothing', async () => {
    const path = file('bad.yaml');
    await writeFile(path, stringify({
      clients: [
        { id: 'no-secret', redirect_uris: ['https://app.example.com/cb'] },
        { id: 'bad-uri', public: true, redirect_uris: ['http://evil.example.com/cb'] },
        { id: 'env-missing', secret_env: 'NOT_SET_ANYWHERE', grant_types: ['client_credentials'] },
      ],
    }));
    let problems: readonly string[] = [];
    try {
      loadConfig({ ...TEST_ENV, DATA_DIR: 'memory://', CLIENTS_FILE: path, PORT: 'not-a-port' });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^PORT:/),
      expect.stringMatching(/client "no-secret": a confidential client needs secret or secret_env/),
      expect.stringMatching(/client "bad-uri": .*http/),
      expect.stringMatching(/client "env-missing": secret_env NOT_SET_ANYWHERE is not set/),
    ]));
    await writeFile(file('typo.yaml'), stringify({ clients: [{ id: 'x', redirect_uri: ['https://a.example.com/cb'] }] }));
    expect(() => loadConfig({ ...TEST_ENV, DATA_DIR: 'memory://', CLIENTS_FILE: file('typo.yaml') })).toThrow(/clients\.0: Unrecognized key.*redirect_uri/);
    expect(() => loadConfig({ ...TEST_ENV, DATA_DIR: 'memory://', CLIENTS_FILE: file('missing.yaml') })).toThrow(/CLIENTS_FILE .*cannot be read/);
  });
});
