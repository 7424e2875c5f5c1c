import { UserAgent } from '../../test/support/browserless.ts';
import { rawAuthorization, signInThroughForms } from '../../test/support/forms.ts';

/**
 * The browser-less password sign-in the benchmark runs, the same against Gatehouse and the baseline: an
 * authorization request with PKCE S256, the sign-in page, the password form (and a consent form, when a
 * server shows one), the redirect back with a code, and the code exchange at /token. Only the forms'
 * field names (email, password, hidden inputs, decision=approve) are assumed.
 */
export interface SignInTarget {
  issuer: string;
  client: { id: string; secret: string; redirectUri: string };
}

export interface User {
  email: string;
  password: string;
}

/** A browser and the user at it. */
export interface Browser {
  ua: UserAgent;
  user: User;
}

export interface TokenResponse {
  access_token: string;
  id_token: string;
  refresh_token?: string;
}

export async function signIn({ ua, user }: Browser, target: SignInTarget, params: Record<string, string>): Promise<TokenResponse> {
  const { client, issuer } = target;
  const auth = rawAuthorization(issuer, { client_id: client.id, redirect_uri: client.redirectUri, ...params });
  const callback = await signInThroughForms(ua, issuer, auth.url, user.email, user.password);
  const code = callback.searchParams.get('code');
  if (!code || callback.searchParams.get('state') !== auth.state) throw new Error(`no code at the client: ${callback.href}`);
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: basicAuth(client.id, client.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: auth.verifier }),
  });
  const tokens = (await response.json()) as TokenResponse;
  if (response.status !== 200 || !tokens.id_token) throw new Error(`code exchange answered ${response.status}: ${JSON.stringify(tokens)}`);
  return tokens;
}

export const basicAuth = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/**
 * Returning users: each browser signs in once with consent (its session then holds the grant: consent is
 * remembered), and every measured sign-in after that asks for the password again (prompt=login).
 */
export async function returningUsers(target: SignInTarget, users: User[]): Promise<Browser[]> {
  const browsers = users.map((user) => ({ ua: new UserAgent(), user }));
  for (const browser of browsers) await signIn(browser, target, { scope: 'openid email', prompt: 'consent' });
  return browsers;
}

export interface SignInRun {
  concurrency: number;
  count: number;
  failures: number;
  firstFailure: string | undefined;
  seconds: number;
  /** Each successful sign-in's latency in ms, from the authorization request to the code exchange's answer. */
  latencies: number[];
}

/** `browsers.length` users, each in their own browser, sign in again and again for `seconds`; each starts no new sign-in after that. */
export async function signInLoad(target: SignInTarget, browsers: Browser[], seconds: number): Promise<SignInRun> {
  const latencies: number[] = [];
  let failures = 0;
  let firstFailure: string | undefined;
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(
    browsers.map(async (browser) => {
      while (performance.now() < until) {
        const begun = performance.now();
        try {
          await signIn(browser, target, { scope: 'openid email', prompt: 'login' });
          latencies.push(performance.now() - begun);
        } catch (error) {
          failures += 1;
          firstFailure ??= (error as Error).message;
        }
      }
    }),
  );
  return { concurrency: browsers.length, count: latencies.length, failures, firstFailure, seconds: (performance.now() - started) / 1000, latencies };
}
