import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DatabaseConfig } from '../../src/config/load.ts';

/**
 * The storage backends a test file runs against: the embedded store always, real Postgres and Redis
 * whenever DATABASE_URL / REDIS_URL are set (.ci/run sets both and fails if they are unreachable).
 */
export const postgresUrl = process.env.DATABASE_URL || undefined;
export const redisUrl = process.env.REDIS_URL || undefined;

/** A fresh name per call, so each test file (and jest worker) owns its database and Redis keys. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/**
 * Creates an empty database on the configured Postgres server for one test file and returns its URL;
 * the returned `drop` removes it.
 */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!postgresUrl) throw new Error('DATABASE_URL is not set');
  const name = uniqueName('gh_test');
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export interface DatabaseBackend {
  name: string;
  /** Makes the database config for one test file; `cleanup` drops what it made. */
  setup(): Promise<{ config: DatabaseConfig; cleanup: () => Promise<void> }>;
}

export const embeddedBackend: DatabaseBackend = {
  name: 'embedded PGlite',
  async setup() {
    return { config: { kind: 'embedded', dataDir: 'memory://' }, cleanup: async () => {} };
  },
};

export const postgresBackend: DatabaseBackend = {
  name: 'Postgres',
  async setup() {
    const { url, drop } = await createTestDatabase();
    return { config: { kind: 'postgres', url, poolMax: 5 }, cleanup: drop };
  },
};

/** Every database backend available in this run: embedded always, Postgres when DATABASE_URL is set. */
export const databaseBackends: DatabaseBackend[] = postgresUrl ? [embeddedBackend, postgresBackend] : [embeddedBackend];
