import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/config/load.ts';
import { reconcileSigningKeys, toProviderJwks } from '../../src/oidc/keys.ts';
import { openDatabase } from '../../src/storage/postgres/db.ts';
import { createTestDatabase, postgresUrl, redisUrl, uniqueName } from '../../test/support/backends.ts';
import { gatehouseOk } from '../../test/support/cli.ts';
import { freePort } from '../../test/support/free-port.ts';
import { API_SCOPE, APIS, BENCH_USERS, SERVICE, WEB, type BaselineSettings } from './bench-fixtures.ts';

export interface Provisioned {
  /** Gatehouse's production environment (nothing from the parent's but PATH). */
  gatehouseEnv: Record<string, string>;
  gatehouseConfig: Config;
  baseline: BaselineSettings;
  /** Drops the database, both servers' Redis keys and the key file. */
  cleanup(): Promise<void>;
}

/**
 * A fresh database and two Redis key prefixes on the production stores; the clients, APIs and the user
 * made with the real CLI; Gatehouse's signing keys made as its start-up makes them, then handed to the
 * baseline through a 0600 file so both sign with the same keys.
 */
export async function provision(): Promise<Provisioned> {
  if (!postgresUrl || !redisUrl) throw new Error('DATABASE_URL and REDIS_URL must name the Postgres and Redis to use');
  const database = await createTestDatabase();
  try {
    return await provisionOn(database, redisUrl);
  } catch (error) {
    await database.drop(); // nothing else was made that outlives this process
    throw error;
  }
}

async function provisionOn(database: { url: string; drop: () => Promise<void> }, redisUrl: string): Promise<Provisioned> {
  const name = uniqueName('gh_bench');
  const [gatehousePort, baselinePort, smtpPort] = [await freePort(), await freePort(), await freePort()];
  const gatehouseEnv: Record<string, string> = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(gatehousePort),
    ISSUER: `http://127.0.0.1:${gatehousePort}`,
    DATABASE_URL: database.url,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: `${name}:`,
    COOKIE_SECRETS: randomBytes(32).toString('base64url'),
    KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    // Nothing is mailed: no sign-in here writes a mail, and nothing listens on this port.
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
  };
  const gatehouseConfig = loadConfig(gatehouseEnv);
  const cli = (...argv: string[]) => gatehouseOk(argv, gatehouseEnv);
  await cli('migrate');
  for (const api of Object.values(APIS)) {
    await cli('api', 'add', '--id', api.identifier, '--name', `Bench ${api.format}`, '--scope', API_SCOPE, '--format', api.format, '--no-rbac');
  }
  await cli('client', 'add', '--id', WEB.id, '--secret', WEB.secret, '--redirect-uri', WEB.redirectUri, '--scope', WEB.scope);
  await cli('client', 'add', '--id', SERVICE.id, '--secret', SERVICE.secret, '--grant-types', 'client_credentials', '--scope', API_SCOPE, '--api', APIS.jwt.identifier, '--api', APIS.opaque.identifier);
  for (const user of BENCH_USERS) {
    await gatehouseOk(['user', 'add', '--email', user.email, '--email-verified', '--password-stdin'], gatehouseEnv, `${user.password}\n`);
  }

  const handle = await openDatabase(gatehouseConfig.database);
  const jwks = toProviderJwks(await reconcileSigningKeys(handle.db, gatehouseConfig, new Date()), gatehouseConfig);
  await handle.close();
  const jwksFile = join(tmpdir(), `${name}.jwks.json`);
  await writeFile(jwksFile, JSON.stringify(jwks), { mode: 0o600 });

  const baseline: BaselineSettings = {
    issuer: `http://127.0.0.1:${baselinePort}`,
    port: baselinePort,
    redisUrl,
    redisKeyPrefix: `${name}_baseline:`,
    databaseUrl: database.url,
    jwksFile,
    cookieKeys: [...gatehouseConfig.cookieSecrets],
    ttl: gatehouseConfig.ttl,
  };
  return {
    gatehouseEnv,
    gatehouseConfig,
    baseline,
    async cleanup() {
      await rm(jwksFile, { force: true });
      const redis = new Redis(redisUrl);
      for (const prefix of [gatehouseEnv.REDIS_KEY_PREFIX!, baseline.redisKeyPrefix]) {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          if (keys.length > 0) await redis.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      }
      redis.disconnect();
      await database.drop();
    },
  };
}
