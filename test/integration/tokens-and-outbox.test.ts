import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createAccount } from '../../src/accounts/create-account.ts';
import { createPasswordHasher } from '../../src/security/passwords.ts';
import { hashToken, issueToken } from '../../src/security/tokens.ts';
import { consumeAccountToken, findUsableAccountToken, insertAccountToken, retireAccountTokens } from '../../src/storage/postgres/account-tokens.queries.ts';
import { openDatabase, type DatabaseHandle } from '../../src/storage/postgres/db.ts';
import { claimDueMails, enqueueMail, markMailAttemptFailed, markMailSent } from '../../src/storage/postgres/mail-outbox.queries.ts';
import { migrateToLatest } from '../../src/storage/postgres/migrate.ts';
import { databaseBackends } from '../support/backends.ts';

const MINUTE = 60_000;

describe.each(databaseBackends)('one-time tokens and the mail outbox on $name', (backend) => {
  let handle: DatabaseHandle;
  let cleanup: () => Promise<void>;
  let accountId: string;
  const t0 = new Date('2026-11-29T10:00:00Z');

  beforeAll(async () => {
    const made = await backend.setup();
    cleanup = made.cleanup;
    handle = await openDatabase(made.config);
    await migrateToLatest(handle.db);
    const hasher = await createPasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
    accountId = (await createAccount(handle.db, hasher, { email: 'tokens@example.com' })).id;
  });

  afterAll(async () => {
    await handle?.close();
    await cleanup?.();
  });

  async function mint(createdAt = t0, ttlMinutes = 30) {
    const issued = issueToken();
    await insertAccountToken(handle.db, {
      accountId, purpose: 'reset_password', tokenHash: issued.hash, email: 'tokens@example.com',
      createdAt, expiresAt: new Date(createdAt.getTime() + ttlMinutes * MINUTE),
    });
    return issued;
  }

  it('issues 256-bit tokens and stores only their hash', async () => {
    const issued = await mint();
    expect(Buffer.from(issued.token, 'base64url')).toHaveLength(32);
    const rows = await handle.db.selectFrom('account_tokens').select('token_hash').execute();
    expect(rows.map((row) => row.token_hash)).toContain(hashToken(issued.token));
    expect(rows.map((row) => row.token_hash)).not.toContain(issued.token);
  });

  it('uses a token exactly once, even under concurrent redemption', async () => {
    const issued = await mint();
    const results = await Promise.all(Array.from({ length: 5 }, () => consumeAccountToken(handle.db, issued.hash, 'reset_password', t0)));
    expect(results.filter(Boolean)).toHaveLength(1);
    await expect(consumeAccountToken(handle.db, issued.hash, 'reset_password', t0)).resolves.toBeUndefined();
  });

  it('refuses an expired token and a token of another purpose', async () => {
    const issued = await mint();
    await expect(findUsableAccountToken(handle.db, issued.hash, 'verify_email', t0)).resolves.toBeUndefined();
    await expect(consumeAccountToken(handle.db, issued.hash, 'reset_password', new Date(t0.getTime() + 31 * MINUTE))).resolves.toBeUndefined();
    await expect(findUsableAccountToken(handle.db, issued.hash, 'reset_password', new Date(t0.getTime() + 29 * MINUTE))).resolves.toBeDefined();
  });

  it('retires older tokens when a new one is requested', async () => {
    const older = await mint();
    await retireAccountTokens(handle.db, accountId, 'reset_password', t0);
    const newer = await mint();
    await expect(consumeAccountToken(handle.db, older.hash, 'reset_password', t0)).resolves.toBeUndefined();
    await expect(consumeAccountToken(handle.db, newer.hash, 'reset_password', t0)).resolves.toBeDefined();
  });

  it('claims each due mail once across concurrent workers, retries failures and stops at sent', async () => {
    const id = await enqueueMail(handle.db, { recipient: 'a@example.com', subject: 's', text: 't', html: '<p>t</p>' }, t0);
    const [first, second] = await Promise.all([claimDueMails(handle.db, t0, 10, 60), claimDueMails(handle.db, t0, 10, 60)]);
    expect([...first!, ...second!].filter((mail) => mail.id === id)).toHaveLength(1);
    // Leased: not due again until the lease ends.
    await expect(claimDueMails(handle.db, t0, 10, 60)).resolves.toEqual([]);
    await markMailAttemptFailed(handle.db, id, 'connection refused', t0, new Date(t0.getTime() + MINUTE));
    const retried = await claimDueMails(handle.db, new Date(t0.getTime() + MINUTE), 10, 60);
    expect(retried.map((mail) => [mail.id, mail.attempts, mail.last_error])).toEqual([[id, 2, 'connection refused']]);
    await markMailSent(handle.db, id, t0);
    await expect(claimDueMails(handle.db, new Date(t0.getTime() + 60 * MINUTE), 10, 60)).resolves.toEqual([]);
  });
});
