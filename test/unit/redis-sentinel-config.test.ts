import { describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { DEFAULT_REDIS_TIMEOUTS, loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';
import { sentinelOptions } from '../../src/storage/redis/client.ts';

/* REL-F3: the Sentinel settings, checked at boot, and how they combine with REDIS_URL. */

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig({ NODE_ENV: 'test', DATA_DIR: 'memory://', ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const sentinel = { addresses: [{ host: 's1', port: 26379 }], name: 'main', password: 'sentinel-secret' };

describe('REDIS_SENTINELS and REDIS_SENTINEL_NAME', () => {
  it('read a host:port list (port 26379 when left out, IPv6 in brackets) next to REDIS_URL', () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      DATA_DIR: 'memory://',
      REDIS_URL: 'rediss://:data-secret@ignored/2',
      REDIS_SENTINELS: 's1.example:26380, s2.example,[::1]:5000',
      REDIS_SENTINEL_NAME: 'main',
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
    });
    expect(config.redis).toMatchObject({
      url: 'rediss://:data-secret@ignored/2',
      sentinel: {
        addresses: [
          { host: 's1.example', port: 26380 },
          { host: 's2.example', port: 26379 },
          { host: '::1', port: 5000 },
        ],
        name: 'main',
        password: 'sentinel-secret',
      },
    });
  });

  it('are off without REDIS_SENTINELS: REDIS_URL alone names the server', () => {
    expect(loadConfig({ NODE_ENV: 'test', DATA_DIR: 'memory://', REDIS_URL: 'redis://cache:6379' }).redis?.sentinel).toBeUndefined();
  });

  it('list every problem at once: bad addresses, a missing name, and no REDIS_URL', () => {
    expect(problemsOf({ REDIS_SENTINELS: 's1:99999,s2:abc, :1,ok:1' })).toEqual([
      'REDIS_SENTINELS.0: "s1:99999" is not host:port',
      'REDIS_SENTINELS.1: "s2:abc" is not host:port',
      'REDIS_SENTINELS.2: ":1" is not host:port',
      'REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the name the sentinels monitor the primary under)',
      'REDIS_URL: required with REDIS_SENTINELS (it gives the password, database and TLS; its host is not used)',
    ]);
  });

  it('refuse a name or a sentinel password without sentinels, and a name with spaces', () => {
    expect(problemsOf({ REDIS_URL: 'redis://cache', REDIS_SENTINEL_NAME: 'two words', REDIS_SENTINEL_PASSWORD: 'x' })).toEqual([
      'REDIS_SENTINEL_NAME: must be one name without spaces or commas',
      'REDIS_SENTINELS: required with REDIS_SENTINEL_NAME',
      'REDIS_SENTINEL_PASSWORD: only used with REDIS_SENTINELS',
    ]);
  });
});

describe('the Sentinel client options', () => {
  it('ask the sentinels for the primary with their own password and the command timeout as their bound', () => {
    expect(sentinelOptions('redis://:data-secret@ignored/2', DEFAULT_REDIS_TIMEOUTS, sentinel)).toMatchObject({
      sentinels: [{ host: 's1', port: 26379 }],
      name: 'main',
      sentinelPassword: 'sentinel-secret',
      sentinelCommandTimeout: DEFAULT_REDIS_TIMEOUTS.commandMs,
      enableTLSForSentinelMode: false,
    });
  });

  it('keep REDIS_URL password and database for the primary, and TLS to primary and sentinels alike with rediss://', () => {
    const options = sentinelOptions('rediss://user:data-secret@ignored/2', DEFAULT_REDIS_TIMEOUTS, sentinel);
    expect(options).toMatchObject({ enableTLSForSentinelMode: true, sentinelTLS: {} });
    // What ioredis makes of the URL and our options together (lazyConnect: nothing is opened).
    const redis = new Redis('rediss://user:data-secret@ignored/2', { ...options, lazyConnect: true });
    try {
      expect(redis.options).toMatchObject({ username: 'user', password: 'data-secret', db: 2, tls: true, sentinelPassword: 'sentinel-secret' });
    } finally {
      redis.disconnect();
    }
  });

  it('never give up looking for a sentinel (backoff to at most 1 s a round)', () => {
    const retry = sentinelOptions('redis://ignored', DEFAULT_REDIS_TIMEOUTS, sentinel).sentinelRetryStrategy!;
    expect([1, 5, 100, 10_000].map((times) => retry(times))).toEqual([100, 500, 1_000, 1_000]);
  });
});
