import { fillForm } from './accounts.ts';
import type { TestServer } from './app.ts';
import { UserAgent } from './browserless.ts';
import { REDIRECT_URI } from './e2e.ts';
import { rawAuthorization, signInThroughForms } from './forms.ts';

/** A browser signed in to the OP (oidc-provider's session cookie kept) as `email`, through the real pages. */
export async function signedInBrowser(server: TestServer, email: string, password: string): Promise<UserAgent> {
  const ua = new UserAgent();
  await signInThroughForms(ua, server.issuer, rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI }).url, email, password);
  return ua;
}

export interface Page {
  status: number;
  html: string;
  headers: Headers;
}

export async function getPage(ua: UserAgent, url: string, headers?: Record<string, string>): Promise<Page> {
  const response = await ua.get(url, headers);
  return { status: response.status, html: await response.text(), headers: response.headers };
}

/** Opens `page` (/account unless named) and submits one of its forms (the page's CSRF token included) with `fields`. */
export async function submitAccountForm(ua: UserAgent, server: TestServer, formPath: string, fields: Record<string, string>, page = '/account'): Promise<Page> {
  const response = await fillForm(ua, server.issuer, page, fields, formPath);
  return { status: response.status, html: await response.text(), headers: response.headers };
}

/** The same from /account/security, the page of the two-step and recovery-code forms. */
export const submitSecurityForm = (ua: UserAgent, server: TestServer, formPath: string, fields: Record<string, string>): Promise<Page> =>
  submitAccountForm(ua, server, formPath, fields, '/account/security');
