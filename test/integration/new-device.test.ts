import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../support/app.ts';
import { UserAgent } from '../support/browserless.ts';
import { REDIRECT_URI } from '../support/e2e.ts';
import { seedBasics, USER } from '../support/fixtures.ts';
import { rawAuthorization, signInThroughForms } from '../support/forms.ts';

/** Issue 7: a finished sign-in from a browser the account has not used before mails the owner. */
describe('new-device sign-in notification', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://' });
    await seedBasics(server);
  });

  afterAll(async () => {
    await server?.close();
  });

  /** A full password sign-in (prompt=login, so a browser with a session signs in again). */
  const signIn = (ua: UserAgent) =>
    signInThroughForms(ua, server.issuer, rawAuthorization(server.issuer, { client_id: 'house', redirect_uri: REDIRECT_URI, prompt: 'login' }).url, USER.email, USER.password);
  const alerts = async () =>
    (await server.app.db.selectFrom('mail_outbox').select(['subject', 'text_body']).where('recipient', '=', USER.email).execute()).filter((mail) => mail.subject === 'New sign-in to your account');

  it('stays quiet for the first browser and for a known one; mails once for a new one, saying when, where and which', async () => {
    const laptop = new UserAgent();
    expect((await signIn(laptop)).searchParams.has('code')).toBe(true);
    const deviceCookie = laptop.setCookies.find((cookie) => cookie.startsWith('gh_device='))!;
    expect(deviceCookie).toMatch(/; path=\/;/i);
    expect(deviceCookie).toMatch(/httponly/i);
    expect(deviceCookie).toMatch(/samesite=lax/i);
    const days = (Date.parse(/expires=([^;]+)/i.exec(deviceCookie)![1]!) - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(400); // long-lived, within what browsers keep (RFC 6265bis)
    await signIn(laptop);
    expect(await alerts()).toHaveLength(0);

    const phone = new UserAgent();
    await signIn(phone);
    const [alert, ...more] = await alerts();
    expect(more).toHaveLength(0);
    expect(alert!.text_body).toMatch(/When: \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
    expect(alert!.text_body).toContain('From address: 127.0.0.1');
    expect(alert!.text_body).toContain('Browser: node');
    await signIn(phone);
    expect(await alerts()).toHaveLength(1);

    // Only hashes are stored: the cookie itself is not in the table.
    const id = laptop.cookies.get('gh_device')!;
    const rows = await server.app.db.selectFrom('known_devices').select('device_hash').execute();
    expect(rows.map((row) => row.device_hash)).toContain(createHash('sha256').update(id).digest('hex'));
    expect(JSON.stringify(rows)).not.toContain(id);
  });

  it('a forged or malformed device cookie is just a new browser', async () => {
    const known = new UserAgent();
    await signIn(known);
    const before = (await alerts()).length;
    // A known browser's id without its signature (copied, not issued) does not pass for that browser.
    const copied = new UserAgent();
    copied.cookies.set('gh_device', known.cookies.get('gh_device')!);
    await signIn(copied);
    expect(await alerts()).toHaveLength(before + 1);
    const malformed = new UserAgent();
    malformed.cookies.set('gh_device', 'not-a-device-id');
    await signIn(malformed);
    expect(await alerts()).toHaveLength(before + 2);
    expect(malformed.cookies.get('gh_device')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('NEW_DEVICE_ALERTS=false', () => {
  it('sets no device cookie and mails nothing', async () => {
    const server = await startTestServer({ DATA_DIR: 'memory://', NEW_DEVICE_ALERTS: 'false' });
    try {
      await seedBasics(server);
      for (const ua of [new UserAgent(), new UserAgent()]) {
        await signInThroughForms(ua, server.issuer, rawAuthorization(server.issuer, { client_id: 'house', redirect_uri: REDIRECT_URI }).url, USER.email, USER.password);
        expect(ua.cookies.has('gh_device')).toBe(false);
      }
      expect(await server.app.db.selectFrom('known_devices').selectAll().execute()).toHaveLength(0);
    } finally {
      await server.close();
    }
  });
});
