import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { pino } from 'pino';
import { generate } from 'otplib';
import { createAccount } from '../../src/accounts/create-account.ts';
import { confirmTotpEnrolment, startTotpEnrolment } from '../../src/accounts/mfa/totp.ts';
import { disableAccountByEmail, findAccountByEmail } from '../../src/storage/postgres/accounts.queries.ts';
import { findUpstreamIdentity } from '../../src/storage/postgres/upstream-identities.queries.ts';
import { UserAgent } from '../support/browserless.ts';
import { REDIRECT_URI } from '../support/e2e.ts';
import { seedBasics } from '../support/fixtures.ts';
import { rawAuthorization } from '../support/forms.ts';
import { fillForm } from '../support/accounts.ts';
import { clickUpstream, followAcross, signInUpstream, startUpstreamStack, submitForm, UPSTREAM_ID, type UpstreamStack } from '../support/upstream-journey.ts';

const OWNER = { email: 'linked.owner@example.com', password: 'the owner of this account knows it' };

/** Opens a sign-in for the first-party client and follows "Sign in with Test IdP" as upstream user `sub`. */
async function upstreamSignIn(stack: UpstreamStack, sub: string, ua = new UserAgent()) {
  const page = await followAcross(ua, rawAuthorization(stack.server.issuer, { client_id: 'house', redirect_uri: REDIRECT_URI }).url);
  return { ua, landing: await signInUpstream(ua, stack.upstream, await clickUpstream(ua, stack.server.issuer, page), sub) };
}

/** Issue 12's linking rules that need a configuration of their own or an account in a given state. */
describe('upstream linking rules', () => {
  let stack: UpstreamStack;
  /** How far the server's clock runs ahead (the pending flow's expiry). */
  let offset = 0;
  let totpSecret: string;
  const db = () => stack.server.app.db;

  beforeAll(async () => {
    stack = await startUpstreamStack({ DATA_DIR: 'memory://', REGISTRATION: 'closed' }, { clock: () => Date.now() + offset });
    await seedBasics(stack.server);
    const owner = await createAccount(db(), stack.server.app.hasher, { ...OWNER, emailVerified: true });
    const past = { db: db(), keyEncryptionKeys: stack.server.config.keyEncryptionKeys, now: () => new Date(Date.now() - 60_000) };
    totpSecret = (await startTotpEnrolment(past, owner, 'Gatehouse'))!.secret;
    expect(await confirmTotpEnrolment(past, owner.id, await generate({ secret: totpSecret, epoch: Math.floor(Date.now() / 1000) - 60 }))).toBe(true);
    stack.upstream.users.set('owner-at-upstream', { email: OWNER.email, email_verified: true });
    stack.upstream.users.set('stranger', { email: 'stranger@example.com', email_verified: true });
    stack.upstream.users.set('disabled-sub', { email: 'disabled.here@example.com', email_verified: true });
  });

  afterAll(() => stack?.close());

  it('links only after the second factor too: the password alone leaves the identity unlinked', async () => {
    const { ua, landing } = await upstreamSignIn(stack, 'owner-at-upstream');
    expect(landing.html).toContain('This email already has an account');
    const codePage = await submitForm(ua, stack.server.issuer, landing, '/link', { password: OWNER.password });
    expect(codePage.html).toContain('name="code"');
    expect(await findUpstreamIdentity(db(), UPSTREAM_ID, 'owner-at-upstream')).toBeUndefined();
    const done = await submitForm(ua, stack.server.issuer, codePage, '/mfa', { code: await generate({ secret: totpSecret }) });
    expect(done.url.startsWith(REDIRECT_URI)).toBe(true);
    expect((await findUpstreamIdentity(db(), UPSTREAM_ID, 'owner-at-upstream'))?.account_id).toBe((await findAccountByEmail(db(), OWNER.email))!.id);
  });

  it('counts wrong passwords on the link page against the account like the sign-in form does (ABU-01)', async () => {
    await db().deleteFrom('upstream_identities').execute();
    const before = (await findAccountByEmail(db(), OWNER.email))!.failed_sign_ins;
    const { ua, landing } = await upstreamSignIn(stack, 'owner-at-upstream');
    const wrong = await submitForm(ua, stack.server.issuer, landing, '/link', { password: 'someone guessing at it' });
    expect(wrong.status).toBe(400);
    expect((await findAccountByEmail(db(), OWNER.email))!.failed_sign_ins).toBe(before + 1);
    // Back to the sign-in form: nothing linked, the ordinary page again.
    const back = await submitForm(ua, stack.server.issuer, wrong, '/restart');
    expect(back.html).toContain('name="password"');
    expect(await findUpstreamIdentity(db(), UPSTREAM_ID, 'owner-at-upstream')).toBeUndefined();
  });

  it('makes no account when registration is closed and the provider may not create them', async () => {
    const { landing } = await upstreamSignIn(stack, 'stranger');
    expect(landing.html).toContain('No account here uses this Test IdP sign-in');
    expect(await findAccountByEmail(db(), 'stranger@example.com')).toBeUndefined();
    const audit = await db().selectFrom('audit_events').select('details').where('type', '=', 'sign_in').where('outcome', '=', 'failure').execute();
    expect(audit.at(-1)?.details).toMatchObject({ reason: 'upstream_no_account', provider: UPSTREAM_ID });
  });

  it('never lets one provider\'s user stand in for the same sub at another (ASVS 6.8.1: the provider is the namespace)', async () => {
    const owner = (await findAccountByEmail(db(), OWNER.email))!;
    // The owner linked an identity whose sub at ANOTHER provider happens to be "stranger".
    await db().insertInto('upstream_identities').values({ provider: 'other', subject: 'stranger', account_id: owner.id, email: null, last_used_at: null }).execute();
    const { landing } = await upstreamSignIn(stack, 'stranger');
    expect(landing.url.startsWith(REDIRECT_URI)).toBe(false);
    expect(landing.html).toContain('No account here uses this Test IdP sign-in');
    await db().deleteFrom('upstream_identities').where('provider', '=', 'other').execute();
  });

  it('tells the owner of an account without a password how to link instead of asking for one', async () => {
    await createAccount(db(), stack.server.app.hasher, { email: 'no.password@example.com', emailVerified: true });
    stack.upstream.users.set('nopass-sub', { email: 'no.password@example.com', email_verified: true });
    const { ua, landing } = await upstreamSignIn(stack, 'nopass-sub');
    expect(landing.html).toContain('This account has no password');
    expect(landing.html).not.toContain('name="password"');
    expect(await findUpstreamIdentity(db(), UPSTREAM_ID, 'nopass-sub')).toBeUndefined();
    const back = await submitForm(ua, stack.server.issuer, landing, '/restart');
    expect(back.html).toContain('name="password"'); // the ordinary sign-in page again, nothing linked
  });

  it('refuses a callback that comes back after the flow\'s 10 minutes, even from the browser that kept its cookie', async () => {
    const ua = new UserAgent();
    const page = await followAcross(ua, rawAuthorization(stack.server.issuer, { client_id: 'house', redirect_uri: REDIRECT_URI }).url);
    const upstreamPage = await clickUpstream(ua, stack.server.issuer, page);
    offset = 11 * 60 * 1000;
    try {
      const target = new URL(/action="([^"]*\/login)"/.exec(upstreamPage.html)![1]!, stack.upstream.issuer).href;
      const resume = (await ua.post(target, { sub: 'stranger', action: 'login' })).headers.get('location')!;
      const callbackUrl = (await ua.get(new URL(resume, stack.upstream.issuer).href)).headers.get('location')!;
      const late = await ua.get(callbackUrl, { accept: 'application/json' });
      expect(late.status).toBe(400);
      expect(await late.json()).toMatchObject({ error: 'invalid_upstream_callback' });
    } finally {
      offset = 0;
    }
  });

  it('refuses a disabled account its linked identity', async () => {
    const account = await createAccount(db(), stack.server.app.hasher, { email: 'disabled.here@example.com', emailVerified: true });
    await db().insertInto('upstream_identities').values({ provider: UPSTREAM_ID, subject: 'disabled-sub', account_id: account.id, email: null, last_used_at: null }).execute();
    await disableAccountByEmail(db(), account.email, new Date());
    const { landing } = await upstreamSignIn(stack, 'disabled-sub');
    expect(landing.url.startsWith(REDIRECT_URI)).toBe(false);
    expect(landing.html).toContain('This account cannot sign in.');
  });
});

