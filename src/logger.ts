import pino, { type Logger } from 'pino';
import type { Config } from './config/load.ts';

/**
 * Structured logs. Redaction is a second line of defence: we never log secrets on purpose, and these
 * paths catch the usual places they could slip in (headers, bodies, tokens).
 */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level: config.logLevel,
      redact: {
        paths: [
          'password',
          '*.password',
          'client_secret',
          '*.client_secret',
          'req.headers.authorization',
          'req.headers.cookie',
          'headers.authorization',
          'headers.cookie',
          '*.access_token',
          '*.refresh_token',
          '*.id_token',
          '*.code',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
