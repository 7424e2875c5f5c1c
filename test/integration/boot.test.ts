import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { createTestDatabase, postgresUrl, redisUrl } from '../support/backends.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Runs the real entry point (`npm start` runs `node src/main.ts`) and collects its exit code and stderr. */
function boot(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['src/main.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('booting the server with a bad environment', () => {
  it('refuses production on the embedded store and lists every problem at once, without a stack trace', async () => {
    const { code, stderr } = await boot({ NODE_ENV: 'production', ISSUER: 'http://id.example.com', PORT: 'x' });
    expect(code).toBe(1);
    for (const key of ['PORT', 'ISSUER', 'DATABASE_URL', 'REDIS_URL', 'COOKIE_SECRETS', 'KEY_ENCRYPTION_KEY']) {
      expect(stderr).toContain(`${key}:`);
    }
    expect(stderr).not.toMatch(/\n\s+at /);
  }, 30_000);

  it('lists every malformed value', async () => {
    const { code, stderr } = await boot({ NODE_ENV: 'test', DATABASE_URL: 'mysql://db', LOG_LEVEL: 'chatty', TRUST_PROXY: 'maybe' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/DATABASE_URL:/);
    expect(stderr).toMatch(/LOG_LEVEL:/);
    expect(stderr).toMatch(/TRUST_PROXY:/);
  }, 30_000);
});

// Production needs real servers; this block exists only when the run has them (as .ci/run does).
if (postgresUrl && redisUrl) describe('booting production on Postgres + Redis', () => {
  it('refuses an unmigrated database with the command to run, instead of crashing on a missing table', async () => {
    const database = await createTestDatabase();
    try {
      const { code, stderr } = await boot({
        NODE_ENV: 'production',
        ISSUER: 'https://id.example.com',
        DATABASE_URL: database.url,
        REDIS_URL: redisUrl!,
        SMTP_URL: 'smtp://127.0.0.1:2525',
        COOKIE_SECRETS: 'x'.repeat(32),
        KEY_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
        LOG_LEVEL: 'silent',
      });
      expect(code).toBe(1);
      expect(stderr).toContain('pending migration');
      expect(stderr).toContain('gatehouse migrate');
      expect(stderr).not.toMatch(/\n\s+at /);
    } finally {
      await database.drop();
    }
  }, 30_000);
});
