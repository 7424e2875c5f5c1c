import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generate } from 'otplib';
import { createAccount } from '../../src/accounts/create-account.ts';
import { generateRecoveryCodes } from '../../src/accounts/mfa/recovery-codes.ts';
import { confirmTotpEnrolment, startTotpEnrolment } from '../../src/accounts/mfa/totp.ts';
import { listUnusedRecoveryCodes } from '../../src/storage/postgres/recovery-codes.queries.ts';
import { listPasskeys } from '../../src/storage/postgres/passkeys.queries.ts';
import { getPage, signedInBrowser, submitSecurityForm } from '../support/account-settings.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { inputValue, UserAgent } from '../support/browserless.ts';
import { seedBasics } from '../support/fixtures.ts';
import { signInWorks } from '../support/forms.ts';
import { SoftAuthenticator } from '../support/soft-authenticator.ts';

const PASSWORD = 'the passkey settings passphrase';

/** Adding, renaming and removing passkeys on /account/security (MFA-05, MFA-07), through the real pages. */
describe('passkeys on the security page', () => {
  let server: TestServer;
  let people = 0;

  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://' });
    await seedBasics(server);
  });

  afterAll(async () => {
    await server?.close();
  });

  const person = async () => {
    people += 1;
    const email = `passkey.owner${people}@example.com`;
    const account = await createAccount(server.app.db, server.app.hasher, { email, password: PASSWORD, emailVerified: true });
    return { email, id: account.id, ua: await signedInBrowser(server, email, PASSWORD) };
  };

  /** What the page's script does: options with the password (the form's CSRF token included). */
  async function options(ua: UserAgent, password: string): Promise<Response> {
    const page = await getPage(ua, `${server.issuer}/account/security`);
    return ua.request(`${server.issuer}/account/passkeys/options`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ csrf: inputValue(page.html, 'csrf'), passkeyPassword: password }).toString(),
    });
  }

  /** The whole "Add a passkey": options, the authenticator's answer, the register POST. */
  async function addPasskey(ua: UserAgent, authenticator: SoftAuthenticator, name = 'My laptop') {
    const answer = await options(ua, PASSWORD);
    expect(answer.status).toBe(200);
    const creation = (await answer.json()) as Parameters<SoftAuthenticator['register']>[0];
    return submitSecurityForm(ua, server, '/account/passkeys/register', { passkeyName: name, response: JSON.stringify(authenticator.register(creation)) });
  }

  const newAuthenticator = () => new SoftAuthenticator({ origin: new URL(server.issuer).origin });
  const mailsTo = async (email: string) =>
    (await server.app.db.selectFrom('mail_outbox').select('text_body').where('recipient', '=', email).execute()).map((mail) => mail.text_body);

  it('MFA-07: options need the current password; without them nothing can be registered', async () => {
    const { ua, id } = await person();
    const refused = await options(ua, 'not my password');
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'current_password', message: 'Your current password is incorrect.' });
    // A response made up without a challenge from the server is not accepted.
    const authenticator = newAuthenticator();
    const made = authenticator.register({ challenge: 'bm90LWEtY2hhbGxlbmdl', rp: { id: new URL(server.issuer).hostname }, user: { id: 'dXNlcg' } });
    const page = await submitSecurityForm(ua, server, '/account/passkeys/register', { passkeyName: 'x', response: JSON.stringify(made) });
    expect(page.status).toBe(400);
    expect(page.html).toContain('The passkey was not added');
    expect(await listPasskeys(server.app.db, id)).toHaveLength(0);
  });

  it('adds a first passkey: listed, the owner mailed, ten recovery codes shown once; the password alone no longer signs in', async () => {
    const { ua, id, email } = await person();
    const added = await addPasskey(ua, newAuthenticator(), 'Blue key');
    expect(added.status).toBe(200);
    expect(added.html).toContain('Passkey added');
    expect([...added.html.matchAll(/<li><code>/g)]).toHaveLength(10);
    expect(await listUnusedRecoveryCodes(server.app.db, id)).toHaveLength(10);
    const security = await getPage(ua, `${server.issuer}/account/security`);
    expect(security.html).toContain('Blue key');
    expect(security.html).toContain('Kept on one device or security key');
    expect((await mailsTo(email)).some((text) => text.includes('A passkey was added to your account'))).toBe(true);
    expect(await signInWorks(server.issuer, email, PASSWORD)).toBe(false);

    // A second passkey makes no new codes (the first set stays valid).
    const second = await addPasskey(ua, newAuthenticator(), 'Phone');
    expect(second.html).not.toContain('<li><code>');
    expect(await listUnusedRecoveryCodes(server.app.db, id)).toHaveLength(10);
  });

  it('a registration challenge works once and only for the account it was issued to', async () => {
    const owner = await person();
    const other = await person();
    const authenticator = newAuthenticator();
    const creation = (await (await options(owner.ua, PASSWORD)).json()) as Parameters<SoftAuthenticator['register']>[0];
    const response = JSON.stringify(authenticator.register(creation));
    // Another signed-in account cannot use it: the challenge is bound to the owner's account.
    await options(other.ua, PASSWORD);
    const elsewhere = await submitSecurityForm(other.ua, server, '/account/passkeys/register', { passkeyName: 'x', response });
    expect(elsewhere.status).toBe(400);
    expect(await listPasskeys(server.app.db, other.id)).toHaveLength(0);
    // Nor can the owner replay it after using it (the refusal above did not spend the owner's challenge).
    expect((await submitSecurityForm(owner.ua, server, '/account/passkeys/register', { passkeyName: 'x', response })).status).toBe(200);
    const again = newAuthenticator();
    const replay = await submitSecurityForm(owner.ua, server, '/account/passkeys/register', { passkeyName: 'y', response: JSON.stringify(again.register(creation)) });
    expect(replay.status).toBe(400);
    expect(await listPasskeys(server.app.db, owner.id)).toHaveLength(1);
  });

  it('renames only the account’s own passkeys', async () => {
    const owner = await person();
    const stranger = await person();
    await addPasskey(owner.ua, newAuthenticator(), 'Old name');
    const [passkey] = await listPasskeys(server.app.db, owner.id);
    const renamed = await submitSecurityForm(owner.ua, server, '/account/passkeys/rename', { renamePasskey: passkey!.id, newPasskeyName: 'New name' });
    expect(renamed.status).toBe(303);
    expect((await getPage(owner.ua, `${server.issuer}/account/security`)).html).toContain('New name');
    const foreign = await submitSecurityForm(stranger.ua, server, '/account/passkeys/rename', { renamePasskey: passkey!.id, newPasskeyName: 'Mine now' });
    expect(foreign.status).toBe(400);
    expect(foreign.html).toContain('That passkey is no longer on your account');
    expect((await listPasskeys(server.app.db, owner.id))[0]!.name).toBe('New name');
  });

  it('MFA-07: removing needs the current password; the last one takes the recovery codes with it and is mailed', async () => {
    const { ua, id, email } = await person();
    await addPasskey(ua, newAuthenticator());
    const [passkey] = await listPasskeys(server.app.db, id);
    const wrong = await submitSecurityForm(ua, server, '/account/passkeys/remove', { removePasskey: passkey!.id, removePasskeyPassword: 'wrong' });
    expect(wrong.status).toBe(400);
    expect(wrong.html).toContain('Your current password is incorrect.');
    expect(await listPasskeys(server.app.db, id)).toHaveLength(1);

    const removed = await submitSecurityForm(ua, server, '/account/passkeys/remove', { removePasskey: passkey!.id, removePasskeyPassword: PASSWORD });
    expect(removed.status).toBe(200);
    expect(removed.html).toContain('your recovery codes no longer work');
    expect(await listPasskeys(server.app.db, id)).toHaveLength(0);
    expect(await listUnusedRecoveryCodes(server.app.db, id)).toHaveLength(0);
    expect((await mailsTo(email)).some((text) => text.includes('A passkey was removed from your account'))).toBe(true);
    const events = await server.app.db.selectFrom('audit_events').select('type').where('account_id', '=', id).where('type', 'like', 'passkey_%').orderBy('id').execute();
    expect(events.map((event) => event.type)).toEqual(['passkey_added', 'passkey_removed']);
    expect(await signInWorks(server.issuer, email, PASSWORD)).toBe(true);
  });

  it('turning the authenticator app off keeps the recovery codes while a passkey remains', async () => {
    const { ua, id, email } = await person();
    let offset = -60_000; // enrolled a step ago, so the code that turns it off is a new one
    const totp = { db: server.app.db, keyEncryptionKeys: server.config.keyEncryptionKeys, now: () => new Date(Date.now() + offset) };
    const { secret } = (await startTotpEnrolment(totp, { id, email }, 'Gatehouse'))!;
    expect(await confirmTotpEnrolment(totp, id, await generate({ secret, epoch: Math.floor((Date.now() + offset) / 1000) }))).toBe(true);
    offset = 0;
    await addPasskey(ua, newAuthenticator());
    await generateRecoveryCodes({ db: server.app.db, hasher: server.app.hasher, now: () => new Date() }, id);
    const off = await submitSecurityForm(ua, server, '/account/totp/remove', { totpPassword: PASSWORD, totpCode: await generate({ secret }) });
    expect(off.status).toBe(200);
    expect(await listUnusedRecoveryCodes(server.app.db, id)).toHaveLength(10);
    expect((await getPage(ua, `${server.issuer}/account/security`)).html).toContain('Your passkeys still protect signing in');
    expect(await signInWorks(server.issuer, email, PASSWORD)).toBe(false);
  });

  it('WEB-01: every passkey form is refused cross-site and without a session', async () => {
    const { ua } = await person();
    // With a valid CSRF token, so only the same-origin check in app.ts can refuse it.
    const csrf = inputValue((await getPage(ua, `${server.issuer}/account/security`)).html, 'csrf');
    for (const path of ['/account/passkeys/options', '/account/passkeys/register', '/account/passkeys/rename', '/account/passkeys/remove']) {
      const crossSite = await ua.request(`${server.issuer}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site', accept: 'application/json' },
        body: new URLSearchParams({ csrf }).toString(),
      });
      expect(crossSite.status).toBe(403);
      expect(((await crossSite.json()) as { error: string }).error).toBe('cross_site_request');
    }
    const visitor = new UserAgent();
    // A CSRF token this browser may hold (the forgot-password page issues one to anyone).
    const page = await getPage(visitor, `${server.issuer}/forgot-password`);
    const signedOut = await visitor.post(`${server.issuer}/account/passkeys/options`, { csrf: inputValue(page.html, 'csrf'), passkeyPassword: PASSWORD });
    expect(signedOut.status).toBe(401);
  });
});
