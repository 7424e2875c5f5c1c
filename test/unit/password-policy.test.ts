import { describe, expect, it } from '@jest/globals';
import { dictionary } from '@zxcvbn-ts/language-common';
import { ar } from '../../src/i18n/messages/ar.ts';
import { en } from '../../src/i18n/messages/en.ts';
import { translator } from '../../src/i18n/translate.ts';
import {
  createPasswordPolicy,
  isCommonPassword,
  MAX_PASSWORD_LENGTH,
  type PasswordRejection,
} from '../../src/security/password-policy.ts';

const ISSUER = 'https://id.example.com';
const policy = createPasswordPolicy({ minLength: 15, issuer: ISSUER });
const alice = { email: 'alice.smith@example.com', name: 'Alice Smith' };

/** A password of `n` code points that no blocklist or context rule touches. */
const randomish = (n: number) => 'q7Lm#vR2 xK9p!Zt'.repeat(20).slice(0, n);

describe('password length (PW-01, PW-02)', () => {
  it.each([
    [15, 14, false],
    [15, 15, true],
    [8, 7, false],
    [8, 8, true],
  ])('minLength %i: %i code points ok=%s', async (minLength, length, ok) => {
    const verdict = await createPasswordPolicy({ minLength, issuer: ISSUER }).check(randomish(length), {});
    expect(verdict.ok).toBe(ok);
    if (!verdict.ok) expect(verdict).toEqual({ ok: false, reason: 'too_short', messageKey: 'password.too_short', params: { min: minLength } });
  });

  it('counts "é" as one code point whether composed or decomposed', async () => {
    const composed = 'q7Lm#vR2 xK9p!\u00e9'; // 14 + é (U+00E9)
    const decomposed = 'q7Lm#vR2 xK9p!e\u0301'; // 14 + e + combining acute: two code points before NFC
    expect([...decomposed].length).toBe(16);
    await expect(policy.check(composed, {})).resolves.toEqual({ ok: true });
    await expect(policy.check(decomposed, {})).resolves.toEqual({ ok: true });
    await expect(policy.check(decomposed.slice(1), {})).resolves.toMatchObject({ reason: 'too_short' });
  });

  it('counts an emoji (a surrogate pair in UTF-16) as one code point', async () => {
    const password = 'q7Lm#vR2 xK9p!\u{1F600}';
    expect(password.length).toBe(16);
    await expect(policy.check(password, {})).resolves.toEqual({ ok: true });
    await expect(policy.check(password.slice(1), {})).resolves.toMatchObject({ reason: 'too_short' });
  });

  it(`accepts ${MAX_PASSWORD_LENGTH} code points and refuses ${MAX_PASSWORD_LENGTH + 1}`, async () => {
    expect(MAX_PASSWORD_LENGTH).toBe(256);
    await expect(policy.check(randomish(256), {})).resolves.toEqual({ ok: true });
    await expect(policy.check(randomish(257), {})).resolves.toEqual({
      ok: false,
      reason: 'too_long',
      messageKey: 'password.too_long',
      params: { max: 256 },
    });
  });

  it('has no composition rules: an all-lowercase passphrase with spaces is fine (PW-03)', async () => {
    await expect(policy.check('correct horse battery staple', alice)).resolves.toEqual({ ok: true });
  });

  it('does not trim: leading and trailing spaces count', async () => {
    await expect(policy.check(`  ${randomish(13)}`, {})).resolves.toEqual({ ok: true });
  });
});

describe('blocklist (PW-04)', () => {
  it('draws on a list with at least 3000 entries of 8 or more code points', () => {
    const list = dictionary['passwords-common'];
    const atLeast8 = list.filter((entry) => [...entry].length >= 8).length;
    const atLeast15 = list.filter((entry) => [...entry].length >= 15).length;
    console.info(`passwords-common: ${list.length} entries, ${atLeast8} of >= 8 code points, ${atLeast15} of >= 15`);
    expect(atLeast8).toBeGreaterThanOrEqual(3000);
  });

  it.each([
    ['a listed password', 'passwordpassword'],
    ['case-folded', 'PassWordPassWord'],
    ['a listed stem with digits appended', 'Password1234567890'],
    ['a listed stem with digits and symbols appended', 'password123!!!!!'],
    ['a listed stem ending in digits, with symbols appended', 'abc123!!!!!!!!!!'],
    ['a listed entry repeated', 'dragondragondragon'],
    ['a short unit repeated', 'abcabcabcabcabcabc'],
    ['a listed number with symbols appended', '123456789!!!!!!!'],
  ])('refuses %s: %s', async (_case, password) => {
    await expect(policy.check(password, {})).resolves.toEqual({ ok: false, reason: 'blocklisted', messageKey: 'password.blocklisted' });
  });

  it('does not refuse a long number only because it starts like a listed one', () => {
    expect(isCommonPassword('1234 9876 5522 1003')).toBe(false);
  });
});

describe('context words (PW-04)', () => {
  it.each([
    ['the email local part with a year and symbols', 'alice.smith2024!!!', alice],
    ['the service name twice', 'gatehousegatehouse', {}],
    ['the service name and a common password', 'Gatehouse password', {}],
    ['the name words and a date', 'Alice Smith 1990-05-17', alice],
  ])('refuses %s: %s', async (_case, password, context) => {
    await expect(policy.check(password, context)).resolves.toEqual({ ok: false, reason: 'context', messageKey: 'password.context' });
  });

  it('refuses a label of the issuer host with a date appended', async () => {
    // "example" itself is a listed password, so this uses a host label the blocklist does not know.
    const ours = createPasswordPolicy({ minLength: 15, issuer: 'https://sso.kestrelbay.org' });
    await expect(ours.check('KestrelBay-2024-01-01', {})).resolves.toMatchObject({ reason: 'context' });
    await expect(ours.check('sso.kestrelbay.org!!!', {})).resolves.toMatchObject({ reason: 'context' });
  });

  it.each([
    'purple alice mountains whisper',
    'alice likes purple mountains',
  ])('accepts a passphrase that merely contains the first name: %s', async (password) => {
    await expect(policy.check(password, alice)).resolves.toEqual({ ok: true });
  });
});

describe('messages', () => {
  const reasons: PasswordRejection[] = ['too_short', 'too_long', 'blocklisted', 'context', 'breached'];

  it.each(reasons)('%s has a message in English and Arabic', (reason) => {
    const key = `password.${reason}`;
    expect(Object.hasOwn(en, key)).toBe(true);
    expect(Object.hasOwn(ar, key)).toBe(true);
  });

  it('fills the lengths into the sentence', () => {
    expect(translator('en')('password.too_short', { min: 15 })).toMatch(/^Use at least 15 characters\./);
    expect(translator('ar')('password.too_long', { max: 256 })).toContain('256');
  });
});
