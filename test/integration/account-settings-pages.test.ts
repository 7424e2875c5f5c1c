import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createAccount } from '../../src/accounts/create-account.ts';
import { findAccountByEmail } from '../../src/storage/postgres/accounts.queries.ts';
import { nextMailTo, refresh, refreshTokenFor, tokenLink, withoutCsrf } from '../support/accounts.ts';
import { getPage, signedInBrowser, submitAccountForm } from '../support/account-settings.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { inputValue, UserAgent } from '../support/browserless.ts';
import { seedBasics } from '../support/fixtures.ts';
import { signInWorks as signInWorksAt } from '../support/forms.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const csrfOf = (html: string) => inputValue(html, 'csrf');
const PASSWORD = 'the settings test passphrase';
const NEW_PASSWORD = 'another quite different passphrase';

/** The signed-in account area (/account, linking to /account/security): change password, change email, through real pages and real mail. */
describe('account settings pages', () => {
  let sink: SmtpSink;
  let server: TestServer;
  let people = 0;

  beforeAll(async () => {
    sink = await startSmtpSink();
    server = await startTestServer({ DATA_DIR: 'memory://', SMTP_URL: sink.url });
    await seedBasics(server);
  });

  afterAll(async () => {
    await server?.close();
    await sink?.close();
  });

  /** A fresh verified account per test, so tests do not see each other's changes. */
  const person = async () => {
    people += 1;
    const email = `settings.person${people}@example.com`;
    await createAccount(server.app.db, server.app.hasher, { email, name: `Person ${people}`, password: PASSWORD, emailVerified: true });
    return email;
  };
  const passwordHash = async (email: string) => (await findAccountByEmail(server.app.db, email))!.password_hash;
  const signInWorks = (email: string, password: string) => signInWorksAt(server.issuer, email, password);

  describe('who is signed in', () => {
    it('asks a signed-out visitor to sign in, without redirecting, in English and Arabic', async () => {
      const page = await getPage(new UserAgent(), `${server.issuer}/account`);
      expect(page.status).toBe(200);
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.html).toContain('Sign in to manage your account');
      expect(page.html).not.toContain('action="/account/password"');
      const ar = await getPage(new UserAgent(), `${server.issuer}/account`, { 'accept-language': 'ar' });
      expect(ar.html).toContain('dir="rtl"');
      expect(ar.html).toContain('سجِّل الدخول لإدارة حسابك');
    });

    it('gives a signed-out visitor of the security page the same sign-in page, with no two-step forms', async () => {
      const page = await getPage(new UserAgent(), `${server.issuer}/account/security`);
      const account = await getPage(new UserAgent(), `${server.issuer}/account`);
      expect(page.status).toBe(200);
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(withoutCsrf(page.html)).toBe(withoutCsrf(account.html));
      expect(page.html).not.toContain('/account/totp/');
    });

    it('shows the signed-in account with two labelled, CSRF-protected forms', async () => {
      const email = await person();
      const ua = await signedInBrowser(server, email, PASSWORD);
      const page = await getPage(ua, `${server.issuer}/account`);
      expect(page.status).toBe(200);
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.html).toContain(email);
      expect(page.html).toContain('(confirmed)');
      expect(page.html).toMatch(/<form method="post" action="\/account\/password"/);
      expect(page.html).toMatch(/<form method="post" action="\/account\/email"/);
      expect(page.html.match(/name="csrf" value="[^"]+"/g)).toHaveLength(2); // password, email
      expect(page.html).toMatch(/<input type="email" name="username" value="[^"]+" autocomplete="username" readonly hidden>/);
      expect(page.html).toMatch(/id="newPassword" name="newPassword"[^>]*autocomplete="new-password"/);
      for (const field of ['currentPassword', 'newPassword', 'newEmail', 'emailPassword']) expect(page.html).toContain(`<label for="${field}">`);
      const ar = await getPage(ua, `${server.issuer}/account`, { 'accept-language': 'ar' });
      expect(ar.html).toContain('تغيير كلمة المرور');
      expect(ar.html).toContain('<a href="/account/security">إدارة أمان تسجيل الدخول</a>');
    });

    it('links to the security page, which has the two-step forms that /account no longer has', async () => {
      const email = await person();
      const ua = await signedInBrowser(server, email, PASSWORD);
      const account = await getPage(ua, `${server.issuer}/account`);
      expect(account.html).toMatch(
        /<section aria-labelledby="security-heading"><h2 id="security-heading">Sign-in security<\/h2>.*<a href="\/account\/security">Manage sign-in security<\/a>/,
      );
      expect(account.html).not.toContain('/account/totp/');
      expect(account.html).not.toContain('/account/recovery-codes');
      const security = await getPage(ua, `${server.issuer}/account/security`);
      expect(security.status).toBe(200);
      expect(security.html).toContain('<title>Sign-in security · Gatehouse</title>');
      expect(security.html).toMatch(/<form method="post" action="\/account\/totp\/start"/);
      expect(security.html).toContain('<a href="/account">Back to your account</a>');
    });

    it('refuses a POST without the CSRF token (403) and one from another site', async () => {
      const email = await person();
      const ua = await signedInBrowser(server, email, PASSWORD);
      const before = await passwordHash(email);
      const noToken = await ua.post(`${server.issuer}/account/password`, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
      expect(noToken.status).toBe(403);
      const foreign = await ua.request(`${server.issuer}/account/email`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
        body: new URLSearchParams({ newEmail: 'evil@example.com', emailPassword: PASSWORD }).toString(),
      });
      expect(foreign.status).toBe(403);
      expect(await passwordHash(email)).toBe(before);
    });

    it('changes nothing once the OP session is gone, even with a valid form', async () => {
      const email = await person();
      const ua = await signedInBrowser(server, email, PASSWORD);
      const page = await getPage(ua, `${server.issuer}/account`);
      for (const name of [...ua.cookies.keys()]) if (name.includes('session')) ua.cookies.delete(name);
      const before = await passwordHash(email);
      const response = await ua.post(`${server.issuer}/account/password`, { csrf: csrfOf(page.html), currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
      expect(response.status).toBe(401);
      expect(await response.text()).toContain('Sign in to manage your account');
      expect(await passwordHash(email)).toBe(before);
    });
  });

  describe('change password', () => {
    it('requires the right current password and a policy-conforming new one', async () => {
      const email = await person();
      const ua = await signedInBrowser(server, email, PASSWORD);
      const before = await passwordHash(email);

      const wrong = await submitAccountForm(ua, server, '/account/password', { currentPassword: 'not my password at all', newPassword: NEW_PASSWORD });
      expect(wrong.status).toBe(400);
      expect(wrong.html).toContain('Your current password is incorrect.');
      expect(wrong.html).toMatch(/<p class="error" id="currentPassword-error" role="alert">/);
      expect(wrong.html).toMatch(/id="currentPassword" name="currentPassword" aria-invalid="true" aria-describedby="currentPassword-error"/);

      const weak = await submitAccountForm(ua, server, '/account/password', { currentPassword: PASSWORD, newPassword: 'short' });
      expect(weak.status).toBe(400);
      expect(weak.html).toMatch(/id="newPassword-error" role="alert"/);

      expect(await passwordHash(email)).toBe(before);
      expect(await signInWorks(email, PASSWORD)).toBe(true);
    });

    it('changes the password, ends every session and refresh token, and mails the account', async () => {
      const email = await person();
      const ua = new UserAgent();
      // A real refresh token (and OP session in `ua`) from before the change.
      const issued = await refreshTokenFor(ua, server, email, PASSWORD);
      const first = await refresh(server, issued);
      expect(first.status).toBe(200);
      // With rotation the answer carries the token that is current now; the change must end that one.
      const refreshToken = ((await first.json()) as { refresh_token?: string }).refresh_token ?? issued;
      const seen = sink.messages.length;

      const done = await submitAccountForm(ua, server, '/account/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
      expect(done.status).toBe(200);
      expect(done.html).toContain('you have been signed out everywhere');

      const mail = await nextMailTo(sink, server, email, seen);
      expect(mail.text).toContain(`${server.issuer}/forgot-password`);
      const rotated = (await (await refresh(server, refreshToken)).json()) as { error?: string };
      expect(rotated.error).toBe('invalid_grant');
      expect((await getPage(ua, `${server.issuer}/account`)).html).toContain('Sign in to manage your account');
      expect(await signInWorks(email, PASSWORD)).toBe(false);
      expect(await signInWorks(email, NEW_PASSWORD)).toBe(true);
    });
  });

  describe('change email', () => {
    it('requires the current password and a different, plausible address', async () => {
      const email = await person();
      const ua = await signedInBrowser(server, email, PASSWORD);
      const seen = sink.messages.length;
      const wrong = await submitAccountForm(ua, server, '/account/email', { newEmail: 'moved.somewhere@example.com', emailPassword: 'not the password' });
      expect(wrong.status).toBe(400);
      expect(wrong.html).toMatch(/id="emailPassword-error" role="alert">Your current password is incorrect\./);
      expect(wrong.html).toContain('value="moved.somewhere@example.com"');
      const same = await submitAccountForm(ua, server, '/account/email', { newEmail: email.toUpperCase(), emailPassword: PASSWORD });
      expect(same.status).toBe(400);
      expect(same.html).toMatch(/id="newEmail-error" role="alert"/);
      const junk = await submitAccountForm(ua, server, '/account/email', { newEmail: 'not an address', emailPassword: PASSWORD });
      expect(junk.status).toBe(400);
      await server.app.mailer.deliverDue();
      expect(sink.messages.slice(seen).filter((mail) => mail.to.includes('moved.somewhere@example.com'))).toHaveLength(0);
      expect((await findAccountByEmail(server.app.db, email))!.email).toBe(email);
    });

    it('mails a link to the new address; following it moves the account, verifies it, tells the old address, and works once', async () => {
      const email = await person();
      const newEmail = `moved.${email}`;
      const ua = await signedInBrowser(server, email, PASSWORD);
      // Starting unverified shows that following the link is what verifies the new address.
      await server.app.db.updateTable('accounts').set({ email_verified: false }).where('email', '=', email).execute();
      const seen = sink.messages.length;

      const asked = await submitAccountForm(ua, server, '/account/email', { newEmail, emailPassword: PASSWORD });
      expect(asked.status).toBe(200);
      expect(asked.html).toContain('We sent a link to the new address');
      expect((await findAccountByEmail(server.app.db, email))!.email).toBe(email);

      const mail = await nextMailTo(sink, server, newEmail, seen);
      const link = tokenLink(mail);
      expect(link.startsWith(`${server.issuer}/account/email/confirm?token=`)).toBe(true);

      // Followed in another browser (the mail may be read anywhere): the token leaves the URL at once.
      const other = new UserAgent();
      const landing = await other.get(link);
      expect(landing.status).toBe(303);
      expect(landing.headers.get('location')).toBe('/account/email/confirm');
      const confirm = await getPage(other, `${server.issuer}/account/email/confirm`);
      expect(confirm.status).toBe(200);
      expect(confirm.html).toContain(newEmail);
      const seenBeforeConfirm = sink.messages.length;
      const done = await other.post(`${server.issuer}/account/email/confirm`, { csrf: csrfOf(confirm.html) });
      expect(done.status).toBe(200);
      expect(await done.text()).toContain('Your email address has been changed');

      const account = await findAccountByEmail(server.app.db, newEmail);
      expect(account?.email_verified).toBe(true);
      expect(await findAccountByEmail(server.app.db, email)).toBeUndefined();
      const notice = await nextMailTo(sink, server, email, seenBeforeConfirm);
      expect(notice.to).not.toContain(newEmail);
      expect(notice.text).toContain(newEmail);

      // Single use.
      expect((await other.get(link)).status).toBe(303);
      const again = await getPage(other, `${server.issuer}/account/email/confirm`);
      expect(again.status).toBe(400);
      expect(again.html).toContain('This link no longer works');
      expect(await signInWorks(newEmail, PASSWORD)).toBe(true);
    });

    it('answers an address of another account exactly like a free one and mails nobody', async () => {
      const email = await person();
      const taken = await person();
      const ua = await signedInBrowser(server, email, PASSWORD);
      const seen = sink.messages.length;
      const free = await submitAccountForm(ua, server, '/account/email', { newEmail: 'free.address@example.com', emailPassword: PASSWORD });
      const used = await submitAccountForm(ua, server, '/account/email', { newEmail: taken, emailPassword: PASSWORD });
      expect(used.status).toBe(free.status);
      expect(withoutCsrf(used.html).replace(taken, 'ADDRESS')).toBe(withoutCsrf(free.html).replace('free.address@example.com', 'ADDRESS'));
      await server.app.mailer.deliverDue();
      expect(sink.messages.slice(seen).filter((mail) => mail.to.includes(taken))).toHaveLength(0);
      // The newer request replaced the link mailed to the free address.
      const link = tokenLink(await nextMailTo(sink, server, 'free.address@example.com', seen));
      const other = new UserAgent();
      await other.get(link);
      expect((await getPage(other, `${server.issuer}/account/email/confirm`)).status).toBe(400);
    });
  });
});
