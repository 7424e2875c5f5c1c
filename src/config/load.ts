import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { readClientsFile } from '../admin/clients-file.ts';
import type { ClientMetadata } from '../admin/clients.ts';
import { ConfigError } from '../errors.ts';
import { createKeyRing, type KeyRing } from '../security/encryption.ts';
import { configSchema, type ParsedConfig } from './schema.ts';
import { loadOrCreateDevSecrets } from './dev-secrets.ts';
import { isLoopbackHost } from './loopback.ts';
import { readUpstreams, type UpstreamConfig } from './upstreams.ts';

export type Environment = ParsedConfig['NODE_ENV'];

export type DatabaseConfig =
  | { kind: 'postgres'; url: string; poolMax: number; timeouts?: DatabaseTimeouts }
  /** PGlite in-process; dataDir `memory://` keeps everything in memory (tests). */
  | { kind: 'embedded'; dataDir: string };

/** How long a request waits for Postgres (REL-F4, REL-F10); unset: DATABASE_*_TIMEOUT_MS's defaults. */
export interface DatabaseTimeouts {
  readonly connectMs: number;
  readonly statementMs: number;
}

/** How long a request waits for Redis (REL-F1, REL-F10). */
export interface RedisTimeouts {
  readonly commandMs: number;
  readonly connectMs: number;
}

/**
 * Redis behind Sentinel (REL-F3): the client asks these sentinels where the primary `name` is, and asks
 * again whenever its connection drops, so it follows a failover without a restart. REDIS_URL still gives
 * the primary's user, password, database and TLS (rediss:// is TLS to the sentinels too); its host and
 * port are not used.
 */
export interface RedisSentinelConfig {
  readonly addresses: readonly { readonly host: string; readonly port: number }[];
  readonly name: string;
  /** The sentinels' own password (their requirepass); undefined: they have none. */
  readonly password: string | undefined;
}

/** The schema's defaults, for code that opens a store without a loaded Config (the CLI's helpers, tests, benchmarks). */
const schemaDefaults = configSchema.parse({});
export const DEFAULT_DATABASE_TIMEOUTS: DatabaseTimeouts = {
  connectMs: schemaDefaults.DATABASE_CONNECT_TIMEOUT_MS,
  statementMs: schemaDefaults.DATABASE_STATEMENT_TIMEOUT_MS,
};
export const DEFAULT_REDIS_TIMEOUTS: RedisTimeouts = {
  commandMs: schemaDefaults.REDIS_COMMAND_TIMEOUT_MS,
  connectMs: schemaDefaults.REDIS_CONNECT_TIMEOUT_MS,
};

/** OTLP traces (src/observability/tracing.ts), on when OTEL_EXPORTER_OTLP_ENDPOINT is set. */
export interface TracingConfig {
  /** The collector's base URL; spans are POSTed to <endpoint>/v1/traces unless OTEL_EXPORTER_OTLP_TRACES_ENDPOINT says otherwise. */
  readonly endpoint: string;
  /** OTEL_SERVICE_NAME; undefined: service.name from OTEL_RESOURCE_ATTRIBUTES, else "gatehouse". */
  readonly serviceName: string | undefined;
  readonly sampler: ParsedConfig['OTEL_TRACES_SAMPLER'];
  /** The ratio of the *traceidratio samplers. */
  readonly samplerRatio: number;
}

