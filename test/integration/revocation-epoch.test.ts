import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import * as oidc from 'openid-client';
import { startTestServer, TEST_ENV, type TestServer } from '../support/app.ts';
import { createTestDatabase, postgresUrl, redisUrl, uniqueName } from '../support/backends.ts';
import { UserAgent } from '../support/browserless.ts';
import { gatehouseOk } from '../support/cli.ts';
import { buildAuthorization, REDIRECT_URI, type Authorization } from '../support/e2e.ts';
import { finishSignIn, openLoginPage, signInThroughForms } from '../support/forms.ts';

/*
 * REL-F13: `gatehouse sessions revoke-all` moves the revocation epoch, and every session, grant, code and
 * token issued before it is refused through the real endpoints, while what is issued after it works. On
 * the embedded store the CLI runs between two starts of the server (it cannot share the store); with
 * DATABASE_URL it runs beside the live server, which notices within REVOCATION_EPOCH_REFRESH_SECONDS.
 */

const SECRET = 'epoch-client-secret-0123456789-abcdefghij';
const USER = { email: 'epoch@example.com', password: 'a long enough password' };
const REFRESH_SECONDS = 1;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Stack {
  name: string;
  setup(): Promise<{ env: Record<string, string>; redisPrefix?: string; cleanup(): Promise<void> }>;
}

const embedded: Stack = {
  name: 'embedded store',
  async setup() {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-epoch-'));
    return { env: { DATA_DIR: dir }, cleanup: () => rm(dir, { recursive: true, force: true }) };
  },
};

/** Redis for the oidc-provider records, with Postgres beside it when DATABASE_URL is set (else the embedded store). */
const withRedis: Stack = {
  name: postgresUrl ? 'Postgres + Redis' : 'embedded store + Redis',
  async setup() {
    const prefix = `${uniqueName('gh_epoch')}:`;
    const database = postgresUrl ? await createTestDatabase() : undefined;
    const dir = database ? undefined : await mkdtemp(join(tmpdir(), 'gatehouse-epoch-'));
    return {
      env: { ...(database ? { DATABASE_URL: database.url } : { DATA_DIR: dir! }), REDIS_URL: redisUrl!, REDIS_KEY_PREFIX: prefix },
      redisPrefix: prefix,
      async cleanup() {
        await database?.drop();
        if (dir) await rm(dir, { recursive: true, force: true });
        const redis = new Redis(redisUrl!);
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length) await redis.del(...keys);
        redis.disconnect();
      },
    };
  },
};

const stacks = redisUrl ? [embedded, withRedis] : [embedded];

/** One signed-in browser and what it was issued: a session, a refresh and an access token, and a code not yet redeemed. */
interface Issued {
  ua: UserAgent;
  refreshToken: string;
  accessToken: string;
  code: { callback: URL; auth: Authorization };
}

/** A server of one stack, and the CLI beside it (or between two of its starts on the embedded store). */
class Deployment {
  server!: TestServer;
  rp!: oidc.Configuration;
  private port = 0;
  private readonly env: Record<string, string>;

  constructor(env: Record<string, string>) {
    this.env = { ...TEST_ENV, ...env, REVOCATION_EPOCH_REFRESH_SECONDS: String(REFRESH_SECONDS) };
  }

  get live(): boolean {
    return this.env.DATABASE_URL !== undefined;
  }

  async start(): Promise<void> {
    this.server = await startTestServer({ ...this.env, ...(this.port ? { PORT: String(this.port) } : {}) }, { port: this.port });
    this.port = this.server.config.port;
    this.rp = await oidc.discovery(new URL(this.server.issuer), 'app', undefined, oidc.ClientSecretBasic(SECRET), { execute: [oidc.allowInsecureRequests] });
  }

  cli(argv: string[], stdin = ''): Promise<string> {
    return gatehouseOk(argv, this.env, stdin);
  }

