import { describe, expect, it } from '@jest/globals';
import { generate, generateSecret } from 'otplib';
import { matchTotpCode } from '../../src/accounts/mfa/totp.ts';

/*
 * REL-F12 with MFA-03's window (the current step and one back, never ahead): how far a phone's clock may
 * be off from the server's. A code is typed at some moment of the server's 30 s step, so each offset is
 * tried at every second of one step and the seconds in which the code is accepted are counted.
 */

const secret = generateSecret({ length: 20 });
const T = 1_800_000_000; // a step boundary

/** Of the 30 seconds of one server step, how many accept a code from a device `offset` seconds off (positive: ahead). */
async function secondsAccepted(offset: number): Promise<number> {
  let accepted = 0;
  for (let second = 0; second < 30; second += 1) {
    const serverTime = T + second;
    const code = await generate({ secret, epoch: serverTime + offset });
    if ((await matchTotpCode(secret, code, new Date(serverTime * 1000))) !== undefined) accepted += 1;
  }
  return accepted;
}

describe('TOTP and a device clock that is off (REL-F12, MFA-03)', () => {
  it.each([0, -10, -15, -30])('accepts a device %i s off at every moment of the step', async (offset) => {
    expect(await secondsAccepted(offset)).toBe(30);
  });

  it('accepts a device 45 s behind for half of each step, and none 60 s behind', async () => {
    expect(await secondsAccepted(-45)).toBe(15);
    expect(await secondsAccepted(-60)).toBe(0);
  });

  it('refuses a device ahead once its step has moved on: 10 s ahead fails a third of the time, 30 s ahead always', async () => {
    expect(await secondsAccepted(10)).toBe(20);
    expect(await secondsAccepted(15)).toBe(15);
    expect(await secondsAccepted(30)).toBe(0);
  });
});
