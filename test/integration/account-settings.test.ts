import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createAccount } from '../../src/accounts/create-account.ts';
import { fillForm, nextMailTo, tokenLink } from '../support/accounts.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { UserAgent } from '../support/browserless.ts';
import { REDIRECT_URI } from '../support/e2e.ts';
import { seedBasics, WEB_SECRET } from '../support/fixtures.ts';
import { openLoginPage, rawAuthorization, signInThroughForms, submit } from '../support/forms.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const PASSWORD = 'an unverified person passphrase';

/** The switches around accounts: closed registration, unverified sign-in, truthful email_verified, resend cooldown. */
describe('account settings', () => {
  let sink: SmtpSink;

  beforeAll(async () => {
    sink = await startSmtpSink();
  });

  afterAll(async () => {
    await sink?.close();
  });

  describe('REGISTRATION=closed and ALLOW_UNVERIFIED_SIGN_IN=false', () => {
    let server: TestServer;

    beforeAll(async () => {
      server = await startTestServer({ DATA_DIR: 'memory://', SMTP_URL: sink.url, REGISTRATION: 'closed', ALLOW_UNVERIFIED_SIGN_IN: 'false' });
      await seedBasics(server);
      await createAccount(server.app.db, server.app.hasher, { email: 'unverified@example.com', password: PASSWORD });
    });

    afterAll(async () => {
      await server?.close();
    });

    it('has no registration page and no link to it', async () => {
      expect((await fetch(`${server.issuer}/register`)).status).toBe(404);
      const ua = new UserAgent();
      const login = await openLoginPage(ua, server.issuer, rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI }).url);
      expect(login.html).not.toContain('href="/register"');
      expect(login.html).toContain('href="/forgot-password"');
    });

    it('keeps an unverified account out after a correct password, and only then says why', async () => {
      const ua = new UserAgent();
      const login = await openLoginPage(ua, server.issuer, rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI }).url);
      const right = await submit(ua, login.login, { email: 'unverified@example.com', password: PASSWORD });
      expect(right.status).toBe(400);
      expect(await right.text()).toContain('Confirm your email address first');
      const wrong = await submit(ua, login.login, { email: 'unverified@example.com', password: 'not it at all, sorry' });
      expect(await wrong.text()).toContain('Email or password is incorrect.');
    });
  });

  describe('defaults: open registration, unverified sign-in allowed', () => {
    let server: TestServer;

    beforeAll(async () => {
      server = await startTestServer({ DATA_DIR: 'memory://', SMTP_URL: sink.url });
      await seedBasics(server);
      await createAccount(server.app.db, server.app.hasher, { email: 'unverified@example.com', password: PASSWORD });
    });

    afterAll(async () => {
      await server?.close();
    });

    it('signs an unverified account in with email_verified false in userinfo', async () => {
      const auth = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI, scope: 'openid email' });
      const callback = await signInThroughForms(new UserAgent(), server.issuer, auth.url, 'unverified@example.com', PASSWORD);
      const tokens = (await (await fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`web:${WEB_SECRET}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: auth.verifier }),
      })).json()) as { access_token: string };
      const userinfo = (await (await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json()) as Record<string, unknown>;
      expect(userinfo).toMatchObject({ email: 'unverified@example.com', email_verified: false });
    });

    it('resends a verification link at most once a minute, with the same answer every time', async () => {
      const seen = sink.messages.length;
      const first = await fillForm(new UserAgent(), server.issuer, '/verify-email', { email: 'unverified@example.com' }, '/verify-email/resend');
      const second = await fillForm(new UserAgent(), server.issuer, '/verify-email', { email: 'unverified@example.com' }, '/verify-email/resend');
      const unknown = await fillForm(new UserAgent(), server.issuer, '/verify-email', { email: 'nobody@example.com' }, '/verify-email/resend');
      expect([first.status, second.status, unknown.status]).toEqual([200, 200, 200]);
      const mail = await nextMailTo(sink, server, 'unverified@example.com', seen);
      expect(tokenLink(mail)).toContain('/verify-email?token=');
      await server.app.mailer.deliverDue();
      expect(sink.messages.slice(seen).filter((message) => message.to.includes('unverified@example.com'))).toHaveLength(1);
    });
  });
});
