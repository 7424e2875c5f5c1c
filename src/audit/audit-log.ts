import type { Logger } from 'pino';
import { AppError } from '../errors.ts';
import type { Db } from '../storage/postgres/db.ts';
import { insertAuditEvent, type NewAuditEvent } from '../storage/postgres/audit-events.queries.ts';
import { cleanText, sanitiseDetails, type AuditDetails } from './details.ts';
import type { AuditEventType, AuditFailureReason } from './events.ts';

export type { AuditEventType, AuditFailureReason } from './events.ts';
export type { AuditDetails } from './details.ts';

/** One event. A failure must say why; the account is null when none is known (an unknown email). */
export type AuditEvent = {
  type: AuditEventType;
  accountId?: string | null | undefined;
  clientId?: string | null | undefined;
  /** Small, flat, never secret: secret-looking keys and values are dropped (src/audit/details.ts). */
  details?: AuditDetails | undefined;
} & ({ outcome?: 'success' | undefined; reason?: undefined } | { outcome: 'failure'; reason: AuditFailureReason });

/** The parts of a Koa context an event takes its origin from (a plain object in tests). */
export interface AuditRequest {
  /** Koa's ctx.ip: the socket address, or the proxy's rightmost X-Forwarded-For hop under TRUST_PROXY. */
  readonly ip: string;
  get(field: string): string;
  /** Holds requestId, set by src/http/middleware/request-context.ts (typed loosely: Koa's state is {}). */
  readonly state: object;
}

export interface AuditLog {
  /**
   * Writes one row to audit_events through `db` (default: the log's own database; pass a transaction to
   * record the event atomically with the change it is about) and then emits one pino line of type
   * `audit`. IP, user agent and request id come from `request` when given. Call it before the response
   * is sent, so that a failure can still fail the request.
   * @throws AuditWriteError when the row cannot be written (see createAuditLog for why it throws).
   */
  record(event: AuditEvent, request?: AuditRequest, db?: Db): Promise<void>;
}

export interface AuditLogOptions {
  db: Db;
  logger: Logger;
  now?: () => Date;
}

/** The audit row could not be written; the action it was about must not be reported as done. */
export class AuditWriteError extends AppError {
  constructor(cause: unknown) {
    super(503, 'audit_unavailable', 'The audit trail cannot be written right now, so the action was refused.', { cause });
  }
}

const USER_AGENT_MAX = 256;
const MAX_DROPPED_NAMES = 10;

function origin(request: AuditRequest | undefined): Pick<NewAuditEvent, 'ip' | 'userAgent' | 'requestId'> {
  if (!request) return { ip: null, userAgent: null, requestId: null };
  const requestId = (request.state as { requestId?: unknown }).requestId;
  return {
    ip: cleanText(request.ip, 64) || null,
    // Attacker-chosen text: bounded and without control characters before it reaches a table or a terminal.
    userAgent: cleanText(request.get('user-agent'), USER_AGENT_MAX) || null,
    requestId: typeof requestId === 'string' ? cleanText(requestId, 128) : null,
  };
}

/**
 * The audit trail: a row in audit_events (what `gatehouse audit` lists) and a log line (what a log
 * pipeline ships) per event.
 *
 * A failed write fails the action (record throws AuditWriteError) instead of being logged and ignored.
 * The trail is a security control (LOG-01): if writing it could fail quietly, an attacker who can make
 * it fail (fill the disk, exhaust connections) could guess passwords or act as an admin unrecorded.
 * Failing closed costs little availability, because the row goes to the same database every sign-in
 * and account change needs anyway: when it cannot take a small insert, the action would rarely have
 * worked. The event is still logged, at error level, so it is not lost from the logs either.
 */
export function createAuditLog(options: AuditLogOptions): AuditLog {
  const { db, logger } = options;
  // The event's line has fixed fields and sanitised details (secret-looking keys already dropped), so it
  // skips the redaction paths, which cost more than the rest of the line (issue 13: ~0.3 ms per sign-in).
  const lines = logger.child({}, { redact: [] });
  const now = options.now ?? (() => new Date());
  return {
    async record(event, request, recordDb = db) {
      const { details, dropped } = sanitiseDetails(event.details);
      if (event.reason !== undefined) details.reason = event.reason;
      if (dropped.length > 0) details.dropped = dropped.slice(0, MAX_DROPPED_NAMES);
      const row: NewAuditEvent = {
        occurredAt: now(),
        type: event.type,
        outcome: event.outcome ?? 'success',
        accountId: event.accountId ?? null,
        clientId: event.clientId ? cleanText(event.clientId, 128) : null,
        ...origin(request),
        details,
      };
      const line = {
        type: 'audit',
        event: row.type,
        outcome: row.outcome,
        occurredAt: row.occurredAt.toISOString(),
        accountId: row.accountId,
        clientId: row.clientId,
        ip: row.ip,
        userAgent: row.userAgent,
        requestId: row.requestId,
        details,
      };
      if (dropped.length > 0) logger.warn({ event: row.type, dropped }, 'audit details that looked secret or too large were dropped');
      let id: string;
      try {
        id = await insertAuditEvent(recordDb, row);
      } catch (error) {
        logger.error({ ...line, err: error as Error }, 'audit event not recorded');
        throw new AuditWriteError(error);
      }
      lines.info({ ...line, auditId: id }, 'audit');
    },
  };
}
