import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { Config } from '../config/load.ts';
import type { MailQueue, PasswordPolicy } from '../recovery/ports.ts';
import type { PasswordHasher } from '../security/passwords.ts';
import type { AccountRevoker } from '../storage/oidc-adapter.ts';
import type { Db } from '../storage/postgres/db.ts';

/**
 * What the signed-in account pages need; built once in app.ts. Structurally the recovery flows' deps
 * plus the provider (whose session says who is signed in), so app.ts can share one object.
 */
export interface AccountSettingsDeps {
  db: Db;
  hasher: PasswordHasher;
  mail: MailQueue;
  policy: PasswordPolicy;
  revoker: AccountRevoker;
  config: Config;
  logger: Logger;
  /** The current oidc-provider instance (it is replaced on key rotation). */
  provider(): Provider;
  /** Injected so tests can expire links without waiting. */
  now(): Date;
}

/** A user-facing problem with one form field, as a catalogue key the page shows next to it. */
export interface SettingsProblem {
  field: string;
  messageKey: string;
  params?: Record<string, string | number> | undefined;
}

/** How long a link to confirm a new address works. */
export const EMAIL_CHANGE_TTL_MS = 24 * 3600 * 1000;
