import { describe, expect, it } from '@jest/globals';
import { MAX_DETAILS_JSON, isSecretKey, sanitiseDetails } from '../../src/audit/details.ts';

describe('audit details sanitiser', () => {
  it('drops every key that names a secret, whatever its case or separator, and names what it dropped', () => {
    const { details, dropped } = sanitiseDetails({
      password: 'hunter2hunter2',
      newPassword: 'x',
      current_password: 'x',
      client_secret: 'x',
      access_token: 'x',
      idToken: 'x',
      'Set-Cookie': 'x',
      authorization: 'x',
      code: '123456',
      recovery_code: 'abcd-efgh',
      totp: '123456',
      otp: '1',
      code_verifier: 'x',
      privateKey: 'x',
      secretHash: 'x',
      csrf: 'x',
      reason: 'wrong_password',
      method: 'totp',
      remaining: 7,
    });
    expect(details).toEqual({ reason: 'wrong_password', method: 'totp', remaining: 7 });
    expect(dropped).toHaveLength(16);
    expect(dropped).toContain('password');
    expect(dropped).toContain('Set-Cookie');
  });

  it('keeps harmless keys that merely contain a secret-sounding fragment of a word', () => {
    for (const key of ['passkey_id', 'kid', 'kids', 'method', 'auth_method', 'grant_types', 'redirect_uris', 'amr', 'encode_mode']) {
      expect([key, isSecretKey(key)]).toEqual([key, false]);
    }
  });

  it('drops values that are credentials under any key: JWTs, Authorization values, hashes, keys, URLs carrying them', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl';
    const { details, dropped } = sanitiseDetails({
      a: jwt,
      b: `Bearer ${'x'.repeat(20)}`,
      c: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
      d: '-----BEGIN PRIVATE KEY-----\nMII',
      e: 'smtp://user:pa55@mail.example.com',
      f: 'https://rp.example/cb?code=abc&state=1',
      g: ['ok', jwt],
      kept: 'https://rp.example/cb',
    });
    expect(details).toEqual({ kept: 'https://rp.example/cb' });
    expect(dropped.sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  });

  it('keeps details flat, printable and small', () => {
    const { details, dropped } = sanitiseDetails({
      nested: { reason: 'x' } as never,
      fn: (() => 1) as never,
      nan: Number.NaN,
      text: `line\nforged\u001b[31m${'y'.repeat(500)}`,
      list: Array.from({ length: 50 }, (_, i) => `item${i}`),
      nothing: null,
      skipped: undefined,
    });
    expect(dropped.sort()).toEqual(['fn', 'nan', 'nested']);
    expect(details.text).toMatch(/^line\?forged\?\[31my+$/);
    expect((details.text as string).length).toBe(200);
    expect(details.list).toHaveLength(10);
    expect(details.nothing).toBeNull();
    expect(details).not.toHaveProperty('skipped');

    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${i}x`, 'v'.repeat(150)]));
    const bounded = sanitiseDetails(many);
    expect(JSON.stringify(bounded.details).length).toBeLessThanOrEqual(MAX_DETAILS_JSON);
    expect(Object.keys(bounded.details).length + bounded.dropped.length).toBe(40);
  });
});
