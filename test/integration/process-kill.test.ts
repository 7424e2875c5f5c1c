import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generate } from 'otplib';
import { createAccount } from '../../src/accounts/create-account.ts';
import { confirmTotpEnrolment, startTotpEnrolment } from '../../src/accounts/mfa/totp.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createPasswordHasher } from '../../src/security/passwords.ts';
import { upsertClient } from '../../src/storage/postgres/clients.queries.ts';
import { TEST_ENV } from '../support/app.ts';
import { postgresUrl, redisUrl } from '../support/backends.ts';
import { Balancer } from '../support/balancer.ts';
import { formAction, inputValue, UserAgent } from '../support/browserless.ts';
import { gatehouse, gatehouseOk, withDb } from '../support/cli.ts';
import { REDIRECT_URI, servers, type StackEnv } from '../support/e2e.ts';
import { WEB_SECRET } from '../support/fixtures.ts';
import { findForm, openLoginPage, rawAuthorization, signInThroughForms, submit } from '../support/forms.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';
import { loseResponse } from '../support/lost-response.ts';

const ISSUER = 'https://id.gatehouse.test';
const EMAIL = 'killed.mid.login@example.com';
/** A second account for the replay test, so the code it uses first is not one the first test spent. */
const REPLAY_EMAIL = 'killed.after.code@example.com';
const PASSWORD = 'a password typed just before the crash';
/** Without a second factor: the token tests are about /token, not the sign-in. */
const TOKENS_EMAIL = 'killed.mid.token@example.com';
/** A public client (no secret): a single-page or native app. */
const PUBLIC_CLIENT = 'spa';

/** kill -9: no shutdown handler runs, nothing is flushed or closed. */
async function kill(target: GatehouseProcess): Promise<void> {
  target.signal('SIGKILL');
  await target.exited;
}

/**
 * Seeds the confidential `web` client, the public `spa` client, an account without a second factor and
 * accounts with an authenticator app each; returns the apps' secrets by email.
 */