  /**
   * Runs `gatehouse sessions revoke-all` and returns its output once the server refuses what it revoked:
   * beside a live server, by the server's own timer (checked to take at most REVOCATION_EPOCH_REFRESH_SECONDS
   * and a query); on the embedded store, at the next start, which reads the epoch before serving.
   */
  async revokeAll(): Promise<string> {
    if (!this.live) {
      await this.server.close();
      const output = await this.cli(['sessions', 'revoke-all']);
      await this.start();
      return output;
    }
    const before = this.server.app.revocationEpoch.cutoff();
    const output = await this.cli(['sessions', 'revoke-all']);
    const started = Date.now();
    while (this.server.app.revocationEpoch.cutoff() === before) {
      if (Date.now() - started > REFRESH_SECONDS * 1000 + 1000) throw new Error('the server did not re-read the revocation epoch in time');
      await sleep(20);
    }
    return output;
  }

  /** Waits until what the server issues now is after the epoch (the cut-off is a whole second). */
  async afterEpoch(): Promise<void> {
    await sleep(Math.max(0, this.server.app.revocationEpoch.cutoff() * 1000 - Date.now()));
  }

  async signIn(ua = new UserAgent()): Promise<Issued> {
    const first = await buildAuthorization(this.rp, { scope: 'openid email offline_access', prompt: 'consent' });
    const callback = await signInThroughForms(ua, this.server.issuer, first.url.href, USER.email, USER.password);
    return this.collect(ua, callback, first);
  }

  /** Redeems the sign-in's code, then asks for a second code through the session and keeps it unredeemed. */
  async collect(ua: UserAgent, callback: URL, first: Authorization): Promise<Issued> {
    const tokens = await this.redeem({ callback, auth: first });
    const second = await buildAuthorization(this.rp, { scope: 'openid email' });
    const { url } = await ua.follow(second.url.href, this.server.issuer);
    expect(url.startsWith(REDIRECT_URI)).toBe(true); // the session answered without a sign-in page
    return { ua, refreshToken: tokens.refresh_token!, accessToken: tokens.access_token, code: { callback: new URL(url), auth: second } };
  }

  redeem(code: Issued['code']) {
    return oidc.authorizationCodeGrant(this.rp, code.callback, { pkceCodeVerifier: code.auth.verifier, expectedState: code.auth.state, expectedNonce: code.auth.nonce });
  }

  refresh(refreshToken: string) {
    return oidc.refreshTokenGrant(this.rp, refreshToken);
  }

  async userinfoStatus(accessToken: string): Promise<number> {
    const response = await fetch(this.rp.serverMetadata().userinfo_endpoint!, { headers: { authorization: `Bearer ${accessToken}` } });
    return response.status;
  }

  /** The browser's session is gone when an authorization request shows the sign-in page (which this then completes). */
  async signInAskedAgain(ua: UserAgent): Promise<Issued> {
    const auth = await buildAuthorization(this.rp, { scope: 'openid email offline_access', prompt: 'consent' });
    const page = await openLoginPage(ua, this.server.issuer, auth.url.href); // throws unless it is the sign-in page
    return this.collect(ua, await finishSignIn(ua, this.server.issuer, page, USER.email, USER.password), auth);
  }

  async setupAccounts(): Promise<void> {
    await this.cli(['client', 'add', '--id', 'app', '--secret', SECRET, '--redirect-uri', REDIRECT_URI]);
    await this.cli(['user', 'add', '--email', USER.email, '--password-stdin', '--email-verified'], `${USER.password}\n`);
  }
}

