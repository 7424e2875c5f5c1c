import { createHash } from 'node:crypto';
import type { TestServer } from './app.ts';
import { inputValue, type UserAgent } from './browserless.ts';
import { REDIRECT_URI } from './e2e.ts';
import { rawAuthorization, signInThroughForms } from './forms.ts';
import { WEB_SECRET } from './fixtures.ts';
import type { ReceivedMail, SmtpSink } from './smtp-sink.ts';

/** GETs one of our account pages and POSTs its form (with the page's CSRF token) plus `fields`. */
export async function fillForm(ua: UserAgent, issuer: string, path: string, fields: Record<string, string>, formPath = path): Promise<Response> {
  const html = await (await ua.get(`${issuer}${path}`)).text();
  return ua.post(`${issuer}${formPath}`, { csrf: inputValue(html, 'csrf'), ...fields });
}

/** The page body with the per-browser CSRF token blanked, for byte-for-byte comparisons. */
export const withoutCsrf = (html: string) => html.replace(/name="csrf" value="[^"]*"/g, 'name="csrf" value=""');

/** The first link with a token in a mail's text part. */
export function tokenLink(mail: ReceivedMail): string {
  const match = /https?:\/\/\S+\?token=[A-Za-z0-9_-]+/.exec(mail.text);
  if (!match) throw new Error(`no token link in mail "${mail.subject}"`);
  return match[0];
}

/** Waits for the next mail to `to` after the `seen` count (the outbox delivers asynchronously). */
export async function nextMailTo(sink: SmtpSink, server: TestServer, to: string, seen: number): Promise<ReceivedMail> {
  await server.app.mailer.deliverDue();
  return sink.waitFor((mail) => mail.to.includes(to) && sink.messages.indexOf(mail) >= seen, 5000);
}

/**
 * Signs in to the `web` client (see fixtures.seedBasics) asking for offline_access and exchanges the
 * code, so a test holds a real refresh token issued before whatever it does next.
 */
export async function refreshTokenFor(ua: UserAgent, server: TestServer, email: string, password: string): Promise<string> {
  const auth = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI, scope: 'openid offline_access', prompt: 'consent' });
  const callback = await signInThroughForms(ua, server.issuer, auth.url, email, password);
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`web:${WEB_SECRET}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: auth.verifier }),
  });
  const tokens = (await response.json()) as { refresh_token?: string };
  if (!tokens.refresh_token) throw new Error(`no refresh token: ${JSON.stringify(tokens)}`);
  return tokens.refresh_token;
}

export function refresh(server: TestServer, refreshToken: string): Promise<Response> {
  return fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`web:${WEB_SECRET}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
}

export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