/** The validated, frozen configuration every module receives as a parameter (never a global). */
export interface Config {
  readonly env: Environment;
  readonly port: number;
  readonly host: string;
  /** Issuer URL with no trailing slash. */
  readonly issuer: string;
  readonly database: DatabaseConfig;
  readonly dataDir: string;
  readonly redis:
    | { readonly url: string; readonly keyPrefix: string; readonly timeouts: RedisTimeouts; readonly sentinel: RedisSentinelConfig | undefined }
    | undefined;
  readonly cookieSecrets: readonly string[];
  /** KEY_ENCRYPTION_KEY: the first key encrypts, every key decrypts (REL-F7 rotation). */
  readonly keyEncryptionKeys: KeyRing;
  /** True when secrets were generated (development/test only; production refuses). */
  readonly secretsGenerated: boolean;
  readonly logLevel: ParsedConfig['LOG_LEVEL'];
  readonly trustProxy: boolean;
  /** /metrics on: at `port` alone when set (a listener of its own), else on the main port. */
  readonly metrics: { readonly enabled: boolean; readonly port: number | undefined };
  /** undefined: no OpenTelemetry module is ever loaded. */
  readonly tracing: TracingConfig | undefined;
  readonly argon2: { readonly memoryCost: number; readonly timeCost: number; readonly parallelism: number };
  /** How many argon2 computations run at once and how long others wait (ABU-05). */
  readonly hashing: { readonly maxConcurrent: number; readonly queueTimeoutMs: number };
  readonly keys: { readonly activationDelaySeconds: number; readonly refreshSeconds: number };
  /** How often a server re-reads the revocation epoch (REL-F13, src/storage/revocation-epoch.ts). */
  readonly revocationEpoch: { readonly refreshSeconds: number };
  readonly ttl: {
    readonly accessToken: number;
    readonly idToken: number;
    readonly refreshToken: number;
    readonly session: number;
    readonly interaction: number;
  };
  readonly seedDemo: boolean;
  /** SIGTERM: serve `delaySeconds` more with readiness 503, then wait at most `timeoutSeconds` for requests in flight. */
  readonly shutdown: { readonly delaySeconds: number; readonly timeoutSeconds: number };
  /** CLIENTS_FILE, read and validated with the rest: the clients upserted at start. */
  readonly clients: readonly ClientMetadata[] | undefined;
  readonly reauth: { readonly passwordMaxAge: number; readonly mfaMaxAge: number; readonly mfaIdle: number };
  readonly defaultLocale: ParsedConfig['DEFAULT_LOCALE'];
  readonly mail: { readonly smtpUrl: string | undefined; readonly from: string };
  readonly registration: 'open' | 'closed';
  /** Sign-in and client-authentication limits (issue 7, ABU-01/02); see SignInLimitsConfig. */
  readonly limits: LimitsConfig;
  /** retentionDays 0: audit events are never deleted. */
  readonly audit: { readonly retentionDays: number };
  readonly passwords: { readonly minLength: number; readonly breachedApiUrl: string | undefined };
  /** Upstream OpenID providers users may sign in with (UPSTREAM_<ID>_*, src/config/upstreams.ts), in id order. */
  readonly upstreams: readonly UpstreamConfig[];
  readonly accounts: {
    readonly allowUnverifiedSignIn: boolean;
    readonly verificationTtl: number;
    readonly resetTtl: number;
    /** Every sign-in needs a second factor (MFA-08); clients can ask for it alone with `mfa_required`. */
    readonly mfaRequired: boolean;
    /** Mail on a sign-in from a browser the account has not used (a long-lived device cookie). */
    readonly newDeviceAlerts: boolean;
  };
}

/** At most `maxFailures` in `windowSeconds`, then refused for `blockSeconds`. */
export interface FailureLimit {
  readonly maxFailures: number;
  readonly windowSeconds: number;
  readonly blockSeconds: number;
}

export interface LimitsConfig {
  readonly signIn: {
    /** Per (account, client IP). */
    readonly pair: FailureLimit;
    /** Per client IP across accounts. */
    readonly ip: FailureLimit;
    /** Per account from any IP: the growing delay from the `afterFailures`-th consecutive failure. */
    readonly delay: { readonly afterFailures: number; readonly initialSeconds: number; readonly maxSeconds: number };
    /** Consecutive failures that lock the password. */
    readonly lockAfterFailures: number;
  };
  /** Per (client_id, client IP) at the endpoints that authenticate clients. */
  readonly clientAuth: FailureLimit;
}

type Env = Record<string, string | undefined>;

function readConfigFile(path: string): Env {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`GATEHOUSE_CONFIG: cannot read ${path} (${(error as Error).message})`]);
  }
  let data: unknown;
  try {
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError([`GATEHOUSE_CONFIG: ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'} (${(error as Error).message.split('\n')[0]})`]);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError([`GATEHOUSE_CONFIG: ${path} must hold a mapping of setting names to values`]);
  }
  return Object.fromEntries(
    Object.entries(data).map(([key, value]) => [key, value == null ? undefined : String(value)]),
  );
}