describe.each(stacks)('gatehouse sessions revoke-all on $name (REL-F13)', (stack) => {
  let deployment: Deployment;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const made = await stack.setup();
    cleanup = made.cleanup;
    deployment = new Deployment(made.env);
    await deployment.setupAccounts();
    await deployment.start();
  });

  afterAll(async () => {
    await deployment?.server.close();
    await cleanup?.();
  });

  it('refuses the session, refresh token, access token and unredeemed code issued before it; what is issued after works', async () => {
    const before = await deployment.signIn();
    // Both still work until the command runs (the refresh rotates, so keep the newest refresh token).
    const rotated = await deployment.refresh(before.refreshToken);

    const output = await deployment.revokeAll();
    expect(output).toMatch(/^revoked every session, grant, code and token issued before \d{4}-\d\d-\d\dT[\d:.]+Z: everyone must sign in again\n/);
    expect(output).toContain(`within ${REFRESH_SECONDS}s (REVOCATION_EPOCH_REFRESH_SECONDS)`);

    await expect(deployment.refresh(rotated.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(deployment.redeem(before.code)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await deployment.userinfoStatus(rotated.access_token)).toBe(401);

    // Same browser: its session is gone, so it signs in again; everything issued now works.
    await deployment.afterEpoch();
    const after = await deployment.signInAskedAgain(before.ua);
    const refreshed = await deployment.refresh(after.refreshToken);
    expect(refreshed.claims()?.sub).toBeDefined();
    expect(await deployment.userinfoStatus(refreshed.access_token)).toBe(200);
    expect((await deployment.redeem(after.code)).access_token).toBeDefined();
  });

  it('is audited as admin_all_sessions_revoked with the new epoch, the CLI and the operating-system user', async () => {
    if (!deployment.live) await deployment.server.close();
    const events = JSON.parse(await deployment.cli(['audit', 'list', '--type', 'admin_all_sessions_revoked', '--json'])) as Array<{ outcome: string; details: Record<string, unknown> }>;
    if (!deployment.live) await deployment.start();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: 'success', details: { via: 'cli', revoked_before: expect.stringMatching(/Z$/) } });
    const cutoff = deployment.server.app.revocationEpoch.cutoff();
    expect(Math.ceil(Date.parse(events[0]!.details.revoked_before as string) / 1000)).toBe(cutoff);
  });
});

/** Every key under the prefix as DUMP gives it, with its remaining time to live: a backup of this deployment. */
async function snapshot(redis: Redis, prefix: string): Promise<Array<{ key: string; dump: Buffer; pttl: number }>> {
  const keys = await redis.keys(`${prefix}*`);
  return Promise.all(keys.map(async (key) => ({ key, dump: (await redis.dumpBuffer(key))!, pttl: await redis.pttl(key) })));
}

/** Puts the deployment's keys back as they were in the backup (what restoring an older RDB does to them). */
async function restore(redis: Redis, prefix: string, backup: Awaited<ReturnType<typeof snapshot>>): Promise<void> {
  const now = await redis.keys(`${prefix}*`);
  if (now.length) await redis.del(...now);
  for (const { key, dump, pttl } of backup) await redis.restore(key, pttl > 0 ? pttl : 0, dump, 'REPLACE');
}

if (redisUrl) {
  describe(`restoring Redis from a backup on ${withRedis.name} (REL-F13)`, () => {
    let deployment: Deployment;
    let redis: Redis;
    let prefix: string;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      const made = await withRedis.setup();
      cleanup = made.cleanup;
      prefix = made.redisPrefix!;
      redis = new Redis(redisUrl!);
      deployment = new Deployment(made.env);
      await deployment.setupAccounts();
      await deployment.start();
    });

    afterAll(async () => {
      await deployment?.server.close();
      redis?.disconnect();
      await cleanup?.();
    });

    it('brings back a used code and refresh token, which revoke-all then makes useless, with the session', async () => {
      const issued = await deployment.signIn();
      const backup = await snapshot(redis, prefix);
      expect(backup.length).toBeGreaterThan(0);

      // After the backup: the code is redeemed and the refresh token used; both are refused from then on.
      await deployment.redeem(issued.code);
      await deployment.refresh(issued.refreshToken);
      await expect(deployment.redeem(issued.code)).rejects.toMatchObject({ error: 'invalid_grant' });

      // The danger: restoring the backup makes the used code redeemable again.
      await restore(redis, prefix, backup);
      expect((await deployment.redeem(issued.code)).access_token).toBeDefined();

      // The runbook: restore, then revoke all. Nothing from the backup works any more.
      await restore(redis, prefix, backup);
      await deployment.revokeAll();
      await expect(deployment.redeem(issued.code)).rejects.toMatchObject({ error: 'invalid_grant' });
      await expect(deployment.refresh(issued.refreshToken)).rejects.toMatchObject({ error: 'invalid_grant' });
      expect(await deployment.userinfoStatus(issued.accessToken)).toBe(401);
      await deployment.afterEpoch();
      const after = await deployment.signInAskedAgain(issued.ua);
      expect((await deployment.refresh(after.refreshToken)).access_token).toBeDefined();
    });
  });
}
