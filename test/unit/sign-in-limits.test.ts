import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';
import { delaySeconds } from '../../src/security/sign-in-limits.ts';

const base = { NODE_ENV: 'test', DATA_DIR: 'memory://', COOKIE_SECRETS: 'a'.repeat(32), KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64') };

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('sign-in limit settings (ABU-01, ABU-02)', () => {
  it('defaults to issue 7: 5 per (account, IP) then 15 min, 20 per IP per 10 min, delay from the 5th failure (1 s doubling to 15 min), lock at 100, 10 client failures', () => {
    expect(loadConfig(base).limits).toEqual({
      signIn: {
        pair: { maxFailures: 5, windowSeconds: 900, blockSeconds: 900 },
        ip: { maxFailures: 20, windowSeconds: 600, blockSeconds: 600 },
        delay: { afterFailures: 5, initialSeconds: 1, maxSeconds: 900 },
        lockAfterFailures: 100,
      },
      clientAuth: { maxFailures: 10, windowSeconds: 900, blockSeconds: 900 },
    });
  });

  it('refuses a lock after more than 100 failures (NIST SP 800-63B-4 §3.2.2), zero limits, and a first delay above the cap', () => {
    expect(problemsOf({ SIGN_IN_LOCK_AFTER_FAILURES: '101' })).toEqual([expect.stringMatching(/^SIGN_IN_LOCK_AFTER_FAILURES: /)]);
    expect(problemsOf({ SIGN_IN_PAIR_MAX_FAILURES: '0', CLIENT_AUTH_MAX_FAILURES: '0' })).toHaveLength(2);
    expect(problemsOf({ SIGN_IN_DELAY_INITIAL_SECONDS: '600', SIGN_IN_DELAY_MAX_SECONDS: '60' })).toEqual([
      'SIGN_IN_DELAY_INITIAL_SECONDS: must not exceed SIGN_IN_DELAY_MAX_SECONDS',
    ]);
  });
});

describe('delaySeconds', () => {
  const rule = { afterFailures: 5, initialSeconds: 1, maxSeconds: 900 };

  it('waits nothing before the 5th consecutive failure, then 1 s doubling up to 15 minutes', () => {
    const delays = Array.from({ length: 17 }, (_, i) => delaySeconds(i + 1, rule));
    expect(delays).toEqual([0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]);
  });

  it('stays at the cap however long an attack goes on (no overflow)', () => {
    expect(delaySeconds(1_000_000, rule)).toBe(900);
  });
});
