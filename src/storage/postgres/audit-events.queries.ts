import { sql } from 'kysely';
import type { Db } from './db.ts';
import type { AuditEventRow, AuditOutcome } from './database.ts';

export interface NewAuditEvent {
  occurredAt: Date;
  type: string;
  outcome: AuditOutcome;
  accountId: string | null;
  clientId: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
}

/** An event as listed, with the account's current email when the account still exists. */
export type ListedAuditEventRow = AuditEventRow & { account_email: string | null };

export interface AuditEventFilter {
  accountId?: string | undefined;
  type?: string | undefined;
  /** Events at or after this time. */
  since?: Date | undefined;
  /** Events inserted after this id (the cursor of `audit tail`). */
  afterId?: string | undefined;
  limit: number;
  /** newest: the latest `limit` events, newest first; oldest: the first `limit` after the filters, oldest first. */
  order: 'newest' | 'oldest';
}

/** Writes one event through `db` (a transaction records it atomically with the change it is about). Returns its id. */
export async function insertAuditEvent(db: Db, event: NewAuditEvent): Promise<string> {
  const row = await db
    .insertInto('audit_events')
    .values({
      occurred_at: event.occurredAt,
      type: event.type,
      outcome: event.outcome,
      account_id: event.accountId,
      client_id: event.clientId,
      ip: event.ip,
      user_agent: event.userAgent,
      request_id: event.requestId,
      details: JSON.stringify(event.details),
    })
    .returning(sql<string>`id::text`.as('id'))
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Filtered events, ordered by id (insertion order), each with its account's email when it still exists. */
export function listAuditEvents(db: Db, filter: AuditEventFilter): Promise<ListedAuditEventRow[]> {
  let query = db
    .selectFrom('audit_events')
    .leftJoin('accounts', 'accounts.id', 'audit_events.account_id')
    .select([
      // int8 comes back as a string from pg and a number from PGlite; text is the same on both.
      sql<string>`audit_events.id::text`.as('id'),
      'audit_events.occurred_at',
      'audit_events.type',
      'audit_events.outcome',
      'audit_events.account_id',
      'audit_events.client_id',
      'audit_events.ip',
      'audit_events.user_agent',
      'audit_events.request_id',
      'audit_events.details',
      'accounts.email as account_email',
    ]);
  if (filter.accountId !== undefined) query = query.where('audit_events.account_id', '=', filter.accountId);
  if (filter.type !== undefined) query = query.where('audit_events.type', '=', filter.type);
  if (filter.since !== undefined) query = query.where('audit_events.occurred_at', '>=', filter.since);
  if (filter.afterId !== undefined) query = query.where(sql<string>`audit_events.id`, '>', sql<string>`${filter.afterId}::bigint`);
  return query
    .orderBy(sql`audit_events.id`, filter.order === 'newest' ? 'desc' : 'asc')
    .limit(filter.limit)
    .execute();
}

/**
 * Deletes up to `batchSize` events older than `cutoff` and returns how many went. Small batches keep
 * each statement short on a large table; SKIP LOCKED lets several replicas run the job side by side.
 */
export async function deleteAuditEventsBefore(db: Db, cutoff: Date, batchSize: number): Promise<number> {
  const deleted = await db
    .deleteFrom('audit_events')
    .where('id', 'in', (eb) =>
      eb.selectFrom('audit_events').select('id').where('occurred_at', '<', cutoff).limit(batchSize).forUpdate().skipLocked(),
    )
    .executeTakeFirst();
  return Number(deleted.numDeletedRows);
}
