/**
 * Typed application errors. The one presenter (src/http/error-handler.ts) renders them as a page or JSON;
 * `expose` says whether `message` may be shown to the client (never for 5xx).
 */
export class AppError extends Error {
  readonly status: number;
  /** Stable snake_case identifier clients and tests can rely on. */
  readonly code: string;
  readonly expose: boolean;

  /** `expose` shows a 5xx's own message too (say, "busy, try again"), where the default hides it. */
  constructor(status: number, code: string, message: string, options?: { cause?: unknown; expose?: boolean }) {
    super(message, options);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.expose = options?.expose ?? status < 500;
  }
}

export class NotFoundError extends AppError {
  constructor(message = 'The page you asked for does not exist.') {
    super(404, 'not_found', message);
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, code = 'invalid_request') {
    super(400, code, message);
  }
}

/** The sign-in interaction is missing, expired or in another stage than the request expects. */
export class InteractionExpiredError extends AppError {
  constructor() {
    super(400, 'interaction_expired', 'This sign-in request has expired. Go back to the application and start again.');
  }
}

/** Seconds a client should wait after a store outage before trying again: a few reconnects of either store. */
export const STORE_RETRY_AFTER_SECONDS = 5;

/**
 * Redis or Postgres did not answer in time (down, restarting, unreachable, too slow). The request is
 * refused with 503 and Retry-After instead of waiting or answering as if nothing had been stored; the
 * message is safe to show (it says nothing about our infrastructure). Made by src/storage/unavailable.ts,
 * the one place that recognises the drivers' connection and timeout errors.
 */
export class StoreUnavailableError extends AppError {
  readonly retryAfterSeconds = STORE_RETRY_AFTER_SECONDS;

  constructor(cause: unknown) {
    super(503, 'temporarily_unavailable', 'The service is temporarily unavailable. Please try again in a moment.', { cause, expose: true });
  }
}

/** Invalid configuration; lists every problem at once so an operator fixes them in one go. */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** A second process tried to open the embedded store that another process holds. */
export class StoreLockedError extends Error {
  constructor(dataDir: string) {
    super(
      `The embedded database in ${dataDir} is in use by another Gatehouse process (is \`npm start\` running?). ` +
        'Stop it first, or point DATABASE_URL at a Postgres server so several processes can share it.',
    );
    this.name = 'StoreLockedError';
  }
}

/** The server will not run on a schema older than its code (production migrates as a separate step). */
export class PendingMigrationsError extends Error {
  constructor(pending: readonly string[]) {
    super(`The database has ${pending.length} pending migration(s) (${pending.join(', ')}). Run \`gatehouse migrate\` first.`);
    this.name = 'PendingMigrationsError';
  }
}

/** CLI usage or input problems; printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Stored secrets were sealed by a key-encryption key that KEY_ENCRYPTION_KEY no longer lists (REL-F7):
 * dropped before `gatehouse keys reencrypt` ran, or a wrong key. Said at start, without a stack, so
 * the operator puts the key back instead of the server failing sign-ins one by one.
 */
export class EncryptionKeyMissingError extends Error {
  constructor(findings: readonly string[], configuredIds: readonly string[]) {
    super(
      `Stored secrets are encrypted under a key KEY_ENCRYPTION_KEY does not list (configured key ids: ${configuredIds.join(', ')}):\n` +
        findings.map((finding) => `  - ${finding}`).join('\n') +
        '\nPut the old key back in KEY_ENCRYPTION_KEY after the current one, run `gatehouse keys reencrypt`, and only then remove it.',
    );
    this.name = 'EncryptionKeyMissingError';
  }
}
