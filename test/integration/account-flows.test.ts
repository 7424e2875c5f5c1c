import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { findAccountByEmail } from '../../src/storage/postgres/accounts.queries.ts';
import { fillForm, nextMailTo, refresh, refreshTokenFor, sha256, tokenLink, withoutCsrf } from '../support/accounts.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { inputValue, UserAgent } from '../support/browserless.ts';
import { REDIRECT_URI } from '../support/e2e.ts';
import { seedBasics, USER } from '../support/fixtures.ts';
import { rawAuthorization, signInWorks as signInWorksAt } from '../support/forms.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const PASSPHRASE = 'correct horse battery staple';
const MINUTE = 60_000;

/** Registration, email verification and password reset through the real pages and a real SMTP server. */
describe('account flows over real mail', () => {
  let sink: SmtpSink;
  let server: TestServer;
  let offset = 0;

  beforeAll(async () => {
    sink = await startSmtpSink();
    // New-browser mails would interleave with the mails these tests wait for (they have their own suite).
    server = await startTestServer({ DATA_DIR: 'memory://', SMTP_URL: sink.url, TRUST_PROXY: 'true', NEW_DEVICE_ALERTS: 'false' }, { clock: () => Date.now() + offset });
    await seedBasics(server);
  });

  afterAll(async () => {
    await server?.close();
    await sink?.close();
  });

  const signInWorks = (email: string, password: string) => signInWorksAt(server.issuer, email, password);

  /** The account's audit rows of these types, oldest first (LOG-01). */
  const auditTypes = async (accountId: string, types: string[]) =>
    (await server.app.db.selectFrom('audit_events').select('type').where('account_id', '=', accountId).where('type', 'in', types).orderBy('id').execute()).map((row) => row.type);

  describe('registration and verification', () => {
    it('registers, mails a link from ISSUER, moves the token out of the URL, verifies, and the account signs in with email_verified', async () => {
      const ua = new UserAgent();
      const seen = sink.messages.length;
      const done = await fillForm(ua, server.issuer, '/register', { email: 'new.person@example.com', name: 'New Person', password: PASSPHRASE });
      expect(done.status).toBe(200);
      const mail = await nextMailTo(sink, server, 'new.person@example.com', seen);
      const link = tokenLink(mail);
      expect(link.startsWith(`${server.issuer}/verify-email?token=`)).toBe(true);
      // PW-03 / REC-02: the token has full entropy and only its hash is stored.
      const token = new URL(link).searchParams.get('token')!;
      const rows = await server.app.db.selectFrom('account_tokens').select('token_hash').execute();
      expect(rows.map((row) => row.token_hash)).toContain(sha256(token));
      expect(rows.map((row) => row.token_hash)).not.toContain(token);

      const landing = await ua.get(link);
      expect(landing.status).toBe(303);
      expect(landing.headers.get('location')).toBe('/verify-email');
      expect(landing.headers.get('referrer-policy')).toBe('no-referrer');
      expect((await findAccountByEmail(server.app.db, 'new.person@example.com'))!.email_verified).toBe(false);
      const confirmed = await fillForm(ua, server.issuer, '/verify-email', {});
      expect(await confirmed.text()).toContain('Your email address is confirmed');
      expect((await findAccountByEmail(server.app.db, 'new.person@example.com'))!.email_verified).toBe(true);
      // Single use.
      const again = await ua.get(link);
      expect((await ua.get(`${server.issuer}${again.headers.get('location')}`)).status).toBe(400);
      expect(await signInWorks('new.person@example.com', PASSPHRASE)).toBe(true);
      const { id } = (await findAccountByEmail(server.app.db, 'new.person@example.com'))!;
      expect(await auditTypes(id, ['registration', 'email_verified'])).toEqual(['registration', 'email_verified']);
    });

    it('answers an existing address exactly like a new one and mails its owner instead', async () => {
      const seen = sink.messages.length;
      const fresh = await fillForm(new UserAgent(), server.issuer, '/register', { email: 'fresh@example.com', name: 'Fresh', password: PASSPHRASE });
      const taken = await fillForm(new UserAgent(), server.issuer, '/register', { email: USER.email.toUpperCase(), name: 'Intruder', password: PASSPHRASE });
      expect(taken.status).toBe(fresh.status);
      expect(withoutCsrf(await taken.text())).toBe(withoutCsrf(await fresh.text()));
      const note = await nextMailTo(sink, server, USER.email, seen);
      expect(note.text).not.toMatch(/token=/);
      expect(await signInWorks(USER.email, USER.password)).toBe(true);
    });

    it.each([
      ['14 code points', 'fourteen chars', /at least 15/],
      ['a common password', 'passwordpassword', /common/],
      ['the email name plus digits', 'picky.person2024!!!', /email|service/],
    ])('PW-01/04: refuses %s with a message, keeping the typed email and name', async (_case, password, message) => {
      const response = await fillForm(new UserAgent(), server.issuer, '/register', { email: 'picky.person@example.com', name: 'Picky', password });
      expect(response.status).toBe(400);
      const html = await response.text();
      expect(html).toMatch(message);
      expect(html).toContain('value="picky.person@example.com"');
      expect(await findAccountByEmail(server.app.db, 'picky.person@example.com')).toBeUndefined();
    });

    it('PW-02: accepts 256 characters and verifies all of them (no truncation)', async () => {
      const long = 'a long passphrase '.repeat(15).slice(0, 255) + 'x';
      expect([...long]).toHaveLength(256);
      await fillForm(new UserAgent(), server.issuer, '/register', { email: 'long@example.com', name: 'Long', password: long });
      expect(await signInWorks('long@example.com', long)).toBe(true);
      expect(await signInWorks('long@example.com', long.slice(0, 255) + 'y')).toBe(false);
      const tooLong = await fillForm(new UserAgent(), server.issuer, '/register', { email: 'longer@example.com', name: 'Longer', password: long + 'z' });
      expect(tooLong.status).toBe(400);
    });

    it('refuses a registration POST with another browser\'s CSRF token', async () => {
      const html = await (await new UserAgent().get(`${server.issuer}/register`)).text();
      const response = await new UserAgent().post(`${server.issuer}/register`, { csrf: inputValue(html, 'csrf'), email: 'x@example.com', name: 'X', password: PASSPHRASE });
      expect(response.status).toBe(403);
    });
  });

  describe('password reset', () => {
    const forgot = (ua: UserAgent, email: string, headers: Record<string, string> = {}) =>
      ua.get(`${server.issuer}/forgot-password`).then(async (page) =>
        ua.request(`${server.issuer}/forgot-password`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body: new URLSearchParams({ csrf: inputValue(await page.text(), 'csrf'), email }).toString(),
        }),
      );

    it('REC-01/03: the same answer for known and unknown addresses; the link comes from ISSUER whatever the Host', async () => {
      offset += 2 * MINUTE; // past the resend cooldown of earlier tests
      const seen = sink.messages.length;
      const known = await forgot(new UserAgent(), USER.email, { host: 'evil.test', 'x-forwarded-host': 'evil.test', 'x-forwarded-proto': 'https' });
      const unknown = await forgot(new UserAgent(), 'nobody-here@example.com');
      expect(known.status).toBe(200);
      expect(withoutCsrf(await known.text())).toBe(withoutCsrf(await unknown.text()));
      const mail = await nextMailTo(sink, server, USER.email, seen);
      expect(tokenLink(mail).startsWith(`${server.issuer}/reset-password?token=`)).toBe(true);
      expect(mail.text + mail.html).not.toContain('evil.test');
      expect(sink.messages.slice(seen).some((message) => message.to.includes('nobody-here'))).toBe(false);
    });

    it('REC-02/04/05/06: resets once, revokes sessions and refresh tokens, notifies, and does not sign in', async () => {
      offset += 2 * MINUTE;
      const victimBrowser = new UserAgent();
      const refreshToken = await refreshTokenFor(victimBrowser, server, USER.email, USER.password);
      const seen = sink.messages.length;
      const ua = new UserAgent();
      await forgot(ua, USER.email);
      const link = tokenLink(await nextMailTo(sink, server, USER.email, seen));

      const landing = await ua.get(link);
      expect(landing.status).toBe(303);
      expect(landing.headers.get('location')).toBe('/reset-password');
      const weak = await fillForm(ua, server.issuer, '/reset-password', { password: 'short' });
      expect(weak.status).toBe(400); // a weak password does not use the link up
      const cookiesBefore = new Set(ua.cookies.keys());
      const done = await fillForm(ua, server.issuer, '/reset-password', { password: 'a brand new passphrase for me' });
      expect(await done.text()).toContain('Your password has been changed');
      expect([...ua.cookies.keys()].filter((name) => !cookiesBefore.has(name) && name.includes('session'))).toEqual([]);

      expect((await refresh(server, refreshToken)).status).toBe(400);
      const silent = await victimBrowser.follow(rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI, prompt: 'none' }).url, server.issuer);
      expect(new URL(silent.url).searchParams.get('error')).toBe('login_required');
      const notice = await nextMailTo(sink, server, USER.email, seen + 1);
      expect(notice.text).not.toMatch(/token=/);
      expect(await signInWorks(USER.email, USER.password)).toBe(false);
      expect(await signInWorks(USER.email, 'a brand new passphrase for me')).toBe(true);

      const reuse = await ua.get(link);
      expect((await ua.get(`${server.issuer}${reuse.headers.get('location')}`)).status).toBe(400);
      USER.password = 'a brand new passphrase for me';
      const { id } = (await findAccountByEmail(server.app.db, USER.email))!;
      expect(await auditTypes(id, ['password_reset_requested', 'password_reset'])).toEqual(expect.arrayContaining(['password_reset_requested', 'password_reset']));
    });

    it('REC-02: an expired link and the older of two links are refused', async () => {
      offset += 2 * MINUTE;
      let seen = sink.messages.length;
      await forgot(new UserAgent(), USER.email);
      const older = tokenLink(await nextMailTo(sink, server, USER.email, seen));
      offset += 2 * MINUTE;
      seen = sink.messages.length;
      await forgot(new UserAgent(), USER.email);
      const newer = tokenLink(await nextMailTo(sink, server, USER.email, seen));

      const opened = async (link: string) => {
        const ua = new UserAgent();
        const landing = await ua.get(link);
        return ua.get(`${server.issuer}${landing.headers.get('location')}`);
      };
      expect((await opened(older)).status).toBe(400);
      offset += 31 * MINUTE;
      expect((await opened(newer)).status).toBe(400);
    });
  });
});
