import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { addApi } from '../../src/admin/apis.ts';
import { rotateSigningKeys } from '../../src/oidc/keys.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { databaseBackends, type DatabaseBackend } from '../support/backends.ts';

/**
 * A JWT access token of an API lives `api add --ttl` (up to 24 h), longer than every configured token
 * lifetime here: the signing key it was made with must stay in JWKS that long after a rotation, or the
 * API could no longer verify a token that has not expired. Time is injected.
 */
describe.each(databaseBackends)('signing key retention for API tokens on $name', (backend: DatabaseBackend) => {
  let server: TestServer;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const db = await backend.setup();
    cleanup = db.cleanup;
    const env = db.config.kind === 'postgres' ? { DATABASE_URL: db.config.url } : { DATA_DIR: 'memory://' };
    server = await startTestServer({ ...env, KEY_ACTIVATION_DELAY_SECONDS: '600', ACCESS_TOKEN_TTL: '300', ID_TOKEN_TTL: '300', REFRESH_TOKEN_TTL: '900' });
    await addApi(server.app.db, { identifier: 'https://day.example.test', name: 'Day API', scopes: ['day:read'], ttlSeconds: 86_400 }, 300);
    // An opaque API's tokens are not signed: its lifetime does not hold keys back.
    await addApi(server.app.db, { identifier: 'https://week.example.test', name: 'Opaque', scopes: ['w'], format: 'opaque', ttlSeconds: 86_400 }, 300);
  });

  afterAll(async () => {
    await server?.close();
    await cleanup?.();
  });

  const kids = async () => ((await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { kid: string; alg: string }[] }).keys;

  it('keeps a retired key in JWKS for the longest JWT API token lifetime, then removes it', async () => {
    const oldRs = (await kids()).find((key) => key.alg === 'RS256')!.kid;
    const t0 = new Date();
    await rotateSigningKeys(server.app.db, server.config, t0);
    const retiredAt = new Date(t0.getTime() + 601_000);
    expect(await server.app.keys.refresh(retiredAt)).toBe(true);
    // Past every configured TTL (900 s), within the API's 24 h: still published.
    await server.app.keys.refresh(new Date(retiredAt.getTime() + 901_000));
    expect((await kids()).map((key) => key.kid)).toContain(oldRs);
    await server.app.keys.refresh(new Date(retiredAt.getTime() + 86_401_000));
    expect((await kids()).map((key) => key.kid)).not.toContain(oldRs);
  });
});
