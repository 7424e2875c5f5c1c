import { createAccount } from '../../src/accounts/create-account.ts';
import { upsertClient } from '../../src/storage/postgres/clients.queries.ts';
import type { TestServer } from './app.ts';
import { formAction, inputValue, type UserAgent } from './browserless.ts';
import { REDIRECT_URI } from './e2e.ts';
import { rawAuthorization } from './forms.ts';

export const USER = { email: 'user@example.com', password: 'a perfectly long password' };
export const WEB_SECRET = 'web-client-secret-0123456789-abcdefghijkl';

/** A confidential web client, a first-party client and one user, written straight to the database. */
export async function seedBasics(server: TestServer): Promise<void> {
  const { db, hasher } = server.app;
  const base = { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'client_secret_basic' };
  await upsertClient(db, 'web', { ...base, client_id: 'web', client_name: 'Web App', client_secret: WEB_SECRET, post_logout_redirect_uris: ['http://127.0.0.1:8080/bye'] });
  await upsertClient(db, 'other', { ...base, client_id: 'other', client_name: 'Other App', client_secret: WEB_SECRET });
  await upsertClient(db, 'house', { ...base, client_id: 'house', client_name: 'House App', client_secret: WEB_SECRET, first_party: true });
  await createAccount(db, hasher, { ...USER, emailVerified: true });
}

/** A code + PKCE authorization request URL (the verifier is not needed: these tests stop at the code). */
export function authorizationUrl(issuer: string, clientId: string, params: Record<string, string> = {}): string {
  return rawAuthorization(issuer, { client_id: clientId, redirect_uri: REDIRECT_URI, scope: 'openid email', ...params }).url;
}

export interface PageAt {
  url: string;
  html: string;
  status: number;
}

/** Follows an authorization request to the page it lands on at Gatehouse. */
export async function open(ua: UserAgent, issuer: string, url: string): Promise<PageAt> {
  const { url: landed, response } = await ua.follow(url, issuer);
  return { url: landed, html: await response.text(), status: response.status };
}

/** Submits the login form of `page` and follows redirects; returns where the browser ends up. */
export async function submitLogin(ua: UserAgent, issuer: string, page: PageAt, form: Record<string, string> = {}): Promise<PageAt> {
  const response = await ua.post(new URL(formAction(page.html, '/login'), issuer).href, {
    email: USER.email,
    password: USER.password,
    csrf: inputValue(page.html, 'csrf'),
    ...form,
  });
  if (response.status !== 303) return { url: page.url, html: await response.text(), status: response.status };
  const { url, response: last } = await ua.follow(page.url, issuer, response);
  return { url, html: await last.text(), status: last.status };
}

export async function submitConsent(ua: UserAgent, issuer: string, page: PageAt, decision = 'approve'): Promise<PageAt> {
  const response = await ua.post(new URL(formAction(page.html, '/consent'), issuer).href, { decision, csrf: inputValue(page.html, 'csrf') });
  const { url, response: last } = await ua.follow(page.url, issuer, response);
  return { url, html: await last.text(), status: last.status };
}

export const codeOf = (url: string) => new URL(url).searchParams.get('code');
