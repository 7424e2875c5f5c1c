import { describe, expect, it } from '@jest/globals';
import { generate, generateSecret } from 'otplib';
import { matchTotpCode } from '../../src/accounts/mfa/totp.ts';

const secret = generateSecret({ length: 20 });
const at = (seconds: number) => new Date(seconds * 1000);
const codeAt = (seconds: number) => generate({ secret, epoch: seconds });
const T = 1_800_000_000; // a step boundary: 1_800_000_000 / 30 is whole

describe('TOTP codes (MFA-01, MFA-02, MFA-03)', () => {
  it('uses a 160-bit seed', () => {
    expect(secret.replace(/=+$/, '').length * 5).toBeGreaterThanOrEqual(160);
  });

  it('accepts the current step and one step back, never two back or a future step', async () => {
    await expect(matchTotpCode(secret, await codeAt(T), at(T))).resolves.toBe(T / 30);
    await expect(matchTotpCode(secret, await codeAt(T - 30), at(T))).resolves.toBe(T / 30 - 1);
    await expect(matchTotpCode(secret, await codeAt(T - 60), at(T))).resolves.toBeUndefined();
    await expect(matchTotpCode(secret, await codeAt(T + 30), at(T))).resolves.toBeUndefined();
  });

  it('refuses a code whose step is not after the last accepted one (single use)', async () => {
    const code = await codeAt(T);
    await expect(matchTotpCode(secret, code, at(T), T / 30)).resolves.toBeUndefined();
    await expect(matchTotpCode(secret, code, at(T), T / 30 - 1)).resolves.toBe(T / 30);
  });

  it('refuses anything that is not six digits', async () => {
    for (const code of ['', '12345', '1234567', 'abcdef', ' 123456']) await expect(matchTotpCode(secret, code, at(T))).resolves.toBeUndefined();
  });
});
