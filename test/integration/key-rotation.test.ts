import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { rotateSigningKeys } from '../../src/oidc/keys.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { databaseBackends, type DatabaseBackend } from '../support/backends.ts';

interface Jwk {
  kid: string;
  alg: string;
  key_ops?: string[];
  d?: string;
}

function kidOf(jwt: string): string {
  return (JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
}

/**
 * Zero-downtime rotation: a new key is published at once, signs only after the activation delay, and the
 * key it replaces stays in JWKS until every token it signed has expired. Time is injected.
 */
describe.each(databaseBackends)('signing key rotation on $name', (backend: DatabaseBackend) => {
  let server: TestServer;
  let cleanup: () => Promise<void>;
  let service: oidc.Configuration;

  beforeAll(async () => {
    const db = await backend.setup();
    cleanup = db.cleanup;
    const env = db.config.kind === 'postgres' ? { DATABASE_URL: db.config.url } : { DATA_DIR: 'memory://' };
    server = await startTestServer({ ...env, KEY_ACTIVATION_DELAY_SECONDS: '600', ACCESS_TOKEN_TTL: '300', ID_TOKEN_TTL: '300', REFRESH_TOKEN_TTL: '900' });
    await server.app.db
      .insertInto('clients')
      .values({ id: 'svc', metadata: JSON.stringify({ client_id: 'svc', client_secret: 'svc-secret-0123456789-0123456789-0123', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] }) })
      .execute();
    service = await oidc.discovery(new URL(server.issuer), 'svc', undefined, oidc.ClientSecretBasic('svc-secret-0123456789-0123456789-0123'), { execute: [oidc.allowInsecureRequests] });
  });

  afterAll(async () => {
    await server?.close();
    await cleanup?.();
  });

  const jwks = async () => ((await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: Jwk[] }).keys;

  it('starts with one current key per algorithm and publishes no private parts', async () => {
    const keys = await jwks();
    expect(keys.map((key) => key.alg).sort()).toEqual(['ES256', 'RS256']);
    expect(keys.every((key) => key.d === undefined && key.key_ops === undefined)).toBe(true);
  });

  it('publishes the next key at once, signs with it only after the delay, and keeps the old one for verification', async () => {
    const before = await jwks();
    const oldRs = before.find((key) => key.alg === 'RS256')!.kid;
    const t0 = new Date();
    const kids = await rotateSigningKeys(server.app.db, server.config, t0);
    expect(await server.app.keys.refresh(t0)).toBe(true);

    const published = await jwks();
    expect(published.map((key) => key.kid)).toEqual(expect.arrayContaining([...kids, ...before.map((key) => key.kid)]));
    const newRs = kids.find((kid) => kid.startsWith('rs256'))!;
    expect(published.find((key) => key.kid === newRs)!.key_ops).toEqual(['verify']);
    // Before the delay the old key still signs (RPs may not have fetched the new JWKS yet).
    const early = await oidc.clientCredentialsGrant(service, {});
    expect(early.access_token).toBeDefined();
    const idTokenHeaderBefore = await signedKid();
    expect(idTokenHeaderBefore).toBe(oldRs);

    const later = new Date(t0.getTime() + 601_000);
    expect(await server.app.keys.refresh(later)).toBe(true);
    expect(await signedKid()).toBe(newRs);
    const after = await jwks();
    expect(after.find((key) => key.kid === oldRs)!.key_ops).toEqual(['verify']);
    expect(after.find((key) => key.kid === newRs)!.key_ops).toBeUndefined();

    // Once every token the old key signed has expired (longest TTL: 900 s), it leaves JWKS.
    await server.app.keys.refresh(new Date(later.getTime() + 901_000));
    expect((await jwks()).map((key) => key.kid)).not.toContain(oldRs);
  });

  /** The kid the provider signs ID tokens with now (RS256, the clients' default). */
  async function signedKid(): Promise<string> {
    const provider = server.app.provider();
    const client = await provider.Client.find('svc');
    const token = new provider.IdToken({ sub: 'someone' }, { client: client! });
    token.set('nonce', 'n');
    return kidOf(await token.issue({ use: 'idtoken' }));
  }
});
