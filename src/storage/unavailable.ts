import { StoreUnavailableError } from '../errors.ts';

/*
 * The one place that tells "Redis or Postgres is down or too slow" from every other failure. It reads
 * the errors' shapes (name, code, message) rather than importing ioredis or pg, so the presenters can use
 * it without depending on a driver. Anything not recognised stays a 500: a bug must not pass for an outage.
 */

/** Socket-level failures, from either driver or from net.connect itself. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'EHOSTDOWN',
  'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'ERR_SOCKET_CLOSED',
]);

/**
 * Postgres SQLSTATEs that mean "not now" rather than "wrong query": connection exceptions (class 08),
 * insufficient resources (53: too many connections, out of memory, disk full), operator intervention
 * (57P01 shutdown, 57P02 crash, 57P03 still starting, 57014 statement_timeout), lock_timeout, and a
 * transaction idle past idle_in_transaction_session_timeout.
 */
function isUnavailableSqlState(code: string): boolean {
  return /^(08|53)[0-9A-Z]{3}$/.test(code) || ['57P01', '57P02', '57P03', '57014', '55P03', '25P03'].includes(code);
}

/** Errors ioredis and pg raise as plain Errors: only their message tells them apart. */
const DRIVER_MESSAGES: readonly RegExp[] = [
  // ioredis: offline queue off while reconnecting; commandTimeout; connection gone; socketTimeout.
  /^Stream isn't writeable and enableOfflineQueue options is false/,
  /^Command timed out$/,
  /^Connection is closed\.$/,
  /^Socket timeout\./,
  // pg and pg-pool: dropped connection, connectionTimeoutMillis, query_timeout, a pool being closed.
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  /^timeout expired$/,
  /^Query read timeout$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Cannot use a pool after calling end on the pool$/,
];

/**
 * Redis error replies that mean the server cannot serve now: still loading its AOF/RDB after a restart,
 * out of memory under noeviction, a replica or a primary without its replicas, a busy script.
 */
const REDIS_REPLY_PREFIXES = /^(LOADING|OOM|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS)\b/;

function isUnavailableItself(error: object): boolean {
  const { name, code, message } = error as { name?: unknown; code?: unknown; message?: unknown };
  if (error instanceof StoreUnavailableError) return true;
  if (name === 'MaxRetriesPerRequestError') return true;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || isSqlStateError(error, code))) return true;
  if (typeof message !== 'string') return false;
  if (name === 'ReplyError' && REDIS_REPLY_PREFIXES.test(message)) return true;
  return DRIVER_MESSAGES.some((pattern) => pattern.test(message));
}

/** pg's DatabaseError carries the SQLSTATE in `code` next to the server's `severity`; that pair marks it as Postgres's. */
function isSqlStateError(error: object, code: string): boolean {
  return typeof (error as { severity?: unknown }).severity === 'string' && isUnavailableSqlState(code);
}

/**
 * Whether `error` (or what it wraps: `cause`, AggregateError's `errors`, as net.connect reports a refused
 * dual-stack connect) is Redis or Postgres being unreachable, restarting or too slow.
 */
export function isStoreUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 5) return false;
  if (isUnavailableItself(error)) return true;
  const { cause, errors } = error as { cause?: unknown; errors?: unknown };
  if (Array.isArray(errors) && errors.some((inner) => isStoreUnavailable(inner, depth + 1))) return true;
  return isStoreUnavailable(cause, depth + 1);
}

/**
 * The error to present: a StoreUnavailableError (503, Retry-After) when `error` is a store outage,
 * undefined otherwise.
 */
export function asStoreUnavailable(error: unknown): StoreUnavailableError | undefined {
  if (error instanceof StoreUnavailableError) return error;
  return isStoreUnavailable(error) ? new StoreUnavailableError(error) : undefined;
}
