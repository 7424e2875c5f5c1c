import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const goodSecrets = {
  COOKIE_SECRETS: 'a'.repeat(32),
  KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
};

describe('loadConfig', () => {
  it('defaults to the embedded store and a localhost issuer outside production', () => {
    const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: 'memory://' });
    expect(config.issuer).toBe('http://localhost:3000');
    expect(config.database).toEqual({ kind: 'embedded', dataDir: 'memory://' });
    expect(config.redis).toBeUndefined();
    expect(config.secretsGenerated).toBe(true);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('strips a trailing slash from the issuer so discovery publishes exactly one form', () => {
    expect(loadConfig({ NODE_ENV: 'test', ISSUER: 'https://id.example.com/' }).issuer).toBe('https://id.example.com');
  });

  it('lists every problem of a bad environment at once', () => {
    const problems = problemsOf({ NODE_ENV: 'staging', PORT: 'abc', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^NODE_ENV:/),
        expect.stringMatching(/^PORT:/),
        expect.stringMatching(/^DATABASE_URL:/),
        expect.stringMatching(/^LOG_LEVEL:/),
      ]),
    );
  });

  it('refuses production on the embedded store, without Redis, on generated secrets and on an http issuer', () => {
    const problems = problemsOf({ NODE_ENV: 'production', ISSUER: 'http://id.example.com' });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^ISSUER: must use https/),
        expect.stringMatching(/^DATABASE_URL: required in production/),
        expect.stringMatching(/^REDIS_URL: required in production/),
        expect.stringMatching(/^COOKIE_SECRETS: required in production/),
        expect.stringMatching(/^KEY_ENCRYPTION_KEY: required in production/),
        expect.stringMatching(/^SMTP_URL: required in production/),
      ]),
    );
  });

  it('refuses the demo seed in production', () => {
    const problems = problemsOf({
      NODE_ENV: 'production',
      ISSUER: 'https://id.example.com',
      DATABASE_URL: 'postgres://db/gatehouse',
      REDIS_URL: 'redis://cache:6379',
      SMTP_URL: 'smtp://mail:587',
      SEED_DEMO: 'true',
      ...goodSecrets,
    });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((problem) => problem.startsWith('SEED_DEMO:'))).toBe(true);
  });

  it('accepts a complete production environment, and http on loopback', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      ISSUER: 'http://127.0.0.1:3000',
      DATABASE_URL: 'postgres://db/gatehouse',
      REDIS_URL: 'redis://cache:6379',
      SMTP_URL: 'smtp://mail:587',
      ...goodSecrets,
    });
    expect(config.secretsGenerated).toBe(false);
    expect(config.seedDemo).toBe(false);
    expect(config.cookieSecrets).toEqual(['a'.repeat(32)]);
  });

  it('keeps audit events 365 days by default or 0 (forever), and refuses other values', () => {
    const base = { NODE_ENV: 'test', DATA_DIR: 'memory://', ...goodSecrets };
    expect(loadConfig(base).audit.retentionDays).toBe(365);
    expect(loadConfig({ ...base, AUDIT_RETENTION_DAYS: '0' }).audit.retentionDays).toBe(0);
    for (const value of ['-1', '1.5', 'forever', '36501']) {
      expect(problemsOf({ ...base, AUDIT_RETENTION_DAYS: value })).toEqual([expect.stringMatching(/^AUDIT_RETENTION_DAYS:/)]);
    }
  });

  it('hashes as many passwords at once as libuv has pool threads but one (ABU-05), whatever the CPU count', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).hashing.maxConcurrent).toBe(3);
    expect(loadConfig({ NODE_ENV: 'test', UV_THREADPOOL_SIZE: '8' }).hashing.maxConcurrent).toBe(7);
    expect(loadConfig({ NODE_ENV: 'test', UV_THREADPOOL_SIZE: '1' }).hashing.maxConcurrent).toBe(1);
    expect(loadConfig({ NODE_ENV: 'test', ARGON2_MAX_CONCURRENT: '2' }).hashing.maxConcurrent).toBe(2);
  });

  it('rejects short cookie secrets and a key that is not 32 bytes', () => {
    const problems = problemsOf({ NODE_ENV: 'test', COOKIE_SECRETS: 'short', KEY_ENCRYPTION_KEY: 'AAAA' });
    expect(problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^COOKIE_SECRETS/), expect.stringMatching(/^KEY_ENCRYPTION_KEY:/)]),
    );
  });
});

describe('configuration documentation', () => {
  it('documents every key of the schema in the README table', async () => {
    const { readFile } = await import('node:fs/promises');
    const { configSchema } = await import('../../src/config/schema.ts');
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const missing = Object.keys(configSchema.shape).filter((key) => !readme.includes(`| \`${key}\` |`));
    expect(missing).toEqual([]);
  });
});

describe('GATEHOUSE_CONFIG', () => {
  it('accepts the shipped example file (with the secrets and URLs it leaves to the environment)', () => {
    const file = new URL('../../config/gatehouse.example.yaml', import.meta.url).pathname;
    const config = loadConfig({
      GATEHOUSE_CONFIG: file,
      DATABASE_URL: 'postgres://db/gatehouse',
      REDIS_URL: 'redis://cache:6379',
      SMTP_URL: 'smtp://mail:587',
      ...goodSecrets,
    });
    expect(config.env).toBe('production');
    expect(config.issuer).toBe('https://id.example.com');
  });

  it('reads settings from a YAML file, with the environment winning, and validates them together', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-config-'));
    try {
      const file = join(dir, 'gatehouse.yaml');
      await writeFile(file, 'PORT: 4000\nLOG_LEVEL: debug\nACCESS_TOKEN_TTL: 600\n');
      const config = loadConfig({ NODE_ENV: 'test', DATA_DIR: 'memory://', GATEHOUSE_CONFIG: file, LOG_LEVEL: 'warn' });
      expect(config.port).toBe(4000);
      expect(config.issuer).toBe('http://localhost:4000');
      expect(config.ttl.accessToken).toBe(600);
      expect(config.logLevel).toBe('warn');

      await writeFile(file, 'PORT: nope\n');
      expect(problemsOf({ NODE_ENV: 'test', GATEHOUSE_CONFIG: file })).toEqual([expect.stringMatching(/^PORT:/)]);
      expect(problemsOf({ NODE_ENV: 'test', GATEHOUSE_CONFIG: join(dir, 'missing.yaml') })).toEqual([expect.stringMatching(/^GATEHOUSE_CONFIG: cannot read/)]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('password policy settings', () => {
  it('allows a minimum below 15 only when MFA is required (NIST SP 800-63B-4)', () => {
    expect(problemsOf({ NODE_ENV: 'test', PASSWORD_MIN_LENGTH: '8' })).toEqual([expect.stringMatching(/^PASSWORD_MIN_LENGTH: below 15 only when MFA_REQUIRED/)]);
    expect(loadConfig({ NODE_ENV: 'test', DATA_DIR: 'memory://', PASSWORD_MIN_LENGTH: '8', MFA_REQUIRED: 'true' }).passwords.minLength).toBe(8);
    expect(problemsOf({ NODE_ENV: 'test', PASSWORD_MIN_LENGTH: '7', MFA_REQUIRED: 'true' })).toEqual([expect.stringMatching(/^PASSWORD_MIN_LENGTH:/)]);
  });

  it('opens registration by default outside production and closes it in production', () => {
    expect(loadConfig({ NODE_ENV: 'test', DATA_DIR: 'memory://' }).registration).toBe('open');
  });
});
