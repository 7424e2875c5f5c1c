import pino, { type Logger } from 'pino';
import type { Config } from './config/load.ts';

/** Fields that hold a secret wherever they appear: form fields, protocol parameters, our own names. */
const SECRET_FIELDS = [
  'password',
  'currentPassword',
  'newPassword',
  'current_password',
  'new_password',
  'client_secret',
  'secret',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'logout_token',
  'code_verifier',
  'otp',
  'recoveryCode',
  'recovery_code',
  'totpCode',
  'authorization',
  'cookie',
];

/**
 * Paths pino censors (LOG-02). Exact field names at the top level and one or two levels down; `code`
 * only below the top level, where it is an authorization or TOTP code (`{ code }` at the top level is
 * our stable error code); whole request bodies, which are forms full of passwords and codes; and the
 * headers that carry credentials.
 */
export const REDACTED_PATHS = [
  ...SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]),
  '*.code',
  '*.*.code',
  'body',
  '*.body',
  'headers["set-cookie"]',
  '*.headers["set-cookie"]',
];

/**
 * Structured logs. Redaction is a second line of defence: we never log secrets on purpose, and these
 * paths catch the usual places they could slip in (headers, bodies, tokens).
 */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: pino.DestinationStream): Logger {
  return pino({ level: config.logLevel, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, destination);
}
