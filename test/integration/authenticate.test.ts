import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { authenticateWithPassword } from '../../src/accounts/authenticate.ts';
import { createAccount } from '../../src/accounts/create-account.ts';
import { createPasswordHasher, type PasswordHasher } from '../../src/security/passwords.ts';
import { openDatabase, type DatabaseHandle } from '../../src/storage/postgres/db.ts';
import { migrateToLatest } from '../../src/storage/postgres/migrate.ts';
import { disableAccountByEmail } from '../../src/storage/postgres/accounts.queries.ts';
import { lockSignIn } from '../../src/storage/postgres/sign-in-lock.queries.ts';

/**
 * ABU-03, the code-path half: every failure spends exactly one argon2 verify (a real one, or the decoy
 * for accounts that cannot match), so neither timing nor work done tells known emails from unknown ones.
 */
describe('authenticateWithPassword', () => {
  let database: DatabaseHandle;
  let real: PasswordHasher;
  const calls: string[] = [];
  let hasher: PasswordHasher;

  beforeAll(async () => {
    database = await openDatabase({ kind: 'embedded', dataDir: 'memory://' });
    await migrateToLatest(database.db);
    real = await createPasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
    hasher = {
      ...real,
      verify: async (hash, password) => (calls.push('verify'), real.verify(hash, password)),
      decoyVerify: async (password) => (calls.push('decoy'), real.decoyVerify(password)),
    };
    await createAccount(database.db, real, { email: 'known@example.com', password: 'the right password' });
    await createAccount(database.db, real, { email: 'disabled@example.com', password: 'the right password' });
    await disableAccountByEmail(database.db, 'disabled@example.com', new Date());
    await createAccount(database.db, real, { email: 'nopassword@example.com' });
    const locked = await createAccount(database.db, real, { email: 'locked@example.com', password: 'the right password' });
    await lockSignIn(database.db, locked.id, new Date());
  });

  afterAll(async () => {
    await database?.close();
  });

  it.each([
    ['an unknown email', 'nobody@example.com', 'the right password', 'decoy', 'unknown_account'],
    ['a wrong password', 'known@example.com', 'a wrong password', 'verify', 'wrong_password'],
    ['a disabled account with its right password', 'disabled@example.com', 'the right password', 'verify', 'account_disabled'],
    ['an account without a password', 'nopassword@example.com', 'anything', 'decoy', 'no_password'],
    // ABU-01: a locked password is never tried against its hash, not even the right one.
    ['a locked account with its right password', 'locked@example.com', 'the right password', 'decoy', 'account_locked'],
  ])('%s fails after exactly one argon2 verify', async (_case, email, password, kind, reason) => {
    calls.length = 0;
    // The reason is for the audit trail only; the sign-in page shows one message for all of them.
    await expect(authenticateWithPassword(database.db, hasher, email, password)).resolves.toMatchObject({ ok: false, reason });
    expect(calls).toEqual([kind]);
  });

  it('matches emails case-insensitively and trims spaces', async () => {
    const result = await authenticateWithPassword(database.db, hasher, '  KNOWN@example.COM ', 'the right password');
    expect(result.ok).toBe(true);
  });
});
