import { PassThrough, Readable } from 'node:stream';
import { runCli } from '../../src/cli/main.ts';
import { loadConfig } from '../../src/config/load.ts';
import { openDatabase, type Db } from '../../src/storage/postgres/db.ts';
import { createTestDatabase, postgresUrl } from './backends.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `gatehouse` CLI in-process with the given environment and standard input. */
export async function gatehouse(argv: string[], env: Record<string, string | undefined>, stdin = ''): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await runCli(argv, { env, stdin: Readable.from([stdin]), stdout, stderr });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/** Like gatehouse() but fails the test with the CLI's own message when it exits non-zero. */
export async function gatehouseOk(argv: string[], env: Record<string, string | undefined>, stdin = ''): Promise<string> {
  const result = await gatehouse(argv, env, stdin);
  if (result.code !== 0) throw new Error(`gatehouse ${argv.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}

/** Opens the store the CLI used (and closes it, so the embedded lock is free for the next CLI run). */
export async function withDb<T>(env: Record<string, string | undefined>, work: (db: Db) => Promise<T>): Promise<T> {
  const handle = await openDatabase(loadConfig(env).database);
  try {
    return await work(handle.db);
  } finally {
    await handle.close();
  }
}

/** A store a CLI test runs on: a fresh data directory, and a fresh Postgres database for the Postgres one. */
export interface CliBackend {
  name: string;
  setup(dataDir: string): Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }>;
}

/** The embedded store always; Postgres too when DATABASE_URL names a server (test/support/backends.ts). */
export function cliBackends(baseEnv: Record<string, string>): CliBackend[] {
  const backends: CliBackend[] = [{ name: 'embedded', setup: async (dataDir) => ({ env: { ...baseEnv, DATA_DIR: dataDir }, cleanup: async () => {} }) }];
  if (postgresUrl) {
    backends.push({
      name: 'Postgres',
      async setup(dataDir) {
        const { url, drop } = await createTestDatabase();
        return { env: { ...baseEnv, DATA_DIR: dataDir, DATABASE_URL: url }, cleanup: drop };
      },
    });
  }
  return backends;
}