/** Empty strings count as unset, as in most twelve-factor tools. */
function withoutEmpty(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
}

function issuerOf(input: Env): string {
  return (input.ISSUER ?? `http://localhost:${input.PORT ?? 3000}`).replace(/\/+$/, '');
}

/**
 * argon2 runs on libuv's thread pool, which file and DNS work share: one thread stays free for them.
 * The CPU is not rationed here: the pool's threads run at a lower priority than the event loop
 * (security/worker-priority.ts), so hashes use the cores the protocol leaves and a flood of sign-ins
 * cannot starve the token endpoint (ABU-05; `npm run bench:flood` prints the effect).
 */
function defaultHashConcurrency(threadPoolSize: string | undefined): number {
  const pool = Number(threadPoolSize) > 0 ? Number(threadPoolSize) : 4;
  return Math.max(1, pool - 1);
}

const truthy = (value: string | undefined) => value !== undefined && ['true', '1', 'yes'].includes(value);

/** Rules that involve several keys or the environment (production refusals), checked on raw values. */
function crossKeyProblems(input: Env): string[] {
  const problems: string[] = [];
  const production = input.NODE_ENV === 'production';
  let issuerUrl: URL | undefined;
  try {
    issuerUrl = new URL(issuerOf(input));
  } catch {
    // the schema already reports a malformed ISSUER
  }
  if (issuerUrl) {
    if (issuerUrl.search || issuerUrl.hash) problems.push('ISSUER: must not have a query or fragment');
    // Our routes and oidc-provider's are mounted at the root; an issuer path would break discovery URLs.
    if (issuerUrl.pathname !== '/') problems.push('ISSUER: must not have a path (serve Gatehouse at the root of its host)');
  }
  if (production) {
    if (!input.ISSUER) problems.push('ISSUER: required in production');
    else if (issuerUrl && issuerUrl.protocol !== 'https:' && !isLoopbackHost(issuerUrl.hostname)) {
      problems.push('ISSUER: must use https in production (http is allowed only on loopback)');
    }
    if (!input.DATABASE_URL) {
      problems.push('DATABASE_URL: required in production (the embedded store is for development only)');
    }
    if (!input.REDIS_URL) problems.push('REDIS_URL: required in production');
    if (!input.COOKIE_SECRETS) problems.push('COOKIE_SECRETS: required in production (generated secrets are for development only)');
    if (!input.KEY_ENCRYPTION_KEY) problems.push('KEY_ENCRYPTION_KEY: required in production (generated keys are for development only)');
    if (truthy(input.SEED_DEMO)) problems.push('SEED_DEMO: the demo client and user cannot be seeded in production');
    if (!input.SMTP_URL) problems.push('SMTP_URL: required in production (verification and password-reset mail)');
  }
  const minLength = Number(input.PASSWORD_MIN_LENGTH ?? 15);
  if (minLength < 15 && !truthy(input.MFA_REQUIRED)) {
    problems.push('PASSWORD_MIN_LENGTH: below 15 only when MFA_REQUIRED=true (NIST SP 800-63B-4: a password alone needs 15)');
  }
  if (Number(input.SIGN_IN_DELAY_INITIAL_SECONDS ?? 1) > Number(input.SIGN_IN_DELAY_MAX_SECONDS ?? 900)) {
    problems.push('SIGN_IN_DELAY_INITIAL_SECONDS: must not exceed SIGN_IN_DELAY_MAX_SECONDS');
  }
  // A separate metrics port is there to keep /metrics off the public one; the same number would defeat that.
  if (input.METRICS_PORT !== undefined && Number(input.METRICS_PORT) !== 0 && Number(input.METRICS_PORT) === Number(input.PORT ?? 3000)) {
    problems.push('METRICS_PORT: must differ from PORT (it keeps /metrics off the public port)');
  }
  problems.push(...sentinelProblems(input));
  if (truthy(input.SEED_DEMO) && input.DATABASE_URL) {
    problems.push('SEED_DEMO: the demo is seeded only on the embedded store (unset DATABASE_URL)');
  }
  return problems;
}

