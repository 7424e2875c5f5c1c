import type { TestServer } from './app.ts';
import { startTestServer, type TestServerOptions } from './app.ts';
import { formAction, inputValue, type UserAgent } from './browserless.ts';
import { REDIRECT_URI } from './e2e.ts';
import { freePort } from './free-port.ts';
import { startUpstream, type Upstream } from './upstream-provider.ts';

/** Gatehouse configured with one upstream provider, `UPSTREAM_TEST_*`, whose id is `test`. */
export interface UpstreamStack {
  server: TestServer;
  upstream: Upstream;
  close(): Promise<void>;
}

export const UPSTREAM_ID = 'test';
export const UPSTREAM_NAME = 'Test IdP';

/**
 * Starts the upstream first (its client needs Gatehouse's callback URL, so Gatehouse's port is picked
 * before either starts), then Gatehouse with UPSTREAM_TEST_* pointing at it.
 */
export async function startUpstreamStack(env: Record<string, string | undefined>, options: TestServerOptions = {}): Promise<UpstreamStack> {
  const port = options.port ?? (await freePort());
  const host = options.issuerHost ?? '127.0.0.1';
  const upstream = await startUpstream({ redirectUris: [`http://${host}:${port}/upstream/${UPSTREAM_ID}/callback`] });
  let server: TestServer;
  try {
    server = await startTestServer(
      {
        UPSTREAM_TEST_ISSUER: upstream.issuer,
        UPSTREAM_TEST_CLIENT_ID: upstream.clientId,
        UPSTREAM_TEST_CLIENT_SECRET: upstream.clientSecret,
        UPSTREAM_TEST_NAME: UPSTREAM_NAME,
        ...env,
      },
      { ...options, port },
    );
  } catch (error) {
    await upstream.close();
    throw error;
  }
  return {
    server,
    upstream,
    async close() {
      await server.close();
      await upstream.close();
    },
  };
}

export interface Landing {
  url: string;
  status: number;
  html: string;
}

/**
 * Follows redirects across Gatehouse and the upstream (a browser would) until a page answers or the
 * browser is sent to the relying party's redirect URI (never contacted).
 */
export async function followAcross(ua: UserAgent, url: string, response?: Response): Promise<Landing> {
  let current = url;
  let last = response ?? (await ua.get(current));
  for (let hops = 0; hops < 20 && last.status >= 300 && last.status < 400; hops += 1) {
    current = new URL(last.headers.get('location')!, current).href;
    if (current.startsWith(REDIRECT_URI)) return { url: current, status: last.status, html: '' };
    last = await ua.get(current);
  }
  return { url: current, status: last.status, html: await last.text() };
}

/** On Gatehouse's sign-in page: follows "Sign in with Test IdP" to the upstream's page (or straight back, when the upstream remembers the browser). */
export async function clickUpstream(ua: UserAgent, issuer: string, loginPage: Landing): Promise<Landing> {
  const href = new RegExp(`href="(/interaction/[^"]+/upstream/${UPSTREAM_ID})"`).exec(loginPage.html)?.[1];
  if (!href) throw new Error('no upstream link on the sign-in page');
  return followAcross(ua, new URL(href, issuer).href);
}

/** On the upstream's sign-in page: signs in as `sub` (or cancels) and follows wherever that leads. */
export async function signInUpstream(ua: UserAgent, upstream: Upstream, page: Landing, sub: string, action: 'login' | 'cancel' = 'login'): Promise<Landing> {
  const target = new URL(formAction(page.html, '/login'), upstream.issuer).href;
  return followAcross(ua, target, await ua.post(target, { sub, action }));
}

/** Posts one of Gatehouse's interaction forms (`pathEnd` of its action) with its CSRF token, following where it leads. */
export async function submitForm(ua: UserAgent, issuer: string, page: Landing, pathEnd: string, form: Record<string, string> = {}): Promise<Landing> {
  const target = new URL(formAction(page.html, pathEnd), issuer).href;
  return followAcross(ua, target, await ua.post(target, { csrf: inputValue(page.html, 'csrf'), ...form }));
}