describe('upstream account creation with UPSTREAM_<ID>_CREATE_ACCOUNTS', () => {
  let stack: UpstreamStack;
  const logLines: string[] = [];
  beforeAll(async () => {
    const logger = pino({ level: 'trace' }, { write: (line: string) => void logLines.push(line) });
    stack = await startUpstreamStack({ DATA_DIR: 'memory://', REGISTRATION: 'closed', UPSTREAM_TEST_CREATE_ACCOUNTS: 'true' }, { logger });
    await seedBasics(stack.server);
    stack.upstream.users.set('staff-1', { email: 'staff.one@example.com', email_verified: true, name: 'Staff One' });
    stack.upstream.users.set('unverified-1', { email: 'not.vouched@example.com', email_verified: false });
    stack.upstream.users.set('squatter', { email: 'pending.owner@example.com', email_verified: true });
  });
  afterAll(() => stack?.close());

  it('creates the account although registration is closed, its address verified as the upstream says', async () => {
    const { landing } = await upstreamSignIn(stack, 'staff-1');
    expect(landing.url.startsWith(REDIRECT_URI)).toBe(true);
    expect(await findAccountByEmail(stack.server.app.db, 'staff.one@example.com')).toMatchObject({ email_verified: true, password_hash: null });
  });

  it('makes no account from an address the upstream does not vouch for (account pre-hijacking)', async () => {
    const { landing } = await upstreamSignIn(stack, 'unverified-1');
    expect(landing.url.startsWith(REDIRECT_URI)).toBe(false);
    expect(landing.html).toContain('Test IdP has not confirmed your email address, so no account can be made with it here.');
    expect(await findAccountByEmail(stack.server.app.db, 'not.vouched@example.com')).toBeUndefined();
    expect(await findUpstreamIdentity(stack.server.app.db, UPSTREAM_ID, 'unverified-1')).toBeUndefined();
  });

  it('unlinks, at the password reset that proves the mailbox, an identity linked while the address was unproven', async () => {
    const db = stack.server.app.db;
    // Someone registered the address (never confirmed it) and linked their upstream account with the password they chose.
    const account = await createAccount(db, stack.server.app.hasher, { email: 'pending.owner@example.com', password: 'chosen by whoever registered it', emailVerified: false });
    const { ua, landing } = await upstreamSignIn(stack, 'squatter');
    const linked = await submitForm(ua, stack.server.issuer, landing, '/link', { password: 'chosen by whoever registered it' });
    expect(linked.url.startsWith(REDIRECT_URI)).toBe(true);
    expect(await findUpstreamIdentity(db, UPSTREAM_ID, 'squatter')).toMatchObject({ account_id: account.id, address_unproven: true });
    // The address's real owner asks for a reset, follows the mailed link and sets a password.
    const owner = new UserAgent();
    expect((await fillForm(owner, stack.server.issuer, '/forgot-password', { email: 'pending.owner@example.com' })).status).toBeLessThan(400);
    let link: string | undefined;
    for (let tries = 0; !link && tries < 50; tries += 1) {
      const mails = await db.selectFrom('mail_outbox').select('text_body').where('recipient', '=', 'pending.owner@example.com').execute();
      link = mails.map((mail) => /https?:\/\/\S+\/reset-password\?token=[\w-]+/.exec(mail.text_body)?.[0]).find(Boolean);
      if (!link) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await followAcross(owner, link!);
    const done = await fillForm(owner, stack.server.issuer, '/reset-password', { password: 'the real owner of this mailbox' });
    expect(done.status).toBe(200);
    expect(await findUpstreamIdentity(db, UPSTREAM_ID, 'squatter')).toBeUndefined();
    const audit = await db.selectFrom('audit_events').select('details').where('type', '=', 'upstream_unlinked').where('account_id', '=', account.id).execute();
    expect(audit.at(-1)?.details).toMatchObject({ provider: UPSTREAM_ID, via: 'password_reset' });
    // Whoever holds the upstream account now meets the password page, not the account.
    const again = await upstreamSignIn(stack, 'squatter');
    expect(again.landing.html).toContain('This email already has an account');
  });

  it('keeps none of the upstream\'s tokens: not in any table, not in any log line', async () => {
    expect(stack.upstream.issuedTokens.length).toBeGreaterThanOrEqual(2); // the access token and the ID token
    const db = stack.server.app.db;
    const tables = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'public'`.execute(db);
    let everything = logLines.join('\n');
    for (const { name } of tables.rows) {
      const rows = await sql<{ row: string }>`select row_to_json(t)::text as row from ${sql.table(name)} t`.execute(db);
      everything += rows.rows.map((row) => row.row).join('\n');
    }
    expect(everything).toContain('staff.one@example.com'); // the dump does hold what was stored
    for (const token of stack.upstream.issuedTokens) {
      expect(everything).not.toContain(token);
      // A JWT's signature alone is as good as a fingerprint of it.
      expect(everything).not.toContain(token.split('.').at(-1)!);
    }
  });
});

describe('upstream linking when MFA is required (MFA_REQUIRED=true)', () => {
  let stack: UpstreamStack;
  beforeAll(async () => {
    stack = await startUpstreamStack({ DATA_DIR: 'memory://', MFA_REQUIRED: 'true' });
    await seedBasics(stack.server);
    await createAccount(stack.server.app.db, stack.server.app.hasher, { ...OWNER, emailVerified: true });
    stack.upstream.users.set('owner-at-upstream', { email: OWNER.email, email_verified: true });
  });
  afterAll(() => stack?.close());

  it('links after the authenticator app set up inside the sign-in, not before', async () => {
    const { ua, landing } = await upstreamSignIn(stack, 'owner-at-upstream');
    const enrol = await submitForm(ua, stack.server.issuer, landing, '/link', { password: OWNER.password });
    const uri = /href="(otpauth:\/\/[^"]+)"/.exec(enrol.html)![1]!.replace(/&amp;/g, '&');
    const secret = new URL(uri).searchParams.get('secret')!;
    const enrolled = await submitForm(ua, stack.server.issuer, enrol, '/enrol', { code: await generate({ secret }) });
    expect(enrolled.html).toContain('/continue');
    expect(await findUpstreamIdentity(stack.server.app.db, UPSTREAM_ID, 'owner-at-upstream')).toBeUndefined();
    const done = await submitForm(ua, stack.server.issuer, enrolled, '/continue');
    expect(done.url.startsWith(REDIRECT_URI)).toBe(true);
    expect((await findUpstreamIdentity(stack.server.app.db, UPSTREAM_ID, 'owner-at-upstream'))?.account_id).toBe((await findAccountByEmail(stack.server.app.db, OWNER.email))!.id);
  });
});
