import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generate } from 'otplib';
import { createAccount } from '../../src/accounts/create-account.ts';
import { findAccountByEmail } from '../../src/storage/postgres/accounts.queries.ts';
import { findTotp } from '../../src/storage/postgres/totp.queries.ts';
import { nextMailTo } from '../support/accounts.ts';
import { getPage, signedInBrowser, submitSecurityForm, type Page } from '../support/account-settings.ts';
import { startTestServer, type TestServer } from '../support/app.ts';
import { inputValue, type UserAgent } from '../support/browserless.ts';
import { seedBasics } from '../support/fixtures.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const PASSWORD = 'the two-step test passphrase';

/** Turning two-step verification (an authenticator app) on and off on /account/security: MFA-01, MFA-02, MFA-05, MFA-07. */
describe('authenticator app enrolment', () => {
  let sink: SmtpSink;
  let server: TestServer;
  let people = 0;
  // The server's clock, frozen so a test never crosses a 30 s step by accident; tests move it on by a
  // whole step so that a new code is not a replay (MFA-02).
  let offset = 0;
  const base = Date.now();
  const clock = () => base + offset;
  const nextTimeStep = () => {
    offset += 30_000;
  };

  beforeAll(async () => {
    sink = await startSmtpSink();
    server = await startTestServer({ DATA_DIR: 'memory://', SMTP_URL: sink.url }, { clock });
    await seedBasics(server);
  });

  afterAll(async () => {
    await server?.close();
    await sink?.close();
  });

  const person = async () => {
    people += 1;
    const email = `two-step.person${people}@example.com`;
    await createAccount(server.app.db, server.app.hasher, { email, name: `Person ${people}`, password: PASSWORD, emailVerified: true });
    const ua = await signedInBrowser(server, email, PASSWORD);
    const { id } = (await findAccountByEmail(server.app.db, email))!;
    return { email, ua, id };
  };
  const codeFor = (secret: string) => generate({ secret, epoch: Math.floor(clock() / 1000) });
  const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');
  const otpauthUri = (html: string) => {
    const match = /<a href="(otpauth:\/\/[^"]+)"/.exec(html);
    if (!match) throw new Error('no otpauth link on the page');
    return new URL(match[1]!.replace(/&amp;/g, '&'));
  };
  const post = (ua: UserAgent, path: string, fields: Record<string, string>) => ua.post(`${server.issuer}${path}`, fields);
  const isSecurityPage = (html: string) => html.includes('<title>Sign-in security · Gatehouse</title>');
  const backToSecurity = '<a href="/account/security">Back to sign-in security</a>';
  const shownCodes = (html: string) => [...html.matchAll(/<li><code>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})<\/code><\/li>/g)].map((match) => match[1]);
  /** The text of the page's download link (a data: URL), as the browser would save it. */
  const downloadedFile = (html: string) => {
    const match = /<a [^>]*download="gatehouse-recovery-codes.txt" href="data:text\/plain;charset=utf-8,([^"]*)"/.exec(html);
    if (!match) throw new Error('no download link on the page');
    return decodeURIComponent(match[1]!.replace(/&amp;/g, '&'));
  };
  /** MFA-05: the codes shown once can be saved without JavaScript: the file holds exactly those codes. */
  const expectDownloadOfShownCodes = (html: string) => {
    const codes = shownCodes(html);
    expect(codes).toHaveLength(10);
    const [header, ...lines] = downloadedFile(html).split('\n');
    expect(header).toBe(`Recovery codes for ${new URL(server.issuer).host}, made ${new Date(clock()).toISOString().slice(0, 10)}. Each code works once.`);
    expect(lines).toEqual([...codes, '']);
  };
  const read = async (response: Response): Promise<Page> => ({ status: response.status, html: await response.text(), headers: response.headers });

  /** Starts enrolment through /account; returns the setup page and the secret read from its otpauth link. */
  const startSetup = async (ua: UserAgent) => {
    const page = await submitSecurityForm(ua, server, '/account/totp/start', { totpPassword: PASSWORD });
    expect(page.status).toBe(200);
    return { page, secret: otpauthUri(page.html).searchParams.get('secret')! };
  };
  const confirm = async (ua: UserAgent, setupPage: Page, code: string) =>
    read(await post(ua, '/account/totp/confirm', { csrf: inputValue(setupPage.html, 'csrf'), code }));
  const enrol = async (ua: UserAgent) => {
    const { page, secret } = await startSetup(ua);
    expect((await confirm(ua, page, await codeFor(secret))).status).toBe(200);
    return secret;
  };

  it('MFA-05: makes a new set of recovery codes behind the current password; the old set stops working', async () => {
    const { ua, id } = await person();
    await enrol(ua);
    const before = await server.app.db.selectFrom('recovery_codes').select('code_hash').where('account_id', '=', id).execute();
    expect(before).toHaveLength(10);
    const refused = await submitSecurityForm(ua, server, '/account/recovery-codes', { recoveryPassword: 'not the password' });
    expect(refused.status).toBe(400);
    expect(isSecurityPage(refused.html)).toBe(true);
    expect(refused.html).toMatch(/id="recoveryPassword-error" role="alert">Your current password is incorrect\./);
    const made = await submitSecurityForm(ua, server, '/account/recovery-codes', { recoveryPassword: PASSWORD });
    expect(made.status).toBe(200);
    expect(made.html.match(/<li><code>[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}<\/code><\/li>/g)).toHaveLength(10);
    expectDownloadOfShownCodes(made.html);
    expect(made.html).toContain(backToSecurity);
    const after = await server.app.db.selectFrom('recovery_codes').select('code_hash').where('account_id', '=', id).execute();
    expect(after).toHaveLength(10);
    expect(after.some((row) => before.some((old) => old.code_hash === row.code_hash))).toBe(false);
  });

  it('shows two-step verification as off, with a password-protected form to set it up', async () => {
    const { ua } = await person();
    const page = await getPage(ua, `${server.issuer}/account/security`);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.html).toContain('<h1>Sign-in security</h1>');
    expect(page.html).toMatch(/<section aria-labelledby="two-step-heading"><h2 id="two-step-heading">Two-step verification<\/h2><p id="two-step-status">Two-step verification is off/);
    expect(page.html).toMatch(/<form method="post" action="\/account\/totp\/start"/);
    expect(page.html).toContain('<label for="totpPassword">');
    expect(page.html).not.toContain('action="/account/totp/remove"');
    const ar = await getPage(ua, `${server.issuer}/account/security`, { 'accept-language': 'ar' });
    expect(ar.html).toContain('التحقُّق بخطوتين غير مُفعَّل');
    expect(ar.html).toContain('<h1>أمان تسجيل الدخول</h1>');
  });

  it('enrols an app through the pages: QR code, link and key, activated by a valid code, then mails the owner', async () => {
    const { email, ua, id } = await person();
    const { page, secret } = await startSetup(ua);
    expect(page.headers.get('cache-control')).toBe('no-store');

    // MFA-01: 160 bits of base32, the issuer and the account's address in the URI; the same key three ways.
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = otpauthUri(page.html);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    const issuer = new URL(server.issuer).host;
    expect(uri.searchParams.get('issuer')).toBe(issuer);
    expect(decodeURIComponent(uri.pathname)).toBe(`/${issuer}:${email}`);
    expect(page.html).toMatch(/<div class="qr" role="img" aria-label="[^"]+"><svg [^>]*viewBox=/);
    expect(page.html).toContain(secret.match(/.{4}/g)!.join(' '));
    expect(page.html).toMatch(/id="code" name="code"[^>]*inputmode="numeric" autocomplete="one-time-code"/);
    expect(page.html).not.toContain('data:');
    expect(page.html).toContain(backToSecurity);

    // Pending, and the seed is not in the database in plain text.
    const pending = (await findTotp(server.app.db, id))!;
    expect(pending.activated_at).toBeNull();
    expect(pending.secret_encrypted).not.toContain(secret);
    expect(pending.secret_encrypted.toUpperCase()).not.toContain(secret);

    const seen = sink.messages.length;
    const done = await confirm(ua, page, await codeFor(secret));
    expect(done.status).toBe(200);
    expect(done.html).toContain('Two-step verification is on');
    expectDownloadOfShownCodes(done.html);
    expect(done.html).toContain(backToSecurity);
    // The copy button is for JavaScript only: hidden in the markup, shown by a script that carries this
    // response's CSP nonce (script-src allows nothing else).
    expect(done.html).toMatch(/<button class="secondary" id="copy-codes" type="button" hidden data-copied="Copied"/);
    expect(done.html).toMatch(/<p id="copy-status" role="status" aria-live="polite"><\/p>/);
    const nonce = /<script type="module" src="\/assets\/copy-codes.js" nonce="([^"]+)"><\/script>/.exec(done.html)?.[1];
    expect(nonce).toBeTruthy();
    expect(done.headers.get('content-security-policy')).toContain(`script-src 'nonce-${nonce}'`);
    const script = await fetch(`${server.issuer}/assets/copy-codes.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).toContain('navigator.clipboard.writeText');
    const active = (await findTotp(server.app.db, id))!;
    expect(active.activated_at).not.toBeNull();
    expect(active.secret_encrypted).not.toContain(secret);

    const mail = await nextMailTo(sink, server, email, seen);
    expect(mail.subject).toBe('Two-step verification changed on your account');
    expect(mail.text).toContain('turned on');
    expect(mail.text).toContain(`${server.issuer}/forgot-password`);

    const account = await getPage(ua, `${server.issuer}/account/security`);
    expect(account.html).toMatch(/<p id="two-step-status">Two-step verification is on/);
    expect(account.html).toMatch(/<form method="post" action="\/account\/totp\/remove"/);
    // Room for a recovery code too: the way back from a lost or locked app.
    expect(account.html).toMatch(/id="totpCode" name="totpCode"[^>]*autocomplete="one-time-code"[^>]*maxlength="24"/);
    expect(account.html).not.toContain('action="/account/totp/start"');
  });

  it('does not activate with a wrong code, and shows the same QR code again with the problem on the field', async () => {
    const { ua, id } = await person();
    const { page, secret } = await startSetup(ua);
    const again = await confirm(ua, page, wrong(await codeFor(secret)));
    expect(again.status).toBe(400);
    expect(otpauthUri(again.html).href).toBe(otpauthUri(page.html).href);
    expect(again.html).toMatch(/<p class="error" id="code-error" role="alert">That code is not right/);
    expect(again.html).toMatch(/id="code" name="code" aria-invalid="true" aria-describedby="code-error code-hint"/);
    expect((await confirm(ua, again, 'abcdef')).status).toBe(400);
    expect((await findTotp(server.app.db, id))!.activated_at).toBeNull();
    // The right code still works after the wrong ones.
    expect((await confirm(ua, again, await codeFor(secret))).status).toBe(200);
    expect((await findTotp(server.app.db, id))!.activated_at).not.toBeNull();
  });

  it('needs the current password to start (reauthentication), and a pending setup to confirm', async () => {
    const { ua, id } = await person();
    const refused = await submitSecurityForm(ua, server, '/account/totp/start', { totpPassword: 'not the password' });
    expect(refused.status).toBe(400);
    expect(isSecurityPage(refused.html)).toBe(true);
    expect(refused.html).toMatch(/id="totpPassword-error" role="alert">Your current password is incorrect\./);
    expect(refused.html).not.toContain('otpauth://');
    expect(await findTotp(server.app.db, id)).toBeUndefined();
    const nothingPending = await submitSecurityForm(ua, server, '/account/totp/confirm', { code: '123456' });
    expect(nothingPending.status).toBe(409);
    expect(isSecurityPage(nothingPending.html)).toBe(true);
    expect(await findTotp(server.app.db, id)).toBeUndefined();
  });

  it('refuses every two-step POST without the CSRF token (403)', async () => {
    const { ua, id } = await person();
    expect((await post(ua, '/account/totp/start', { totpPassword: PASSWORD })).status).toBe(403);
    expect(await findTotp(server.app.db, id)).toBeUndefined();
    const { secret } = await startSetup(ua);
    expect((await post(ua, '/account/totp/confirm', { code: await codeFor(secret) })).status).toBe(403);
    expect((await findTotp(server.app.db, id))!.activated_at).toBeNull();
    const { page } = await startSetup(ua);
    const current = otpauthUri(page.html).searchParams.get('secret')!;
    expect((await confirm(ua, page, await codeFor(current))).status).toBe(200);
    nextTimeStep();
    expect((await post(ua, '/account/totp/remove', { totpPassword: PASSWORD, totpCode: await codeFor(current) })).status).toBe(403);
    // And a cross-site POST is refused before the token is even read (WEB-01, ACCOUNT_SETTINGS_POST_PATHS).
    const account = await getPage(ua, `${server.issuer}/account/security`);
    const foreign = await ua.request(`${server.issuer}/account/totp/remove`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ csrf: inputValue(account.html, 'csrf'), totpPassword: PASSWORD, totpCode: await codeFor(current) }).toString(),
    });
    expect(foreign.status).toBe(403);
    expect((await findTotp(server.app.db, id))!.activated_at).not.toBeNull();
  });

  it('turns off only with the current password and a fresh code, then mails the owner', async () => {
    const { email, ua, id } = await person();
    const secret = await enrol(ua);
    const enrolCode = await codeFor(secret);

    // The code that confirmed the enrolment is spent (MFA-02).
    const replay = await submitSecurityForm(ua, server, '/account/totp/remove', { totpPassword: PASSWORD, totpCode: enrolCode });
    expect(replay.status).toBe(400);
    expect(isSecurityPage(replay.html)).toBe(true);
    expect(replay.html).toMatch(/id="totpCode-error" role="alert">That code is not right/);

    nextTimeStep();
    const code = await codeFor(secret);
    const badPassword = await submitSecurityForm(ua, server, '/account/totp/remove', { totpPassword: 'not the password', totpCode: code });
    expect(badPassword.status).toBe(400);
    expect(badPassword.html).toContain('Your current password is incorrect.');
    const badCode = await submitSecurityForm(ua, server, '/account/totp/remove', { totpPassword: PASSWORD, totpCode: wrong(code) });
    expect(badCode.status).toBe(400);
    const noCode = await submitSecurityForm(ua, server, '/account/totp/remove', { totpPassword: PASSWORD });
    expect(noCode.status).toBe(400);
    expect((await findTotp(server.app.db, id))!.activated_at).not.toBeNull();

    const seen = sink.messages.length;
    // A wrong password did not spend the code; spaces as people copy it are fine.
    const off = await submitSecurityForm(ua, server, '/account/totp/remove', { totpPassword: PASSWORD, totpCode: `${code.slice(0, 3)} ${code.slice(3)}` });
    expect(off.status).toBe(200);
    expect(off.html).toContain('Two-step verification is off');
    expect(off.html).toContain(backToSecurity);
    expect(await findTotp(server.app.db, id)).toBeUndefined();
    // The "turned on" mail may still be on its way: wait for the one this removal queued.
    await server.app.mailer.deliverDue();
    const mail = await sink.waitFor((message) => message.to.includes(email) && message.text.includes('turned off') && sink.messages.indexOf(message) >= seen, 5000);
    expect(mail.subject).toBeTruthy();

    const account = await getPage(ua, `${server.issuer}/account/security`);
    expect(account.html).toMatch(/<p id="two-step-status">Two-step verification is off/);
    expect(account.html).toMatch(/action="\/account\/totp\/start"/);

    // Each change is audited once it has happened, with where it came from; the refused attempts are not changes.
    const events = await server.app.db.selectFrom('audit_events').selectAll().where('account_id', '=', id).where('type', 'like', 'mfa_%').orderBy('id').execute();
    expect(events.map((event) => `${event.type} ${String(event.details.factor)}`)).toEqual(['mfa_enabled totp', 'mfa_disabled totp']);
    expect(events.every((event) => event.ip && event.request_id)).toBe(true);
  });

  it('does not replace an active authenticator by starting again', async () => {
    const { ua, id } = await person();
    await enrol(ua);
    const before = (await findTotp(server.app.db, id))!.secret_encrypted;
    // The start form is gone once it is on; a stale page's POST still cannot replace the secret.
    const page = await getPage(ua, `${server.issuer}/account/security`);
    const again = await read(await post(ua, '/account/totp/start', { csrf: inputValue(page.html, 'csrf'), totpPassword: PASSWORD }));
    expect(again.status).toBe(400);
    expect(isSecurityPage(again.html)).toBe(true);
    expect(again.html).toContain('Two-step verification is already on.');
    expect((await findTotp(server.app.db, id))!.secret_encrypted).toBe(before);
  });
});
