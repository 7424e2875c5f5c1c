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
  let totpSecret: string;
  const db = () => stack.server.app.db;

  beforeAll(async () => {
    stack = await startUpstreamStack({ DATA_DIR: 'memory://', REGISTRATION: 'closed' });
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
    stack.upstream.users.set('staff-1', { email: 'staff.one@example.com', email_verified: false, name: 'Staff One' });
  });
  afterAll(() => stack?.close());

  it('creates the account although registration is closed, with email_verified only as the upstream says', async () => {
    const { landing } = await upstreamSignIn(stack, 'staff-1');
    expect(landing.url.startsWith(REDIRECT_URI)).toBe(true);
    expect(await findAccountByEmail(stack.server.app.db, 'staff.one@example.com')).toMatchObject({ email_verified: false, password_hash: null });
  });

  it('unlinks, at the password reset that proves the mailbox, an identity linked while the address was unproven (account pre-hijacking)', async () => {
    const db = stack.server.app.db;
    const account = (await findAccountByEmail(db, 'staff.one@example.com'))!;
    expect(await findUpstreamIdentity(db, UPSTREAM_ID, 'staff-1')).toMatchObject({ account_id: account.id, address_unproven: true });
    // The address's real owner asks for a reset, follows the mailed link and sets a password.
    const owner = new UserAgent();
    expect((await fillForm(owner, stack.server.issuer, '/forgot-password', { email: 'staff.one@example.com' })).status).toBeLessThan(400);
    let link: string | undefined;
    for (let tries = 0; !link && tries < 50; tries += 1) {
      const mails = await db.selectFrom('mail_outbox').select('text_body').where('recipient', '=', 'staff.one@example.com').execute();
      link = mails.map((mail) => /https?:\/\/\S+\/reset-password\?token=[\w-]+/.exec(mail.text_body)?.[0]).find(Boolean);
      if (!link) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await followAcross(owner, link!);
    const done = await fillForm(owner, stack.server.issuer, '/reset-password', { password: 'the real owner of this mailbox' });
    expect(done.status).toBe(200);
    expect(await findUpstreamIdentity(db, UPSTREAM_ID, 'staff-1')).toBeUndefined();
    const audit = await db.selectFrom('audit_events').select('details').where('type', '=', 'upstream_unlinked').where('account_id', '=', account.id).execute();
    expect(audit.at(-1)?.details).toMatchObject({ provider: UPSTREAM_ID, via: 'password_reset' });
    // Whoever holds the upstream account now meets the password page, not the account.
    const { landing } = await upstreamSignIn(stack, 'staff-1');
    expect(landing.html).toContain('This email already has an account');
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
