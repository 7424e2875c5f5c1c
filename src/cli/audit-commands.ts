import { setTimeout as sleep } from 'node:timers/promises';
import { listAuditTrail, resolveAuditAccount, type AuditEventView } from '../admin/audit.ts';
import { AUDIT_EVENT_TYPES, isAuditEventType, type AuditEventType } from '../audit/events.ts';
import { cleanText } from '../audit/details.ts';
import { UsageError } from '../errors.ts';
import { noPositionals, parseOptions, print, printJson, withDatabase, type CliIo } from './context.ts';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
/** Events fetched per poll of `audit tail`; a fuller page is followed at once by the next. */
const TAIL_PAGE = 500;

/** `500ms`, `90s`, `15m`, `24h`, `7d`, `2w` in milliseconds. @throws UsageError for anything else. */
export function parseDuration(value: string, option: string): number {
  const match = /^(\d{1,6})(ms|[smhdw])$/.exec(value.trim());
  if (!match) throw new UsageError(`${option} takes a duration such as 90s, 15m, 24h, 7d or 2w (got "${value}")`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** An ISO date or time (2026-11-29, 2026-11-29T10:00:00Z), or a duration back from now (24h, 7d). */
export function parseSince(value: string, now: number): Date {
  if (/^\d{4}-\d{2}-\d{2}/.test(value.trim())) {
    const time = Date.parse(value.trim());
    if (Number.isNaN(time)) throw new UsageError(`--since: "${value}" is not a valid date`);
    return new Date(time);
  }
  return new Date(now - parseDuration(value, '--since'));
}

function parseLimit(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 10_000) throw new UsageError(`--limit takes a number from 1 to 10000 (got "${value}")`);
  return Number(value);
}

function parseType(value: string | undefined): AuditEventType | undefined {
  if (value === undefined || isAuditEventType(value)) return value;
  throw new UsageError(`unknown event type "${value}"; the types are: ${AUDIT_EVENT_TYPES.join(', ')}`);
}

const FILTER_OPTIONS = {
  account: { type: 'string' },
  type: { type: 'string' },
  since: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Everything shown is escaped: user agents, client ids and details may hold what an attacker typed. */
const shown = (value: unknown): string => (value === null || value === undefined || value === '' ? '-' : cleanText(String(value), 300));

/** One line: time, type, outcome, account, client, IP, then the details as key=value. */
export function formatAuditEvent(event: AuditEventView): string {
  const details = Object.entries(event.details).map(([key, value]) => `${shown(key)}=${shown(Array.isArray(value) ? value.join(',') : value)}`);
  return [
    event.occurred_at,
    event.type.padEnd(26),
    event.outcome.padEnd(7),
    shown(event.account_email ?? event.account_id),
    shown(event.client_id),
    shown(event.ip),
    ...details,
  ].join('  ').trimEnd();
}

async function list(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, FILTER_OPTIONS);
  noPositionals(positionals);
  const query = {
    account: values.account,
    type: parseType(values.type),
    since: values.since === undefined ? undefined : parseSince(values.since, Date.now()),
    limit: parseLimit(values.limit, 50),
  };
  const events = await withDatabase(io, ({ db }) => listAuditTrail(db, query));
  if (values.json) printJson(io, events);
  else if (events.length === 0) print(io, 'no audit events');
  else for (const event of events) print(io, formatAuditEvent(event));
  return 0;
}

/** io.signal, or one that SIGINT / SIGTERM of this process aborts (only while the command runs). */
function interruption(io: CliIo): { signal: AbortSignal; release: () => void } {
  if (io.signal) return { signal: io.signal, release: () => {} };
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop).once('SIGTERM', stop);
  return { signal: controller.signal, release: () => process.off('SIGINT', stop).off('SIGTERM', stop) };
}

/**
 * Prints the newest events (like `list`, 10 by default), then polls for new ones until interrupted
 * (Ctrl-C) or `--for` has passed. With --json it prints one JSON object per line.
 */
async function tail(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseOptions(args, { ...FILTER_OPTIONS, interval: { type: 'string' }, for: { type: 'string' } });
  noPositionals(positionals);
  const type = parseType(values.type);
  const since = values.since === undefined ? undefined : parseSince(values.since, Date.now());
  const limit = parseLimit(values.limit, 10);
  const intervalMs = values.interval === undefined ? 2000 : Math.max(parseDuration(values.interval, '--interval'), 100);
  const deadline = values.for === undefined ? Infinity : Date.now() + parseDuration(values.for, '--for');
  const show = (event: AuditEventView) => (values.json ? io.stdout.write(`${JSON.stringify(event)}\n`) : print(io, formatAuditEvent(event)));
  const { signal, release } = interruption(io);
  try {
    await withDatabase(io, async ({ db }) => {
      const account = values.account === undefined ? undefined : await resolveAuditAccount(db, values.account);
      const latest = await listAuditTrail(db, { account, type, since, limit });
      latest.forEach(show);
      // '0' when nothing matched yet: then every matching event that appears is new.
      let cursor = latest.at(-1)?.id ?? '0';
      let full = false;
      while (!signal.aborted && Date.now() < deadline) {
        // A full page means more are waiting: fetch again at once.
        if (!full) await sleep(Math.min(intervalMs, deadline - Date.now()), undefined, { signal }).catch(() => undefined);
        if (signal.aborted) break;
        // Ids follow insertion; an event from a transaction that commits after a later one can be missed,
        // which the short single-insert writes of the audit log make rare. `list` always sees it.
        const fresh = await listAuditTrail(db, { account, type, since, afterId: cursor, limit: TAIL_PAGE });
        fresh.forEach(show);
        cursor = fresh.at(-1)?.id ?? cursor;
        full = fresh.length === TAIL_PAGE;
      }
    });
  } finally {
    release();
  }
  return 0;
}

export const auditCommands: Record<string, (args: string[], io: CliIo) => Promise<number>> = { list, tail };
