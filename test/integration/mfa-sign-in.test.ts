import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generate } from 'otplib';
import { createAccount } from '../../src/accounts/create-account.ts';
import { confirmTotpEnrolment, startTotpEnrolment } from '../../src/accounts/mfa/totp.ts';
import { generateRecoveryCodes } from '../../src/accounts/mfa/recovery-codes.ts';
import { findTotp } from '../../src/storage/postgres/totp.queries.ts';
import { findAccountByEmail } from '../../src/storage/postgres/accounts.queries.ts';
import { addPasskey } from '../support/passkeys.ts';
import { listUnusedRecoveryCodes } from '../../src/storage/postgres/recovery-codes.queries.ts';
import { fillForm, nextMailTo, tokenLink } from '../support/accounts.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { formAction, inputValue, UserAgent } from '../support/browserless.ts';
import { REDIRECT_URI } from '../support/e2e.ts';
import { seedBasics, USER, WEB_SECRET } from '../support/fixtures.ts';
import { openLoginPage, rawAuthorization, signInThroughForms, submit } from '../support/forms.ts';

const EMAIL = 'two.step@example.com';
const PASSWORD = 'two steps are better than one';

/** MFA-02, MFA-04, MFA-06: the sign-in's second step, through the real pages. */
describe('signing in with a TOTP second factor', () => {
  let server: TestServer;
  let secret: string;
  /** The server's clock runs `offset` ms ahead, so a test can move to a fresh TOTP step without waiting. */
  let offset = 0;
  const now = () => Date.now() + offset;
  const codeNow = () => generate({ secret, epoch: Math.floor(now() / 1000) });

  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://' }, { clock: now });
    await seedBasics(server);
    const account = await createAccount(server.app.db, server.app.hasher, { email: EMAIL, password: PASSWORD, emailVerified: true });
    // Enrolled two steps ago, so the current code has not been used yet.
    const past = { db: server.app.db, keyEncryptionKeys: server.config.keyEncryptionKeys, now: () => new Date(Date.now() - 60_000) };
    secret = (await startTotpEnrolment(past, account, 'Gatehouse'))!.secret;
    expect(await confirmTotpEnrolment(past, account.id, await generate({ secret, epoch: Math.floor(Date.now() / 1000) - 60 }))).toBe(true);
  });

  afterAll(async () => {
    await server?.close();
  });

  /** Signs in with the password and returns the browser at the code page. */
  async function passwordStep(ua = new UserAgent()) {
    const auth = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI });
    const login = await openLoginPage(ua, server.issuer, auth.url);
    const afterPassword = await submit(ua, login.login, { email: EMAIL, password: PASSWORD });
    expect(afterPassword.status).toBe(303);
    const { url, response } = await ua.follow(login.url, server.issuer, afterPassword);
    return { ua, auth, url, html: await response.text() };
  }

  const postCode = (ua: UserAgent, html: string, code: string) =>
    ua.post(new URL(formAction(html, '/mfa'), server.issuer).href, { code, csrf: inputValue(html, 'csrf') });

  async function exchange(callback: string, verifier: string) {
    const response = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`web:${WEB_SECRET}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: new URL(callback).searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: verifier }),
    });
    const { id_token } = (await response.json()) as { id_token: string };
    return JSON.parse(Buffer.from(id_token.split('.')[1]!, 'base64url').toString()) as { amr?: string[]; acr?: string };
  }

  it('MFA-06: the password alone yields the code page, and calling resume directly issues nothing', async () => {
    const { ua, url, html } = await passwordStep();
    expect(html).toContain('name="code"');
    expect(html).toContain('autocomplete="one-time-code"');
    const uid = /\/interaction\/([^/?#]+)/.exec(url)![1]!;
    const resumed = await ua.follow(`${server.issuer}/auth/${uid}`, server.issuer);
    expect(resumed.url.startsWith(server.issuer)).toBe(true);
    expect(new URL(resumed.url).searchParams.get('code')).toBeNull();
  });

  it('signs in with password + code, and the ID token says so (amr, acr)', async () => {
    const { ua, auth, url, html } = await passwordStep();
    const accepted = await postCode(ua, html, await codeNow());
    expect(accepted.status).toBe(303);
    const afterCode = await ua.follow(url, server.issuer, accepted);
    let landed = afterCode.url;
    if (landed.startsWith(server.issuer)) {
      // The client has not been granted anything yet: approve its consent page.
      const consent = await afterCode.response.text();
      const approved = await ua.post(new URL(formAction(consent, '/consent'), server.issuer).href, { decision: 'approve', csrf: inputValue(consent, 'csrf') });
      landed = (await ua.follow(landed, server.issuer, approved)).url;
    }
    expect(landed.startsWith(REDIRECT_URI)).toBe(true);
    const claims = await exchange(landed, auth.verifier);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.acr).toBe('urn:gatehouse:loa:mfa');
  });

  it('MFA-02: the same code is refused the second time, also when two sign-ins race with it', async () => {
    const first = await passwordStep();
    const second = await passwordStep();
    // The previous test spent the current step's code: move the server's clock to the next step.
    offset += 30_000;
    const row = await findTotp(server.app.db, (await server.app.db.selectFrom('accounts').select('id').where('email', '=', EMAIL).executeTakeFirstOrThrow()).id);
    expect(Math.floor(now() / 30_000)).toBeGreaterThan(Number(row!.last_used_step));
    const code = await codeNow();
    const results = await Promise.all([postCode(first.ua, first.html, code), postCode(second.ua, second.html, code)]);
    expect(results.map((response) => response.status).sort()).toEqual([303, 400]);
    // And once more, alone, after it was accepted.
    const third = await passwordStep();
    expect((await postCode(third.ua, third.html, code)).status).toBe(400);
  });

  it('MFA-04: the 5th wrong code ends the sign-in; it must start over from the password', async () => {
    const { ua, html } = await passwordStep();
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      const wrong = await postCode(ua, html, '000000');
      expect(wrong.status).toBe(400);
      expect(await wrong.text()).toContain('That code is not right');
    }
    const fifth = await postCode(ua, html, '000000');
    expect(fifth.status).toBe(400);
    expect(await fifth.text()).toContain('Too many wrong codes');
    const after = await postCode(ua, html, await codeNow());
    expect(after.status).toBe(400);
    expect(await after.text()).toContain('This sign-in request has expired');
  });

  it('LOG-01: every step is in the audit trail with its outcome, reason and client, and no code in it', async () => {
    const ua = new UserAgent();
    const auth = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI });
    const login = await openLoginPage(ua, server.issuer, auth.url);
    expect((await submit(ua, login.login, { email: EMAIL, password: 'not the password at all' })).status).toBe(400);
    const account = await findAccountByEmail(server.app.db, EMAIL);
    const rows = await server.app.db.selectFrom('audit_events').selectAll().where('account_id', '=', account!.id).orderBy('id').execute();
    const summary = rows.map((row) => `${row.type} ${row.outcome} ${String(row.details.reason ?? '')}`.trim());
    // The earlier tests: password + code (a success), the raced and replayed code, five wrong codes.
    expect(summary).toEqual(expect.arrayContaining(['mfa_verify success', 'sign_in success', 'mfa_verify failure wrong_code', 'mfa_verify failure too_many_attempts', 'sign_in failure wrong_password']));
    expect(summary.filter((line) => line === 'mfa_verify failure wrong_code').length).toBeGreaterThanOrEqual(4 + 2);
    const signIn = rows.find((row) => row.type === 'sign_in' && row.outcome === 'success')!;
    expect(signIn).toMatchObject({ client_id: 'web', details: { amr: ['pwd', 'otp', 'mfa'], acr: 'urn:gatehouse:loa:mfa' } });
    expect(signIn.ip).toBeTruthy();
    expect(JSON.stringify(rows)).not.toMatch(/\b\d{6}\b|not the password|two steps are better/);
  });

  it('a password-only account gets acr pwd and amr [pwd]', async () => {
    const auth = rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI });
    const callback = await signInThroughForms(new UserAgent(), server.issuer, auth.url, USER.email, USER.password);
    const claims = await exchange(callback.href, auth.verifier);
    expect(claims.amr).toEqual(['pwd']);
    expect(claims.acr).toBe('urn:gatehouse:loa:pwd');
  });
});

describe('REC-05: a password reset does not bypass two-step verification', () => {
  let server: TestServer;
  let secret: string;
  let sink: SmtpSink;

  beforeAll(async () => {
    sink = await startSmtpSink();
    server = await startTestServer({ DATA_DIR: 'memory://', SMTP_URL: sink.url });
    await seedBasics(server);
    const account = await createAccount(server.app.db, server.app.hasher, { email: EMAIL, password: PASSWORD, emailVerified: true });
    const past = { db: server.app.db, keyEncryptionKeys: server.config.keyEncryptionKeys, now: () => new Date(Date.now() - 60_000) };
    secret = (await startTotpEnrolment(past, account, 'Gatehouse'))!.secret;
    await confirmTotpEnrolment(past, account.id, await generate({ secret, epoch: Math.floor(Date.now() / 1000) - 60 }));
  });

  afterAll(async () => {
    await server?.close();
    await sink?.close();
  });

  it('asks for a current code: without it the password stays; with it the reset goes through, and nobody is signed in', async () => {
    const seen = sink.messages.length;
    await fillForm(new UserAgent(), server.issuer, '/forgot-password', { email: EMAIL });
    const link = tokenLink(await nextMailTo(sink, server, EMAIL, seen));
    const ua = new UserAgent();
    await ua.get(link);
    const form = await (await ua.get(`${server.issuer}/reset-password`)).text();
    expect(form).toContain('name="code"');

    const withoutCode = await ua.post(`${server.issuer}/reset-password`, { csrf: inputValue(form, 'csrf'), password: 'a new passphrase without code' });
    expect(withoutCode.status).toBe(400);
    const hashBefore = (await findAccountByEmail(server.app.db, EMAIL))!.password_hash;
    const wrongCode = await ua.post(`${server.issuer}/reset-password`, { csrf: inputValue(form, 'csrf'), password: 'a new passphrase without code', code: '000000' });
    expect(wrongCode.status).toBe(400);
    expect((await findAccountByEmail(server.app.db, EMAIL))!.password_hash).toBe(hashBefore);

    const done = await ua.post(`${server.issuer}/reset-password`, { csrf: inputValue(form, 'csrf'), password: 'a new passphrase with the code', code: await generate({ secret }) });
    expect(await done.text()).toContain('Your password has been changed');
    expect([...ua.cookies.keys()].some((name) => name.includes('session'))).toBe(false);
  });

  /** Opens a fresh reset link for `email` and returns the browser at the reset form. */
  async function resetForm(email: string) {
    const seen = sink.messages.length;
    await fillForm(new UserAgent(), server.issuer, '/forgot-password', { email });
    const ua = new UserAgent();
    await ua.get(tokenLink(await nextMailTo(sink, server, email, seen)));
    return { ua, form: await (await ua.get(`${server.issuer}/reset-password`)).text() };
  }

  it('a passkey-only account is asked too, and a recovery code answers once (the owner is told)', async () => {
    const account = await createAccount(server.app.db, server.app.hasher, { email: 'keys.only@example.com', password: PASSWORD, emailVerified: true });
    await addPasskey(server, account);
    const [first] = await generateRecoveryCodes({ db: server.app.db, hasher: server.app.hasher, now: () => new Date() }, account.id);
    const attempt = await resetForm(account.email);
    expect(attempt.form).toContain('name="code"');
    const noCode = await attempt.ua.post(`${server.issuer}/reset-password`, { csrf: inputValue(attempt.form, 'csrf'), password: 'a new passphrase for the keys' });
    expect(noCode.status).toBe(400);
    // A weak password is refused before the code is looked at, so it does not spend the code.
    const weak = await attempt.ua.post(`${server.issuer}/reset-password`, { csrf: inputValue(attempt.form, 'csrf'), password: 'short', code: first! });
    expect(weak.status).toBe(400);
    const seen = sink.messages.length;
    const done = await attempt.ua.post(`${server.issuer}/reset-password`, { csrf: inputValue(attempt.form, 'csrf'), password: 'a new passphrase for the keys', code: first! });
    expect(await done.text()).toContain('Your password has been changed');
    const notice = await nextMailTo(sink, server, account.email, seen);
    expect(notice.text + (await nextMailTo(sink, server, account.email, seen + 1)).text).toContain('recovery codes was just used');
    // Used up: nine codes are left, and the one used is not among them.
    expect(await listUnusedRecoveryCodes(server.app.db, account.id)).toHaveLength(9);
  });
});

describe('MFA-05: recovery codes', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://' });
    await seedBasics(server);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('makes 10 codes of 80 bits, stored only hashed; each signs in once in place of the app', async () => {
    const account = await createAccount(server.app.db, server.app.hasher, { email: 'lost.phone@example.com', password: PASSWORD, emailVerified: true });
    const past = { db: server.app.db, keyEncryptionKeys: server.config.keyEncryptionKeys, now: () => new Date(Date.now() - 60_000) };
    const { secret } = (await startTotpEnrolment(past, account, 'Gatehouse'))!;
    await confirmTotpEnrolment(past, account.id, await generate({ secret, epoch: Math.floor(Date.now() / 1000) - 60 }));
    const codes = await generateRecoveryCodes({ db: server.app.db, hasher: server.app.hasher, now: () => new Date() }, account.id);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    const stored = await server.app.db.selectFrom('recovery_codes').select('code_hash').where('account_id', '=', account.id).execute();
    expect(stored).toHaveLength(10);
    expect(stored.every((row) => row.code_hash.startsWith('$argon2id$') && !codes.some((code) => row.code_hash.includes(code.replace(/-/g, ''))))).toBe(true);

    const signIn = async (code: string) => {
      const ua = new UserAgent();
      const login = await openLoginPage(ua, server.issuer, rawAuthorization(server.issuer, { client_id: 'web', redirect_uri: REDIRECT_URI }).url);
      const afterPassword = await submit(ua, login.login, { email: 'lost.phone@example.com', password: PASSWORD });
      const { response } = await ua.follow(login.url, server.issuer, afterPassword);
      const html = await response.text();
      return ua.post(new URL(formAction(html, '/mfa'), server.issuer).href, { code, csrf: inputValue(html, 'csrf') });
    };
    // Typed the way people do: lower case, spaces instead of dashes.
    expect((await signIn(codes[0]!.toLowerCase().replace(/-/g, ' '))).status).toBe(303);
    // The owner hears about it (the outbox holds the mail; no SMTP server in this test).
    const mails = await server.app.db.selectFrom('mail_outbox').select('text_body').where('recipient', '=', 'lost.phone@example.com').execute();
    expect(mails.some((mail) => mail.text_body.includes('recovery codes was just used'))).toBe(true);
    expect((await signIn(codes[0]!)).status).toBe(400);
    expect((await signIn(codes[1]!)).status).toBe(303);
  });
});

describe('MFA-04: the authenticator’s own failure counter, and the way back from its lock', () => {
  let server: TestServer;
  let secret: string;
  let accountId: string;
  const email = 'counted@example.com';
  let offset = 0;
  const base = Date.now();
  const clock = () => base + offset;
  const totp = () => ({ db: server.app.db, keyEncryptionKeys: server.config.keyEncryptionKeys, now: () => new Date(clock()) });

  beforeAll(async () => {
    server = await startTestServer({ DATA_DIR: 'memory://' }, { clock });
    await seedBasics(server);
    const account = await createAccount(server.app.db, server.app.hasher, { email, password: PASSWORD, emailVerified: true });
    accountId = account.id;
    secret = (await startTotpEnrolment(totp(), account, 'Gatehouse'))!.secret;
    expect(await confirmTotpEnrolment(totp(), account.id, await generate({ secret, epoch: Math.floor(clock() / 1000) }))).toBe(true);
    offset += 30_000;
  });

  afterAll(async () => {
    await server?.close();
  });

  async function codePage(ua = new UserAgent()) {
    const auth = rawAuthorization(server.issuer, { client_id: 'house', redirect_uri: REDIRECT_URI });
    const login = await openLoginPage(ua, server.issuer, auth.url);
    const afterPassword = await submit(ua, login.login, { email, password: PASSWORD });
    const { response } = await ua.follow(login.url, server.issuer, afterPassword);
    return { ua, html: await response.text() };
  }
  const postCode = (page: { ua: UserAgent; html: string }, code: string) =>
    page.ua.post(new URL(formAction(page.html, '/mfa'), server.issuer).href, { code, csrf: inputValue(page.html, 'csrf') });
  const failures = async () => Number((await findTotp(server.app.db, accountId))!.failed_attempts);

  it('counts across sign-ins: a new interaction after the 5th wrong code does not start from zero', async () => {
    const first = await codePage();
    for (let attempt = 0; attempt < 5; attempt += 1) await postCode(first, '000000');
    expect(await failures()).toBe(5);
    expect((await postCode(await codePage(), '000000')).status).toBe(400);
    expect(await failures()).toBe(6);
  });

  it('at 100 in a row the app’s codes stop working, even the right one; a recovery code still signs in and turns the app off', async () => {
    const [recovery] = await generateRecoveryCodes({ db: server.app.db, hasher: server.app.hasher, now: () => new Date() }, accountId);
    // 94 more wrong codes through the domain (the pages would only add 19 more sign-ins of the same).
    const { verifyTotpForSignIn } = await import('../../src/accounts/mfa/totp.ts');
    for (let attempt = 0; attempt < 93; attempt += 1) expect(await verifyTotpForSignIn(totp(), accountId, '000000')).toBe('rejected');
    const hundredth = await postCode(await codePage(), '000000');
    expect(await hundredth.text()).toContain('Codes from your authenticator app are locked');
    expect(await failures()).toBe(100);
    const right = await postCode(await codePage(), await generate({ secret, epoch: Math.floor(clock() / 1000) }));
    expect(right.status).toBe(400);
    expect(await right.text()).toContain('Codes from your authenticator app are locked');

    const page = await codePage();
    const withRecovery = await postCode(page, recovery!);
    expect(withRecovery.status).toBe(303);
    const landed = await page.ua.follow(`${server.issuer}/interaction/x`, server.issuer, withRecovery);
    expect(new URL(landed.url).searchParams.has('code')).toBe(true);
    // Signed in, the owner turns the locked app off with the password and another recovery code.
    const [, second] = await generateRecoveryCodes({ db: server.app.db, hasher: server.app.hasher, now: () => new Date() }, accountId);
    const security = await (await page.ua.get(`${server.issuer}/account/security`)).text();
    const off = await page.ua.post(`${server.issuer}/account/totp/remove`, { csrf: inputValue(security, 'csrf'), totpPassword: PASSWORD, totpCode: second! });
    expect(off.status).toBe(200);
    expect(await findTotp(server.app.db, accountId)).toBeUndefined();
  });
});
