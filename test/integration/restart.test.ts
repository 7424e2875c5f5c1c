import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { startTestServer, TEST_ENV, type TestServer } from '../support/app.ts';
import { UserAgent } from '../support/browserless.ts';
import { gatehouseOk } from '../support/cli.ts';
import { buildAuthorization, REDIRECT_URI, signIn } from '../support/e2e.ts';

/** `npm start` on the embedded store: a restart keeps users, clients, signing keys and sessions. */
describe('restarting on the embedded store', () => {
  let dir: string;
  let env: Record<string, string>;
  let server: TestServer | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-restart-'));
    env = { ...TEST_ENV, DATA_DIR: dir };
    await gatehouseOk(['client', 'add', '--id', 'app', '--public', '--redirect-uri', REDIRECT_URI], env);
    await gatehouseOk(['user', 'add', '--email', 'kept@example.com', '--password-stdin'], env, 'a long enough password\n');
  });

  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the session, the client, the user and the keys that signed earlier ID tokens', async () => {
    server = await startTestServer(env);
    const port = server.config.port;
    const insecure = { execute: [oidc.allowInsecureRequests] };
    let rp = await oidc.discovery(new URL(server.issuer), 'app', undefined, oidc.None(), insecure);
    const ua = new UserAgent();
    const first = await buildAuthorization(rp, { scope: 'openid' });
    const callback = await signIn(ua, server.issuer, first.url, 'kept@example.com', 'a long enough password');
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: first.verifier, expectedState: first.state, expectedNonce: first.nonce });
    const kidBefore = JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString()).kid as string;
    await server.close();

    server = await startTestServer({ ...env, PORT: String(port) }, { port });
    rp = await oidc.discovery(new URL(server.issuer), 'app', undefined, oidc.None(), insecure);
    const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((key) => key.kid)).toContain(kidBefore);

    // Same browser, no password: the session survived the restart.
    const second = await buildAuthorization(rp, { scope: 'openid' });
    const { url } = await ua.follow(second.url.href, server.issuer);
    const again = await oidc.authorizationCodeGrant(rp, new URL(url), { pkceCodeVerifier: second.verifier, expectedState: second.state, expectedNonce: second.nonce });
    expect(again.claims()!.sub).toBe(tokens.claims()!.sub);
  });
});