async function seed(env: Record<string, string>, emails: string[]): Promise<Map<string, string>> {
  const config = loadConfig(env);
  return withDb(env, async (db) => {
    await upsertClient(db, 'web', {
      client_id: 'web',
      client_secret: WEB_SECRET,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    await upsertClient(db, PUBLIC_CLIENT, {
      client_id: PUBLIC_CLIENT,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
    });
    const hasher = await createPasswordHasher(config.argon2);
    await createAccount(db, hasher, { email: TOKENS_EMAIL, password: PASSWORD, emailVerified: true });
    const secrets = new Map<string, string>();
    for (const email of emails) {
      const account = await createAccount(db, hasher, { email, password: PASSWORD, emailVerified: true });
      // Enrolled two steps ago, so the code of the current step has not been used.
      const past = { db, keyEncryptionKeys: config.keyEncryptionKeys, now: () => new Date(Date.now() - 60_000) };
      const secret = (await startTotpEnrolment(past, account, 'Gatehouse'))!.secret;
      if (!(await confirmTotpEnrolment(past, account.id, await generate({ secret, epoch: Math.floor(Date.now() / 1000) - 60 })))) throw new Error('enrolment refused');
      secrets.set(email, secret);
    }
    return secrets;
  });
}

/**
 * REL-F5: the process is killed (SIGKILL) in the middle of a sign-in with a second factor. After the
 * restart nothing half-finished grants access: the password step alone gave no session and no code,
 * the user can start the sign-in again, and a one-time code used just before the kill stays used.
 * It is also killed as its /token answer goes out, so the client never gets it: a redeemed code stays
 * redeemed, and a lost refresh-token rotation ends the grant when the client retries.
 */
function killDuringSignIn(stackName: string, setup: () => Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }>, embedded = false) {
  describe(`kill -9 during a sign-in (${stackName})`, () => {
    let server: GatehouseProcess;
    /** Plays the proxy in front of the process, so the browser keeps the issuer's URLs across restarts (new ports). */
    const proxy = new Balancer<GatehouseProcess>(ISSUER);
    let cleanup: () => Promise<void>;
    let secrets: Map<string, string>;
    let env: Record<string, string>;

    beforeAll(async () => {
      const made = await setup();
      cleanup = made.cleanup;
      // LOG_LEVEL info: startGatehouseProcess waits for the "ready" log line.
      env = { ...made.env, ISSUER, TRUST_PROXY: 'true', NEW_DEVICE_ALERTS: 'false', LOG_LEVEL: 'info' };
      // Seeded before the server starts: the embedded store admits one process at a time.
      await gatehouseOk(['migrate'], env);
      secrets = await seed(env, [EMAIL, REPLAY_EMAIL]);
      server = await startGatehouseProcess(env);
      proxy.add('gatehouse', server);
    });

    afterAll(async () => {
      if (server) await kill(server);
      await cleanup?.();
    });

    const browser = () => new UserAgent(undefined, proxy.fetch);
    /**
     * kill -9 and start again. REL-F5's "ready within 5 s" is printed, not asserted (about 1–2 s on an idle
     * machine; a timed assertion would fail on a busy one). A store lock left by the killed process would
     * not slow the restart but fail it (StoreLockedError, exit 1), so that regression still fails here.
     * `lastRequest` runs against the process after the balancer has taken it out and before the kill.
     */
    const restart = async (lastRequest?: (dying: GatehouseProcess) => Promise<unknown>) => {
      const dying = await proxy.remove('gatehouse');
      await lastRequest?.(dying);
      await kill(dying);
      const started = Date.now();
      server = await startGatehouseProcess(env);
      console.log(`REL-F5 (${stackName}): ready ${Date.now() - started} ms after the restart began`);
      proxy.add('gatehouse', server);
    };
    const postCode = (ua: UserAgent, html: string, code: string) => ua.post(new URL(formAction(html, '/mfa'), ISSUER).href, { code, csrf: inputValue(html, 'csrf') });

    /** Authorization request, sign-in page, password; returns the browser at the code page. */
    async function passwordStep(ua: UserAgent, email = EMAIL) {
      const auth = rawAuthorization(ISSUER, { client_id: 'web', redirect_uri: REDIRECT_URI });
      const page = await openLoginPage(ua, ISSUER, auth.url);
      const afterPassword = await submit(ua, page.login, { email, password: PASSWORD });
      expect(afterPassword.status).toBe(303);
      return { auth, page, afterPassword };
    }

    it('after the password POST: the restarted server still asks for the code, gives no session, and a new sign-in works', async () => {
      const ua = browser();
      const { page, afterPassword } = await passwordStep(ua);
      await restart();

      // The redirect the browser was following when the server died leads to the code page, not to the client.
      const resumed = await ua.follow(new URL(afterPassword.headers.get('location')!, page.url).href, ISSUER);
      expect(resumed.url.startsWith(ISSUER)).toBe(true);
      expect(await resumed.response.text()).toContain('name="code"');
      // No session came out of the password step: a new authorization request shows the sign-in page.
      const again = await passwordStep(ua);
      const { url, response } = await ua.follow(again.page.url, ISSUER, again.afterPassword);
      const accepted = await postCode(ua, await response.text(), await generate({ secret: secrets.get(EMAIL)!, epoch: Math.floor(Date.now() / 1000) }));
      expect(accepted.status).toBe(303);
      let done = await ua.follow(url, ISSUER, accepted);
      if (done.url.startsWith(ISSUER)) {
        const consent = findForm(await done.response.text(), '/consent', ISSUER);
        done = await ua.follow(done.url, ISSUER, await submit(ua, consent, { decision: 'approve' }));
      }
      const callback = new URL(done.url);
      expect(callback.href.startsWith(REDIRECT_URI)).toBe(true);
      expect(callback.searchParams.get('code')).toBeTruthy();
      const tokens = await exchange(callback.searchParams.get('code')!, again.auth.verifier);
      expect(tokens.id_token).toBeDefined();
    });

    it('after the code POST: the code used just before the kill is refused after the restart', async () => {
      const secret = secrets.get(REPLAY_EMAIL)!;
      const ua = browser();
      const first = await passwordStep(ua, REPLAY_EMAIL);
      const atCode = await ua.follow(first.page.url, ISSUER, first.afterPassword);
      const code = await generate({ secret, epoch: Math.floor(Date.now() / 1000) });
      expect((await postCode(ua, await atCode.response.text(), code)).status).toBe(303);
      await restart();

      const other = browser();
      const second = await passwordStep(other, REPLAY_EMAIL);
      const html = await (await other.follow(second.page.url, ISSUER, second.afterPassword)).response.text();
      // Still inside the window (this step or the one before), so only the replay guard can refuse it.
      const now = Math.floor(Date.now() / 1000);
      expect([await generate({ secret, epoch: now }), await generate({ secret, epoch: now - 30 })]).toContain(code);
      const replayed = await postCode(other, html, code);
      expect(replayed.status).not.toBe(303);
      expect(await replayed.text()).toContain('name="code"');
    });

    it('during /token (code consumed, response lost): the code is refused after the restart and its reuse revokes the tokens it issued (the lost access token then fails at userinfo); a new sign-in gets tokens', async () => {
      const authorized = await signIn(WEB);
      const lost = await tokenResponseLost(WEB, { grant_type: 'authorization_code', code: authorized.code, redirect_uri: REDIRECT_URI, code_verifier: authorized.verifier });
      // What the server committed before answering survived the kill: the token nobody received still works.
      expect(await userinfoStatus(lost.access_token!)).toBe(200);

      const retried = await token(WEB, { grant_type: 'authorization_code', code: authorized.code, redirect_uri: REDIRECT_URI, code_verifier: authorized.verifier });
      expect(retried).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      // oidc-provider treats a second redemption as a stolen code (AS-03): everything the code issued is revoked.
      expect(await userinfoStatus(lost.access_token!)).toBe(401);
      expect((await token(WEB, { grant_type: 'refresh_token', refresh_token: lost.refresh_token! })).body.error).toBe('invalid_grant');

      // The client starts the sign-in again.
      const again = await signIn(WEB);
      const tokens = await token(WEB, { grant_type: 'authorization_code', code: again.code, redirect_uri: REDIRECT_URI, code_verifier: again.verifier });
      expect(tokens.status).toBe(200);
      expect(tokens.body.id_token).toBeDefined();
    });

    it('during refresh-token rotation, public client: the retry with the old refresh token revokes the grant (the rotated tokens in the lost response die with it)', async () => {
      expect(await rotationResponseLost(SPA)).toEqual(GRANT_REVOKED);
    });

    // REL-F5 and AS-07: a confidential client's refresh token does not rotate, so a lost response costs nothing.
    it('during a refresh, confidential client: its refresh token does not rotate, so the retry with it works and nothing is revoked', async () => {
      expect(await rotationResponseLost(WEB)).toEqual({ rotated: false, retry: '200 undefined', rotatedRefreshToken: undefined, rotatedAccessToken: 200, earlierAccessToken: 200 });
    });

    // The lock a killed server leaves is taken over at once (src/storage/postgres/data-dir-lock.ts), but only then.
    if (embedded) it('still refuses another process while the server runs', async () => {
      const result = await gatehouse(['client', 'list'], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('is in use by another Gatehouse process');
    });

    /** Signs TOKENS_EMAIL in to `client` for offline access; returns the code and its PKCE verifier. */
    async function signIn(client: Client): Promise<{ code: string; verifier: string }> {
      const auth = rawAuthorization(ISSUER, { client_id: client.id, redirect_uri: REDIRECT_URI, scope: 'openid offline_access', prompt: 'consent' });
      const callback = await signInThroughForms(browser(), ISSUER, auth.url, TOKENS_EMAIL, PASSWORD);
      return { code: callback.searchParams.get('code')!, verifier: auth.verifier };
    }

    async function token(client: Client, params: Record<string, string>): Promise<{ status: number; body: TokenBody }> {
      const response = await proxy.fetch(`${ISSUER}/token`, { method: 'POST', ...tokenRequest(client, params) });
      return { status: response.status, body: (await response.json()) as TokenBody };
    }

    /**
     * The token request reaches the server, which does the work and answers; the process is killed (kill -9)
     * as the answer arrives and the answer never reaches the client; a new process starts. Returns the lost
     * answer, for the test to show what became of tokens no client holds.
     */
    async function tokenResponseLost(client: Client, params: Record<string, string>): Promise<TokenBody> {
      let lost: { status: number; body: string } | undefined;
      await restart(async (dying) => {
        const { headers, body } = tokenRequest(client, params);
        // The headers the balancer adds: the process trusts them for its https issuer.
        const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': new URL(ISSUER).host };
        lost = await loseResponse(dying.port, { method: 'POST', path: '/token', headers: { ...headers, ...forwarded }, body }, () => dying.signal('SIGKILL'));
      });
      expect(lost!.status).toBe(200);
      return JSON.parse(lost!.body) as TokenBody;
    }

    /**
     * Tokens for `client`, then a rotation whose response is lost in a kill, then the client's retry with
     * the old refresh token; returns what the retry got and what became of every token the grant issued.
     */
    async function rotationResponseLost(client: Client) {
      const first = await signIn(client);
      const issued = await token(client, { grant_type: 'authorization_code', code: first.code, redirect_uri: REDIRECT_URI, code_verifier: first.verifier });
      expect(issued.status).toBe(200);
      const before = issued.body;
      const lost = await tokenResponseLost(client, { grant_type: 'refresh_token', refresh_token: before.refresh_token! });
      const rotated = lost.refresh_token !== undefined && lost.refresh_token !== before.refresh_token;
      // What the lost response issued survived the kill; only a retry can end the grant.
      expect(await userinfoStatus(lost.access_token!)).toBe(200);
      const retried = await token(client, { grant_type: 'refresh_token', refresh_token: before.refresh_token! });
      return {
        rotated,
        retry: `${retried.status} ${retried.body.error}`,
        rotatedRefreshToken: rotated ? (await token(client, { grant_type: 'refresh_token', refresh_token: lost.refresh_token! })).body.error : undefined,
        rotatedAccessToken: await userinfoStatus(lost.access_token!),
        earlierAccessToken: await userinfoStatus(before.access_token!),
      };
    }

    const userinfoStatus = async (accessToken: string) => (await proxy.fetch(`${ISSUER}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status;

    async function exchange(code: string, verifier: string): Promise<{ id_token?: string }> {
      const response = await proxy.fetch(`${ISSUER}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`web:${WEB_SECRET}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }),
      });
      return (await response.json()) as { id_token?: string };
    }
  });
}

interface Client {
  id: string;
  secret?: string;
}
const WEB: Client = { id: 'web', secret: WEB_SECRET };
const SPA: Client = { id: PUBLIC_CLIENT };

/** A refused retry that ended the grant: the tokens in the lost response, and those before it, are dead. */
const GRANT_REVOKED = { rotated: true, retry: '400 invalid_grant', rotatedRefreshToken: 'invalid_grant', rotatedAccessToken: 401, earlierAccessToken: 401 };

interface TokenBody {
  access_token?: string;
  refresh_token?: string;
  id_token?: string;
  error?: string;
}

/** A confidential client authenticates with its secret (Basic); a public one only names itself. */
function tokenRequest(client: Client, params: Record<string, string>): { headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const form = new URLSearchParams(params);
  if (client.secret) headers['authorization'] = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
  else form.set('client_id', client.id);
  return { headers, body: form.toString() };
}

killDuringSignIn('embedded store', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-kill-'));
  return { env: { ...TEST_ENV, DATA_DIR: dir }, cleanup: () => rm(dir, { recursive: true, force: true }) };
}, true);

if (postgresUrl && redisUrl) killDuringSignIn('Postgres + Redis', (): Promise<StackEnv> => servers.setup());