/** The Sentinel keys go together, and with REDIS_URL (which still says how to talk to the primary). */
function sentinelProblems(input: Env): string[] {
  const problems: string[] = [];
  if (input.REDIS_SENTINELS && !input.REDIS_SENTINEL_NAME) {
    problems.push('REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the name the sentinels monitor the primary under)');
  }
  if (input.REDIS_SENTINEL_NAME && !input.REDIS_SENTINELS) problems.push('REDIS_SENTINELS: required with REDIS_SENTINEL_NAME');
  if (input.REDIS_SENTINEL_PASSWORD && !input.REDIS_SENTINELS) problems.push('REDIS_SENTINEL_PASSWORD: only used with REDIS_SENTINELS');
  if ((input.REDIS_SENTINELS || input.REDIS_SENTINEL_NAME) && !input.REDIS_URL) {
    problems.push('REDIS_URL: required with REDIS_SENTINELS (it gives the password, database and TLS; its host is not used)');
  }
  return problems;
}

/**
 * Parses and checks the whole configuration at once.
 * @throws ConfigError listing every problem found, never just the first.
 */
export function loadConfig(processEnv: Env): Config {
  const fromFile = processEnv.GATEHOUSE_CONFIG ? readConfigFile(processEnv.GATEHOUSE_CONFIG) : {};
  const input = { ...withoutEmpty(fromFile), ...withoutEmpty(processEnv) };
  const result = configSchema.safeParse(input);
  // Cross-key rules run on the raw strings too, so a malformed PORT does not hide a missing DATABASE_URL.
  const problems = [
    ...(result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.') || '(config)'}: ${issue.message}`)),
    ...crossKeyProblems(input),
  ];
  const upstreams = readUpstreams(input);
  problems.push(...upstreams.problems);
  let clients: ClientMetadata[] | undefined;
  try {
    clients = input.CLIENTS_FILE ? readClientsFile(input.CLIENTS_FILE, input) : undefined;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (!result.success || problems.length > 0) throw new ConfigError(problems);
  const raw = result.data;
  const issuer = issuerOf(input);

  const generated =
    raw.COOKIE_SECRETS && raw.KEY_ENCRYPTION_KEY
      ? undefined
      : loadOrCreateDevSecrets(raw.DATA_DIR);

  const config: Config = {
    env: raw.NODE_ENV,
    port: raw.PORT,
    host: raw.HOST,
    issuer,
    database: raw.DATABASE_URL
      ? {
          kind: 'postgres',
          url: raw.DATABASE_URL,
          poolMax: raw.DATABASE_POOL_MAX,
          timeouts: { connectMs: raw.DATABASE_CONNECT_TIMEOUT_MS, statementMs: raw.DATABASE_STATEMENT_TIMEOUT_MS },
        }
      : { kind: 'embedded', dataDir: raw.DATA_DIR },
    dataDir: raw.DATA_DIR,
    redis: raw.REDIS_URL
      ? {
          url: raw.REDIS_URL,
          keyPrefix: raw.REDIS_KEY_PREFIX,
          timeouts: { commandMs: raw.REDIS_COMMAND_TIMEOUT_MS, connectMs: raw.REDIS_CONNECT_TIMEOUT_MS },
          sentinel:
            raw.REDIS_SENTINELS && raw.REDIS_SENTINEL_NAME
              ? { addresses: raw.REDIS_SENTINELS, name: raw.REDIS_SENTINEL_NAME, password: raw.REDIS_SENTINEL_PASSWORD }
              : undefined,
        }
      : undefined,
    cookieSecrets: raw.COOKIE_SECRETS ?? generated!.cookieSecrets,
    keyEncryptionKeys: createKeyRing((raw.KEY_ENCRYPTION_KEY ?? [generated!.keyEncryptionKey]).map((key) => Buffer.from(key, 'base64'))),
    secretsGenerated: generated !== undefined,
    logLevel: raw.LOG_LEVEL,
    trustProxy: raw.TRUST_PROXY,
    metrics: { enabled: raw.METRICS_ENABLED, port: raw.METRICS_PORT },
    tracing: raw.OTEL_EXPORTER_OTLP_ENDPOINT
      ? { endpoint: raw.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: raw.OTEL_SERVICE_NAME, sampler: raw.OTEL_TRACES_SAMPLER, samplerRatio: raw.OTEL_TRACES_SAMPLER_ARG }
      : undefined,
    argon2: {
      memoryCost: raw.ARGON2_MEMORY_KIB,
      timeCost: raw.ARGON2_TIME_COST,
      parallelism: raw.ARGON2_PARALLELISM,
    },
    hashing: { maxConcurrent: raw.ARGON2_MAX_CONCURRENT ?? defaultHashConcurrency(input.UV_THREADPOOL_SIZE), queueTimeoutMs: raw.ARGON2_QUEUE_TIMEOUT_MS },
    keys: {
      activationDelaySeconds: raw.KEY_ACTIVATION_DELAY_SECONDS,
      refreshSeconds: raw.KEY_REFRESH_SECONDS,
    },
    revocationEpoch: { refreshSeconds: raw.REVOCATION_EPOCH_REFRESH_SECONDS },
    ttl: {
      accessToken: raw.ACCESS_TOKEN_TTL,
      idToken: raw.ID_TOKEN_TTL,
      refreshToken: raw.REFRESH_TOKEN_TTL,
      session: raw.SESSION_TTL,
      interaction: raw.INTERACTION_TTL,
    },
    seedDemo: raw.SEED_DEMO ?? (raw.NODE_ENV === 'development' && !raw.DATABASE_URL),
    shutdown: { delaySeconds: raw.SHUTDOWN_DELAY_SECONDS, timeoutSeconds: raw.SHUTDOWN_TIMEOUT_SECONDS },
    clients,
    reauth: { passwordMaxAge: raw.REAUTH_PASSWORD_MAX_AGE, mfaMaxAge: raw.REAUTH_MFA_MAX_AGE, mfaIdle: raw.REAUTH_MFA_IDLE },
    defaultLocale: raw.DEFAULT_LOCALE,
    mail: { smtpUrl: raw.SMTP_URL, from: raw.MAIL_FROM },
    registration: raw.REGISTRATION ?? (raw.NODE_ENV === 'production' ? 'closed' : 'open'),
    limits: {
      signIn: {
        pair: { maxFailures: raw.SIGN_IN_PAIR_MAX_FAILURES, windowSeconds: raw.SIGN_IN_PAIR_WINDOW_SECONDS, blockSeconds: raw.SIGN_IN_PAIR_BLOCK_SECONDS },
        ip: { maxFailures: raw.SIGN_IN_IP_MAX_FAILURES, windowSeconds: raw.SIGN_IN_IP_WINDOW_SECONDS, blockSeconds: raw.SIGN_IN_IP_BLOCK_SECONDS },
        delay: { afterFailures: raw.SIGN_IN_DELAY_AFTER_FAILURES, initialSeconds: raw.SIGN_IN_DELAY_INITIAL_SECONDS, maxSeconds: raw.SIGN_IN_DELAY_MAX_SECONDS },
        lockAfterFailures: raw.SIGN_IN_LOCK_AFTER_FAILURES,
      },
      clientAuth: { maxFailures: raw.CLIENT_AUTH_MAX_FAILURES, windowSeconds: raw.CLIENT_AUTH_WINDOW_SECONDS, blockSeconds: raw.CLIENT_AUTH_BLOCK_SECONDS },
    },
    audit: { retentionDays: raw.AUDIT_RETENTION_DAYS },
    upstreams: upstreams.upstreams,
    passwords: { minLength: raw.PASSWORD_MIN_LENGTH, breachedApiUrl: raw.BREACHED_PASSWORD_API_URL },
    accounts: {
      allowUnverifiedSignIn: raw.ALLOW_UNVERIFIED_SIGN_IN,
      verificationTtl: raw.EMAIL_VERIFICATION_TTL,
      resetTtl: raw.PASSWORD_RESET_TTL,
      mfaRequired: raw.MFA_REQUIRED,
      newDeviceAlerts: raw.NEW_DEVICE_ALERTS,
    },
  };
  return Object.freeze(config);
}
