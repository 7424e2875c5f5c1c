import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import * as oidc from 'openid-client';
import { createTestDatabase, postgresUrl, redisUrl, uniqueName } from './backends.ts';
import { UserAgent } from './browserless.ts';
import { findForm, openLoginPage, signInThroughForms, submit } from './forms.ts';
import { TEST_ENV } from './app.ts';

export interface StackEnv {
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

export interface Stack {
  name: string;
  setup(): Promise<StackEnv>;
}

/** The embedded default: PGlite in a fresh folder (the CLI and the server take turns holding its lock). */
const embedded: Stack = {
  name: 'embedded store',
  async setup() {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-e2e-'));
    return { env: { ...TEST_ENV, DATA_DIR: dir }, cleanup: () => rm(dir, { recursive: true, force: true }) };
  },
};

/** Real Postgres + Redis: a database of its own and a Redis key prefix of its own per test file. */
export const servers: Stack = {
  name: 'Postgres + Redis',
  async setup() {
    const database = await createTestDatabase();
    const prefix = `${uniqueName('gh')}:`;
    return {
      env: { ...TEST_ENV, DATABASE_URL: database.url, REDIS_URL: redisUrl!, REDIS_KEY_PREFIX: prefix },
      async cleanup() {
        await database.drop();
        const redis = new Redis(redisUrl!);
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length) await redis.del(...keys);
        redis.disconnect();
      },
    };
  },
};

/** Embedded always; real servers whenever DATABASE_URL and REDIS_URL are both set (as .ci/run does). */
export const stacks: Stack[] = postgresUrl && redisUrl ? [embedded, servers] : [embedded];

export const REDIRECT_URI = 'http://127.0.0.1:8080/cb';

export interface Authorization {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

export async function buildAuthorization(
  configuration: oidc.Configuration,
  extra: Record<string, string> = {},
): Promise<Authorization> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, verifier, state, nonce };
}

/**
 * Plays the user in a browser-less way: follows the authorization request, fills the sign-in form and
 * approves consent when asked; returns the URL the browser would land on at the relying party.
 */
export function signIn(ua: UserAgent, issuer: string, authUrl: URL, email: string, password: string): Promise<URL> {
  return signInThroughForms(ua, issuer, authUrl.href, email, password);
}

/**
 * The authorization code flow through the real pages, browser-less: signs in, keeps the consent page's
 * text, approves, and redeems the code with openid-client (PKCE, state and nonce checked).
 */
export async function codeFlowWithConsent(rp: oidc.Configuration, issuer: string, email: string, password: string, extra: Record<string, string>) {
  const ua = new UserAgent();
  const auth = await buildAuthorization(rp, extra);
  const page = await openLoginPage(ua, issuer, auth.url.href);
  const signedIn = await submit(ua, page.login, { email, password });
  const { url: consentUrl, response } = await ua.follow(page.url, issuer, signedIn);
  const consent = await response.text();
  const approved = await submit(ua, findForm(consent, '/consent', issuer), { decision: 'approve' });
  const { url } = await ua.follow(consentUrl, issuer, approved);
  const tokens = await oidc.authorizationCodeGrant(rp, new URL(url), {
    pkceCodeVerifier: auth.verifier,
    expectedState: auth.state,
    expectedNonce: auth.nonce,
    idTokenExpected: true,
  });
  return { tokens, consent };
}
