import { createHash, randomBytes } from 'node:crypto';
import { startTestServer, type TestServer } from './app.ts';
import type { DatabaseBackend } from './backends.ts';
import { UserAgent } from './browserless.ts';
import { REDIRECT_URI } from './e2e.ts';

/**
 * Helpers for driving the real interaction pages like a browser would, hidden fields (the CSRF token)
 * included, plus raw authorization requests for tests that must see exactly what the OP answers.
 */

/** startTestServer env for one database backend: the per-file Postgres database or in-memory PGlite. */
export async function backendEnv(backend: DatabaseBackend): Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }> {
  const { config, cleanup } = await backend.setup();
  return { env: config.kind === 'postgres' ? { DATABASE_URL: config.url } : { DATA_DIR: config.dataDir }, cleanup };
}

/** A test server on a fresh database of `backend`; `stop` closes the server and then drops the database. */
export async function startOnBackend(backend: DatabaseBackend, env: Record<string, string> = {}): Promise<{ server: TestServer; stop: () => Promise<void> }> {
  const made = await backendEnv(backend);
  let server: TestServer;
  try {
    server = await startTestServer({ ...made.env, ...env });
  } catch (error) {
    await made.cleanup();
    throw error;
  }
  return {
    server,
    async stop() {
      await server.close();
      await made.cleanup();
    },
  };
}

export interface RawAuthorization {
  url: string;
  verifier: string;
  state: string;
}

/** An authorization request with valid PKCE S256, response_type=code and scope=openid; `params` adds or overrides. */
export function rawAuthorization(issuer: string, params: Record<string, string>): RawAuthorization {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  const query = new URLSearchParams({
    response_type: 'code',
    scope: 'openid',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state,
    nonce: randomBytes(12).toString('base64url'),
    ...params,
  });
  return { url: `${issuer}/auth?${query}`, verifier, state };
}

export interface HtmlForm {
  /** Absolute URL the form posts to. */
  action: string;
  /** Hidden inputs by name (e.g. csrf). */
  hidden: Record<string, string>;
}

function decodeEntities(value: string): string {
  return value
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Every `<input>` in `html` as its attributes (name, type, value, ...), decoded. */
export function inputs(html: string): Record<string, string>[] {
  return [...html.matchAll(/<input\b[^>]*>/g)].map(([tag]) =>
    Object.fromEntries([...tag.matchAll(/\s([\w-]+)="([^"]*)"/g)].map(([, name, value]) => [name!, decodeEntities(value!)])),
  );
}

/** The form whose action ends with `pathEnd`, with its hidden inputs. */
export function findForm(html: string, pathEnd: string, base: string): HtmlForm {
  for (const [, open, inner] of html.matchAll(/(<form\b[^>]*>)([\s\S]*?)<\/form>/g)) {
    const action = /\saction="([^"]*)"/.exec(open!)?.[1];
    if (!action || !decodeEntities(action).endsWith(pathEnd)) continue;
    const hidden: Record<string, string> = {};
    for (const input of inputs(inner!)) {
      if (input.type === 'hidden' && input.name) hidden[input.name] = input.value ?? '';
    }
    return { action: new URL(decodeEntities(action), base).href, hidden };
  }
  throw new Error(`no form posting to ${pathEnd}`);
}

export interface LoginPage {
  uid: string;
  url: string;
  html: string;
  login: HtmlForm;
}

/** Follows an authorization request to the sign-in page and reads its forms. */
export async function openLoginPage(ua: UserAgent, issuer: string, authUrl: string): Promise<LoginPage> {
  const { url, response } = await ua.follow(authUrl, issuer);
  const uid = /\/interaction\/([^/?#]+)/.exec(url)?.[1];
  if (response.status !== 200 || !uid) throw new Error(`expected the sign-in page, got ${response.status} at ${url}`);
  const html = await response.text();
  return { uid, url, html, login: findForm(html, '/login', issuer) };
}

/** POSTs a form with its hidden fields plus `fields`. */
export function submit(ua: UserAgent, form: HtmlForm, fields: Record<string, string> = {}): Promise<Response> {
  return ua.post(form.action, { ...form.hidden, ...fields });
}

/**
 * Signs in through the real pages (approving consent when asked) and returns the URL the browser lands
 * on at the client: its redirect_uri with code or error, and iss.
 */
export async function signInThroughForms(ua: UserAgent, issuer: string, authUrl: string, email: string, password: string): Promise<URL> {
  return finishSignIn(ua, issuer, await openLoginPage(ua, issuer, authUrl), email, password);
}

/** The rest of signInThroughForms from a sign-in page already open (a test may change instance in between). */
export async function finishSignIn(ua: UserAgent, issuer: string, page: LoginPage, email: string, password: string): Promise<URL> {
  let response = await submit(ua, page.login, { email, password });
  if (response.status !== 303) throw new Error(`sign-in refused: ${response.status}`);
  let { url, response: last } = await ua.follow(page.url, issuer, response);
  if (url.startsWith(issuer)) {
    const html = await last.text();
    response = await submit(ua, findForm(html, '/consent', issuer), { decision: 'approve' });
    ({ url, response: last } = await ua.follow(url, issuer, response));
  }
  if (url.startsWith(issuer)) throw new Error(`still at the OP after sign-in: ${last.status} ${url}`);
  return new URL(url);
}

/** Whether `email` / `password` gets the `web` client (fixtures.seedBasics) a code through the real pages. */
export async function signInWorks(issuer: string, email: string, password: string): Promise<boolean> {
  try {
    const url = await signInThroughForms(new UserAgent(), issuer, rawAuthorization(issuer, { client_id: 'web', redirect_uri: REDIRECT_URI }).url, email, password);
    return url.searchParams.has('code');
  } catch {
    return false;
  }
}
