import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { rotateKeys } from '../../src/admin/keys.ts';
import { createAccount } from '../../src/accounts/create-account.ts';
import { StoreLockedError } from '../../src/errors.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { postgresUrl, redisUrl } from '../support/backends.ts';
import { Balancer } from '../support/balancer.ts';
import { UserAgent, type Transport } from '../support/browserless.ts';
import { gatehouseOk } from '../support/cli.ts';
import { buildAuthorization, servers, signIn, type StackEnv } from '../support/e2e.ts';
import { USER, WEB_SECRET, seedBasics } from '../support/fixtures.ts';
import { finishSignIn, openLoginPage, submit } from '../support/forms.ts';
import { agedRelyingParty, discoverRelyingParty, kidOf, SignInLoop } from '../support/sign-in-loop.ts';

interface Jwk {
  kid: string;
  alg: string;
  key_ops?: string[];
}

/** The kids `gatehouse keys rotate` reports ("published rs256-… (RS256, next): signs from …"). */
function publishedKids(output: string): string[] {
  return [...output.matchAll(/^published (\S+)/gm)].map((match) => match[1]!);
}

/** Polls until `check` holds (a key refresh runs on a timer), failing after `timeoutMs`. */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The embedded store is one process's (PGlite has no multi-process access), so only a few things apply. */
describe('instances on the embedded store', () => {
  it('refuses a second instance on the same data folder instead of sharing it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-two-'));
    const first = await startTestServer({ DATA_DIR: dir });
    try {
      await expect(startTestServer({ DATA_DIR: dir })).rejects.toBeInstanceOf(StoreLockedError);
      expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    } finally {
      await first.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('serves a key written to the database within KEY_REFRESH_SECONDS, without a restart', async () => {
    const server = await startTestServer({ DATA_DIR: 'memory://', KEY_REFRESH_SECONDS: '1' });
    try {
      const jwks = async () => ((await (await fetch(`${server.url}/jwks`)).json()) as { keys: Jwk[] }).keys.map((key) => key.kid);
      const rotated = await rotateKeys(server.app.db, server.config);
      expect(await jwks()).not.toContain(rotated[0]!.kid);
      await eventually(async () => (await jwks()).includes(rotated[0]!.kid), 'the new key is published');
      expect(await jwks()).toEqual(expect.arrayContaining(rotated.map((key) => key.kid)));
    } finally {
      await server.close();
    }
  });
});

/**
 * Issue 8 "many instances" and REL-F6 / REL-F9: processes sharing one Postgres database and one Redis
 * prefix (and COOKIE_SECRETS, KEY_ENCRYPTION_KEY and ISSUER) behave as one. A Balancer plays the proxy:
 * every request of a flow may land on another instance, while browser and relying party see one issuer.
 */
