import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { startTestServer, type TestServer } from '../support/app.ts';
import { UserAgent } from '../support/browserless.ts';
import { buildAuthorization, signIn } from '../support/e2e.ts';
import { USER, WEB_SECRET, seedBasics } from '../support/fixtures.ts';
import { upsertClient } from '../../src/storage/postgres/clients.queries.ts';

/*
 * REL-F12: the relying party's clock off from Gatehouse's. openid-client's `clockSkew` is the RP's error
 * (+60: its clock runs 60 s ahead), its `clockTolerance` 30 s by default; oidc-provider's clockTolerance is
 * its default 15 s (src/oidc/configuration.ts sets none). Measured here on the real pair:
 * - the ID token: openid-client checks `exp` (and `iat` more than an hour old), never `iat` in the future,
 *   so an RP behind is not noticed and an RP ahead fails only beyond the token's lifetime + 30 s;
 * - a client assertion (client_secret_jwt / private_key_jwt, 60 s life): oidc-provider refuses it when the
 *   RP is more than 15 s ahead (nbf) or more than 75 s behind (exp + 15 s).
 */

const ID_TOKEN_TTL = 3600;
const JWT_CLIENT = { id: 'jwt-app', secret: 'jwt-client-secret-0123456789-abcdefghijkl' };

describe('clock skew between the relying party and Gatehouse (REL-F12)', () => {
  let server: TestServer;
  /** Why oidc-provider refused the last client authentication (clients only see invalid_client). */
  let lastDetail: string | undefined;

  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://', ID_TOKEN_TTL: String(ID_TOKEN_TTL) });
    await seedBasics(server);
    await upsertClient(server.app.db, JWT_CLIENT.id, {
      client_id: JWT_CLIENT.id,
      client_secret: JWT_CLIENT.secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_jwt',
    });
    server.app.provider().on('grant.error', (_ctx, error) => {
      lastDetail = (error as { error_detail?: string }).error_detail;
    });
  });

  afterAll(async () => {
    await server?.close();
  });

  /** The `web` relying party with its clock `offset` seconds off (positive: ahead of Gatehouse). */
  const relyingParty = (offset: number) =>
    oidc.discovery(new URL(server.issuer), 'web', { [oidc.clockSkew]: offset }, oidc.ClientSecretBasic(WEB_SECRET), { execute: [oidc.allowInsecureRequests] });

  /** A full sign-in whose ID token the skewed relying party validates. */
  async function signInWithOffset(offset: number) {
    const rp = await relyingParty(offset);
    const auth = await buildAuthorization(rp, { scope: 'openid email' });
    const callback = await signIn(new UserAgent(), server.issuer, auth.url, USER.email, USER.password);
    return oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce });
  }

  it.each([10, -10, 60, -60])('the relying party accepts the ID token with its clock %i s off', async (offset) => {
    const tokens = await signInWithOffset(offset);
    expect(tokens.claims()?.sub).toBeDefined();
  });

  it('a relying party ahead by more than the ID token lifetime + 30 s refuses it, naming exp', async () => {
    const offset = ID_TOKEN_TTL + 31;
    // openid-client's own error, wrapping oauth4webapi's, which names the claim, the RP's now and the tolerance.
    await expect(signInWithOffset(offset)).rejects.toMatchObject({
      code: 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
      message: 'JWT timestamp claim value failed validation',
      cause: {
        message: expect.stringContaining('"exp" (expiration time) claim value, expiration is past current timestamp'),
        cause: { claim: 'exp', tolerance: 30 },
      },
    });
  });

  /** A client_credentials grant authenticated by a client_secret_jwt assertion made with the RP's clock `offset` s off. */
  async function assertionGrant(offset: number) {
    const rp = await oidc.discovery(new URL(server.issuer), JWT_CLIENT.id, { [oidc.clockSkew]: offset }, oidc.ClientSecretJwt(JWT_CLIENT.secret), {
      execute: [oidc.allowInsecureRequests],
    });
    return oidc.clientCredentialsGrant(rp, {});
  }

  it.each([10, -10, -60, -70])('Gatehouse accepts a client assertion made with the clock %i s off', async (offset) => {
    expect((await assertionGrant(offset)).access_token).toBeDefined();
  });

  it.each([
    [20, 'jwt not active yet'],
    [60, 'jwt not active yet'],
    [-90, 'jwt expired'],
  ])('Gatehouse refuses a client assertion made with the clock %i s off (beyond its 15 s tolerance): %s', async (offset, detail) => {
    lastDetail = undefined;
    await expect(assertionGrant(offset)).rejects.toMatchObject({ error: 'invalid_client', status: 401 });
    expect(lastDetail).toContain(detail);
  });
});
