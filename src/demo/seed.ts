import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/load.ts';
import { createAccount } from '../accounts/create-account.ts';
import type { PasswordHasher } from '../security/passwords.ts';
import type { Db } from '../storage/postgres/db.ts';
import { findAccountByEmail } from '../storage/postgres/accounts.queries.ts';
import { upsertClient } from '../storage/postgres/clients.queries.ts';

export const DEMO_CLIENT_ID = 'gatehouse-demo';
export const DEMO_EMAIL = 'demo@example.com';

export interface DemoCredentials {
  email: string;
  password: string;
  clientId: string;
}

/** The demo password is random per data folder (never a fixed, guessable one) and kept beside the store. */
function demoPassword(dataDir: string): string {
  const file = join(dataDir, 'demo.json');
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { password: string }).password;
  } catch {
    const password = randomBytes(12).toString('base64url');
    if (!dataDir.startsWith('memory://')) writeFileSync(file, JSON.stringify({ password }), { mode: 0o600 });
    return password;
  }
}

/**
 * Development only (config.seedDemo, refused in production by load.ts): a public PKCE client for the
 * built-in demo page and one verified user. Idempotent, so every `npm start` can call it.
 */
export async function seedDemo(db: Db, config: Config, hasher: PasswordHasher): Promise<DemoCredentials> {
  // Upserted every start so the redirect URIs follow the current ISSUER (e.g. a changed PORT).
  {
    await upsertClient(db, DEMO_CLIENT_ID, {
      client_id: DEMO_CLIENT_ID,
      client_name: 'Gatehouse demo app',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [`${config.issuer}/demo/callback`],
      post_logout_redirect_uris: [`${config.issuer}/demo`],
      scope: 'openid email profile offline_access',
    });
  }
  const password = demoPassword(config.dataDir);
  if (!(await findAccountByEmail(db, DEMO_EMAIL))) {
    await createAccount(db, hasher, { email: DEMO_EMAIL, name: 'Demo User', password, emailVerified: true });
  }
  return { email: DEMO_EMAIL, password, clientId: DEMO_CLIENT_ID };
}