if (postgresUrl && redisUrl) describe('instances sharing Postgres and Redis', () => {
  const ISSUER = 'https://id.gatehouse.test';
  /** Seconds a rotated key waits before signing: past openid-client's 60 s refetch floor, inside its 300 s cache. */
  const ACTIVATION_DELAY = 120;
  let stack: StackEnv;
  let env: Record<string, string>;
  const running = new Map<string, TestServer>();
  let balancer: Balancer;

  const start = async (name: string) => {
    const server = await startTestServer(env);
    running.set(name, server);
    balancer.add(name, server);
    return server;
  };
  const stop = async (name: string) => {
    const server = await balancer.remove(name);
    running.delete(name);
    await server.close();
  };
  const jwksOf = async (name: string): Promise<{ keys: Jwk[] }> => (await (await balancer.to(name)(`${ISSUER}/jwks`, {})).json()) as { keys: Jwk[] };
  /** Waits until instance `name` signs with `kid` (its JWKS lists it without key_ops: verify only). */
  const signsWith = (name: string, kid: string) =>
    eventually(async () => {
      const key = (await jwksOf(name)).keys.find((candidate) => candidate.kid === kid);
      return key !== undefined && key.key_ops === undefined;
    }, `${name} signs with ${kid}`);
  const rpThrough = (transport: Transport) => discoverRelyingParty(ISSUER, 'web', WEB_SECRET, transport);

  beforeAll(async () => {
    stack = await servers.setup();
    env = {
      ...stack.env,
      ISSUER,
      TRUST_PROXY: 'true',
      KEY_REFRESH_SECONDS: '1',
      KEY_ACTIVATION_DELAY_SECONDS: String(ACTIVATION_DELAY),
      // Low enough to reach in a test; the account delay stays out of the way so the pair limit is what answers.
      SIGN_IN_PAIR_MAX_FAILURES: '3',
      SIGN_IN_DELAY_AFTER_FAILURES: '50',
    };
    balancer = new Balancer(ISSUER);
    await start('A');
    await start('B');
    await seedBasics(running.get('A')!);
  });

  afterAll(async () => {
    for (const server of running.values()) await server.close();
    await stack?.cleanup();
  });

  it('a sign-in that changes instance at every request succeeds, and its refresh token and session work on the other', async () => {
    const rp = await rpThrough(balancer.fetch);
    let transport = balancer.fetch;
    const ua = new UserAgent(undefined, (url, init) => transport(url, init));
    const from = balancer.log.length;
    const auth = await buildAuthorization(rp, { scope: 'openid email offline_access', prompt: 'consent' });
    const callback = await signIn(ua, ISSUER, auth.url, USER.email, USER.password);
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce });
    expect(tokens.claims()!.sub).toBeTruthy();

    // Every step (authorization, sign-in page, password, consent, resume, code exchange) went to the other instance than the one before.
    const steps = balancer.log.slice(from);
    expect(steps.some((step) => step.includes('/login'))).toBe(true);
    expect(steps.some((step) => step.includes('/consent'))).toBe(true);
    steps.forEach((step, index) => index > 0 && expect(step[0]).not.toBe(steps[index - 1]![0]));

    const exchangedOn = balancer.log.filter((step) => step.endsWith('POST /token')).at(-1)![0];
    const refreshed = await oidc.refreshTokenGrant(await rpThrough(balancer.to(exchangedOn === 'A' ? 'B' : 'A')), tokens.refresh_token!);
    expect(refreshed.claims()!.sub).toBe(tokens.claims()!.sub);
    for (const name of ['A', 'B']) {
      const rpOn = await rpThrough(balancer.to(name));
      expect((await oidc.fetchUserInfo(rpOn, refreshed.access_token, tokens.claims()!.sub)).email).toBe(USER.email);
    }

    // The browser's session is known to both: a new authorization request answers with a code, no sign-in page.
    for (const name of ['A', 'B']) {
      transport = balancer.to(name);
      const again = await buildAuthorization(rp, { scope: 'openid email' });
      const { url } = await ua.follow(again.url.href, ISSUER);
      expect(new URL(url).searchParams.get('code')).toBeTruthy();
    }
  });

  it('sign-in limits are shared: failures on one instance count on the other', async () => {
    const email = 'limited@example.com';
    await createAccount(running.get('A')!.app.db, running.get('A')!.app.hasher, { email, password: 'the right long password', emailVerified: true });
    const ua = new UserAgent(undefined, balancer.fetch);
    const rp = await rpThrough(balancer.fetch);
    const page = await openLoginPage(ua, ISSUER, (await buildAuthorization(rp)).url.href);
    const from = balancer.log.length;
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 4; attempt += 1) statuses.push((await submit(ua, page.login, { email, password: 'a wrong password!!' })).status);
    // SIGN_IN_PAIR_MAX_FAILURES=3: the 4th attempt is refused although each instance saw only two.
    expect(statuses.slice(0, 3).every((status) => status !== 429)).toBe(true);
    expect(statuses[3]).toBe(429);
    const posts = balancer.log.slice(from).filter((step) => step.startsWith('A POST') || step.startsWith('B POST'));
    expect(new Set(posts.map((step) => step[0]))).toEqual(new Set(['A', 'B']));
    expect(posts.filter((step) => step[0] === 'A').length).toBe(2);
  });

  it('a key rotated with the CLI is in the other instance\'s JWKS after its key refresh, and verifies what the first signs', async () => {
    const fresh = publishedKids(await gatehouseOk(['keys', 'rotate'], env));
    // Nothing restarts B: its timer (KEY_REFRESH_SECONDS=1) re-reads the shared keys table.
    await eventually(async () => (await jwksOf('B')).keys.filter((key) => fresh.includes(key.kid)).length === 2, 'B publishes both new keys');
    expect(fresh).toHaveLength(2);

    // A reaches the activation time first (its clock moved forward) and signs with the new RS256 key.
    await running.get('A')!.app.keys.refresh(new Date(Date.now() + (ACTIVATION_DELAY + 1) * 1000));
    const rpOnA = await rpThrough(balancer.to('A'));
    const auth = await buildAuthorization(rpOnA, { scope: 'openid email' });
    const callback = await signIn(new UserAgent(undefined, balancer.to('A')), ISSUER, auth.url, USER.email, USER.password);
    const tokens = await oidc.authorizationCodeGrant(rpOnA, callback, { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce });
    const newRs = fresh.find((kid) => kid.startsWith('rs256'))!;
    expect(kidOf(tokens.id_token!)).toBe(newRs);
    const { payload } = await jwtVerify(tokens.id_token!, createLocalJWKSet((await jwksOf('B')) as JSONWebKeySet), { issuer: ISSUER, audience: 'web' });
    expect(payload.sub).toBe(tokens.claims()!.sub);
    // And B follows on its next key refresh: both sign with the new key again.
    await signsWith('B', newRs);
  });

  /**
   * REL-F6 / TOK-04: the four steps (publish, reload all, activate, reload all) while two sign-in loops
   * run through both instances and an openid-client relying party checks every ID token's signature.
   * The activation delay is passed by moving Gatehouse's key schedule and the relying party's JWKS
   * cache age forward together, instead of waiting ACTIVATION_DELAY seconds.
   */
  it('REL-F6: rotating the signing key under load, with rolling key reloads, fails no token validation', async () => {
    let rp = await rpThrough(balancer.fetch);
    const loops = [0, 1].map(() => new SignInLoop({ issuer: ISSUER, user: USER, relyingParty: () => rp, browser: () => new UserAgent(undefined, balancer.fetch) }));
    try {
      await Promise.all(loops.map((loop) => loop.more(3)));
      const signedBefore = loops[0]!.kids.at(-1)!;
      const oldToken = await idTokenFrom('A');

      // Step 1: publish. Step 2: every instance reloads on its timer; the old key still signs.
      const fresh = publishedKids(await gatehouseOk(['keys', 'rotate'], env));
      for (const name of ['A', 'B']) await eventually(async () => (await jwksOf(name)).keys.some((key) => key.kid === fresh[0]), `${name} publishes the next keys`);
      await Promise.all(loops.map((loop) => loop.more(3)));
      expect(loops[0]!.kids.at(-1)).toBe(signedBefore);

      // Step 3: the activation delay passes, for the relying party (its JWKS copy ages; two more sign-ins
      // each so that none under way still uses the younger copy) and for Gatehouse: A reaches the
      // activation time and signs with the new key while B, on its timer, still signs with the old one.
      rp = agedRelyingParty(rp, ACTIVATION_DELAY + 1, WEB_SECRET, balancer.fetch);
      await Promise.all(loops.map((loop) => loop.more(2)));
      await running.get('A')!.app.keys.refresh(new Date(Date.now() + (ACTIVATION_DELAY + 1) * 1000));
      const newRs = fresh.find((kid) => kid.startsWith('rs256'))!;
      await signsWith('B', newRs);
      await Promise.all(loops.map((loop) => loop.more(3)));

      for (const loop of loops) {
        expect(loop.failures).toEqual([]);
        expect(loop.kids).toContain(signedBefore);
        expect(loop.kids.at(-1)).toBe(newRs);
      }
      // A token signed before the switch still verifies against both instances' JWKS.
      for (const name of ['A', 'B']) {
        await expect(jwtVerify(oldToken, createLocalJWKSet((await jwksOf(name)) as JSONWebKeySet), { issuer: ISSUER, audience: 'web' })).resolves.toBeDefined();
      }
    } finally {
      await Promise.all(loops.map((loop) => loop.stop()));
    }
  });

  /**
   * REL-F9: a rolling deploy. An interaction started on A finishes on B after A is gone; then A and B are
   * replaced one after the other while two sign-in loops run through whatever instances are up.
   */
  it('REL-F9: a rolling restart of both instances fails no sign-in, and a sign-in started on a stopped instance finishes on the other', async () => {
    let transport = balancer.to('A');
    const ua = new UserAgent(undefined, (url, init) => transport(url, init));
    const rp = await rpThrough((url, init) => transport(url, init));
    const auth = await buildAuthorization(rp, { scope: 'openid email' });
    const page = await openLoginPage(ua, ISSUER, auth.url.href);
    await stop('A');
    transport = balancer.to('B');
    const callback = await finishSignIn(ua, ISSUER, page, USER.email, USER.password);
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce });
    expect(tokens.claims()!.sub).toBeTruthy();
    await start('A2');

    const loopRp = await rpThrough(balancer.fetch);
    const loops = [0, 1].map(() => new SignInLoop({ issuer: ISSUER, user: USER, relyingParty: () => loopRp, browser: () => new UserAgent(undefined, balancer.fetch) }));
    try {
      await Promise.all(loops.map((loop) => loop.more(2)));
      await stop('B');
      await Promise.all(loops.map((loop) => loop.more(2)));
      await start('B2');
      await Promise.all(loops.map((loop) => loop.more(2)));
      await stop('A2');
      await Promise.all(loops.map((loop) => loop.more(2)));
      await start('A3');
      await Promise.all(loops.map((loop) => loop.more(2)));
    } finally {
      await Promise.all(loops.map((loop) => loop.stop()));
    }
    for (const loop of loops) expect(loop.failures).toEqual([]);
    // The fresh instances served sign-in steps too.
    expect(balancer.log.some((step) => step.startsWith('B2 POST'))).toBe(true);
    expect(balancer.log.some((step) => step.startsWith('A3 '))).toBe(true);
  });

  /** An ID token for USER signed by instance `name` now. */
  async function idTokenFrom(name: string): Promise<string> {
    const rpOn = await rpThrough(balancer.to(name));
    const auth = await buildAuthorization(rpOn, { scope: 'openid email' });
    const callback = await signIn(new UserAgent(undefined, balancer.to(name)), ISSUER, auth.url, USER.email, USER.password);
    const tokens = await oidc.authorizationCodeGrant(rpOn, callback, { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce });
    return tokens.id_token!;
  }
});
