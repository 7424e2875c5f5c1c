import { z } from 'zod';

/** Environment variables are strings; these helpers turn them into typed values. */
const int = (fallback: number) => z.coerce.number().int().nonnegative().default(fallback);
const flag = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((value) => ['true', '1', 'yes'].includes(value));
const bool = (fallback: boolean) => flag.default(fallback);
const list = z
  .string()
  .transform((value) => value.split(',').map((item) => item.trim()).filter(Boolean));
/** host:port, or [ipv6]:port; the port defaults to Sentinel's 26379. */
const sentinelAddress = z.string().transform((value, ctx) => {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/@]+))(?::(\d{1,5}))?$/.exec(value);
  const port = match?.[3] === undefined ? 26379 : Number(match[3]);
  if (!match || port < 1 || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not host:port` });
    return z.NEVER;
  }
  return { host: match[1] ?? match[2]!, port };
});
const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .url()
    .refine((value) => protocols.includes(new URL(value).protocol), {
      message: `must use ${protocols.join(' or ')}`,
    })
    .optional();

/**
 * Every setting Gatehouse reads, one doc line each. Keys are the environment variable names; the same
 * keys may come from the YAML/JSON file named by GATEHOUSE_CONFIG (the environment wins).
 */
export const configSchema = z.object({
  /** development | test | production; production turns on every refusal in load.ts. */
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  /** TCP port the HTTP server listens on. */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Address to bind; 0.0.0.0 in containers, 127.0.0.1 to keep a dev server private. */
  HOST: z.string().min(1).default('0.0.0.0'),
  /** Public issuer URL, exactly as RPs see it, no trailing slash (default http://localhost:$PORT outside production). */
  ISSUER: z.string().url().optional(),
  /** postgres:// URL of the database; unset runs the embedded PGlite store under DATA_DIR (development only). */
  DATABASE_URL: optionalUrl(['postgres:', 'postgresql:']),
  /** Largest number of pooled Postgres connections per process. */
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).default(10),
  /** Milliseconds to open a Postgres connection or wait for a free pooled one before the request gets 503. */
  DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(2000),
  /** Milliseconds a Postgres statement may run (statement_timeout; the client stops waiting 1 s later) before 503. */
  DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  /** Folder for the embedded store, generated development secrets and the dev lock. */
  DATA_DIR: z.string().min(1).default('./data'),
  /** redis:// URL for sessions, grants, codes and tokens; unset keeps them in the database. */
  REDIS_URL: optionalUrl(['redis:', 'rediss:']),
  /** Prefix of every Redis key, so several deployments (or test workers) can share one Redis. */
  REDIS_KEY_PREFIX: z.string().default('gatehouse:'),
  /** Milliseconds a Redis command may take before the request gets 503 (a slow or unreachable Redis never hangs a request). */
  REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
  /** Milliseconds to open a Redis connection; while it is not open, requests that need Redis get 503 at once. */
  REDIS_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(2000),
  /** Comma list of Redis Sentinels (host:port, port 26379 when left out) that name the primary; REDIS_URL's host and port are then unused. */
  REDIS_SENTINELS: list.pipe(z.array(sentinelAddress).min(1, 'list at least one sentinel')).optional(),
  /** The primary's name at the sentinels (their `sentinel monitor <name> ...`); required with REDIS_SENTINELS. */
  REDIS_SENTINEL_NAME: z.string().regex(/^[^\s,]+$/, 'must be one name without spaces or commas').optional(),
  /** Password of the sentinels themselves (their requirepass), when they have one; the primary's is REDIS_URL's. */
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  /** Comma list of cookie signing secrets (>= 32 chars each); the first signs, all verify (rotate by appending, then moving to the front). */
  COOKIE_SECRETS: list
    .pipe(z.array(z.string().min(32, 'each cookie secret needs at least 32 characters')).min(1))
    .optional(),
  /** Comma list of base64 32-byte keys that encrypt TOTP seeds and private signing keys (AES-256-GCM); the first encrypts, all decrypt (rotate by appending, moving to the front, `gatehouse keys reencrypt`, then dropping the old). */
  KEY_ENCRYPTION_KEY: list
    .pipe(
      z
        .array(z.string())
        .min(1)
        // One message for the whole list (not per item), so the problem reads `KEY_ENCRYPTION_KEY: ...`.
        .refine((keys) => keys.every((key) => Buffer.from(key, 'base64').length === 32), {
          message: 'each key must be base64 of exactly 32 bytes (openssl rand -base64 32)',
        })
        .refine((keys) => new Set(keys).size === keys.length, { message: 'lists the same key twice' }),
    )
    .optional(),
  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Believe X-Forwarded-* headers (only behind a proxy that sets them). */
  TRUST_PROXY: bool(false),
  /** Serve Prometheus metrics at /metrics (on METRICS_PORT when set, else on PORT). */
  METRICS_ENABLED: bool(true),
  /** A port of its own (same HOST) for /metrics, which PORT then does not serve; unset: /metrics is on PORT. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** OTLP/HTTP collector base URL (standard OpenTelemetry variable): set, traces go to <url>/v1/traces; unset, no tracing code loads. */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl(['http:', 'https:']),
  /** service.name on the traces (default gatehouse, or service.name from OTEL_RESOURCE_ATTRIBUTES). */
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  /** Which traces are kept (standard OpenTelemetry sampler names); parentbased_* follow an incoming traceparent's decision. */
  OTEL_TRACES_SAMPLER: z
    .enum(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'])
    .default('parentbased_always_on'),
  /** The share of traces kept by the *traceidratio samplers, 0 to 1. */
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
  /** argon2id memory cost in KiB (OWASP minimum 19456). */
  ARGON2_MEMORY_KIB: z.coerce.number().int().min(8).default(19456),
  /** argon2id passes. */
  ARGON2_TIME_COST: z.coerce.number().int().min(1).default(2),
  /** argon2id lanes. */
  ARGON2_PARALLELISM: z.coerce.number().int().min(1).default(1),
  /** Password hashes computed at once (ABU-05); unset: one libuv thread (UV_THREADPOOL_SIZE, default 4) stays free. */
  ARGON2_MAX_CONCURRENT: z.coerce.number().int().min(1).max(256).optional(),
  /** Milliseconds a sign-in waits for a free hashing slot before it gets 503 with Retry-After (ABU-05). */
  ARGON2_QUEUE_TIMEOUT_MS: z.coerce.number().int().min(1).max(60_000).default(3000),
  /** A YAML or JSON file of clients (relying parties as code), created or updated at every start. */
  CLIENTS_FILE: z.string().min(1).optional(),
  /** Seconds a key made by `gatehouse keys rotate` is published in JWKS before it signs. */
  KEY_ACTIVATION_DELAY_SECONDS: int(3600),
  /** Seconds between checks of the signing keys table by a running server. */
  KEY_REFRESH_SECONDS: z.coerce.number().int().min(1).default(60),
  /** Seconds between re-reads of the revocation epoch: the longest a server still accepts what `gatehouse sessions revoke-all` revoked. */
  REVOCATION_EPOCH_REFRESH_SECONDS: z.coerce.number().int().min(1).max(3600).default(10),
  /** Access token lifetime in seconds. */
  ACCESS_TOKEN_TTL: z.coerce.number().int().min(1).default(3600),
  /** ID token lifetime in seconds. */
  ID_TOKEN_TTL: z.coerce.number().int().min(1).default(3600),
  /** Refresh token lifetime in seconds (a public client's rotate at every use; a confidential client's do not). */
  REFRESH_TOKEN_TTL: z.coerce.number().int().min(1).default(14 * 24 * 3600),
  /** Lifetime in seconds of a sign-in session when "remember me" is ticked (unticked: the cookie ends with the browser). */
  SESSION_TTL: z.coerce.number().int().min(1).default(30 * 24 * 3600),
  /** Seconds after a password-only sign-in before the next authorization asks for the password again (NIST AAL1: at most 30 days). */
  REAUTH_PASSWORD_MAX_AGE: z.coerce.number().int().min(60).max(30 * 24 * 3600).default(30 * 24 * 3600),
  /** Seconds after a two-factor sign-in before both factors are asked again (NIST AAL2: at most 24 hours). */
  REAUTH_MFA_MAX_AGE: z.coerce.number().int().min(60).max(24 * 3600).default(24 * 3600),
  /** Seconds without activity after which a two-factor session must sign in again (NIST AAL2: at most 1 hour). */
  REAUTH_MFA_IDLE: z.coerce.number().int().min(60).max(3600).default(3600),
  /** Language of the pages when neither ui_locales nor Accept-Language names a supported one (en or ar). */
  DEFAULT_LOCALE: z.enum(['en', 'ar']).default('en'),
  /** smtp:// or smtps:// URL of the mail server (credentials in the URL); unset in development keeps mail in the dev outbox. */
  SMTP_URL: optionalUrl(['smtp:', 'smtps:']),
  /** Sender of every mail, e.g. "Gatehouse <no-reply@example.com>". */
  MAIL_FROM: z.string().min(3).default('Gatehouse <no-reply@localhost>'),
  /** open: anyone may create an account; closed: only the CLI. Default open outside production, closed in production. */
  REGISTRATION: z.enum(['open', 'closed']).optional(),
  /** Minimum password length in code points (NIST 800-63B-4: 15; 8 only when MFA_REQUIRED is true). */
  PASSWORD_MIN_LENGTH: z.coerce.number().int().min(8).max(64).default(15),
  /** Every account must use a second factor (allows PASSWORD_MIN_LENGTH down to 8). */
  MFA_REQUIRED: bool(false),
  /** Mail the owner when an account signs in from a browser it has not used before. */
  NEW_DEVICE_ALERTS: bool(true),
  /** Base URL of a k-anonymity breached-password range API (HIBP-compatible: GET {url}/{first 5 SHA-1 hex}); unset: off. */
  BREACHED_PASSWORD_API_URL: optionalUrl(['https:', 'http:']),
  /** Whether accounts whose email is not verified yet may sign in (email_verified stays false in their tokens). */
  ALLOW_UNVERIFIED_SIGN_IN: bool(true),
  /** Seconds an email verification link stays valid (at most 24 h). */
  EMAIL_VERIFICATION_TTL: z.coerce.number().int().min(60).max(86400).default(86400),
  /** Seconds a password reset link stays valid (at most 24 h). */
  PASSWORD_RESET_TTL: z.coerce.number().int().min(60).max(86400).default(1800),
  /** Days audit events are kept before the cleanup job deletes them; 0 keeps them forever. */
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(0).max(36500).default(365),
  /** Failed sign-ins allowed per (account, client IP) before that pair is blocked (ABU-01). */
  SIGN_IN_PAIR_MAX_FAILURES: z.coerce.number().int().min(1).default(5),
  /** Seconds over which a pair's failures are counted (a correct password clears them). */
  SIGN_IN_PAIR_WINDOW_SECONDS: z.coerce.number().int().min(1).default(900),
  /** Seconds a pair stays blocked once it has used up its failures. */
  SIGN_IN_PAIR_BLOCK_SECONDS: z.coerce.number().int().min(1).default(900),
  /** Sign-ins that did not succeed allowed per client IP across all accounts, against credential stuffing (ABU-02). */
  SIGN_IN_IP_MAX_FAILURES: z.coerce.number().int().min(1).default(20),
  /** Seconds over which an IP's unsuccessful sign-ins are counted. */
  SIGN_IN_IP_WINDOW_SECONDS: z.coerce.number().int().min(1).default(600),
  /** Seconds an IP stays blocked once it has used up its sign-ins. */
  SIGN_IN_IP_BLOCK_SECONDS: z.coerce.number().int().min(1).default(600),
  /** Consecutive failures at one account (from any IP) after which each attempt waits a growing delay. */
  SIGN_IN_DELAY_AFTER_FAILURES: z.coerce.number().int().min(1).default(5),
  /** Seconds of the first delay; each further failure doubles it. */
  SIGN_IN_DELAY_INITIAL_SECONDS: z.coerce.number().int().min(1).default(1),
  /** Longest delay in seconds. */
  SIGN_IN_DELAY_MAX_SECONDS: z.coerce.number().int().min(1).default(900),
  /** Consecutive failures that lock an account's password until a reset or `gatehouse user unlock` (NIST: at most 100). */
  SIGN_IN_LOCK_AFTER_FAILURES: z.coerce.number().int().min(1).max(100).default(100),
  /** Failed client authentications per (client_id, client IP) at /token, introspection and revocation before a block. */
  CLIENT_AUTH_MAX_FAILURES: z.coerce.number().int().min(1).default(10),
  /** Seconds over which failed client authentications are counted. */
  CLIENT_AUTH_WINDOW_SECONDS: z.coerce.number().int().min(1).default(900),
  /** Seconds a (client, IP) pair stays blocked once it has used up its failures. */
  CLIENT_AUTH_BLOCK_SECONDS: z.coerce.number().int().min(1).default(900),
  /** Seconds a sign-in interaction may take. */
  INTERACTION_TTL: z.coerce.number().int().min(60).default(600),
  /** Seconds to keep serving after SIGTERM with /readyz already 503, so balancers stop sending first (a preStop pause). */
  SHUTDOWN_DELAY_SECONDS: z.coerce.number().int().min(0).max(300).default(0),
  /** Longest wait in seconds, after the listener closes, for requests in flight; keep delay + this below the grace period. */
  SHUTDOWN_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3600).default(20),
  /** Seed the demo client and user and serve the demo RP page; default on in development on the embedded store only. */
  SEED_DEMO: flag.optional(),
  /** Optional YAML or JSON file with any of these keys (the environment wins). */
  GATEHOUSE_CONFIG: z.string().optional(),
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
