import { NotFoundError } from '../errors.ts';
import type { Db } from '../storage/postgres/db.ts';
import { findAccountByEmail } from '../storage/postgres/accounts.queries.ts';
import { listAuditEvents, type ListedAuditEventRow } from '../storage/postgres/audit-events.queries.ts';
import type { AuditEventType } from '../audit/events.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An audit event as shown to operators (snake_case, like every other CLI JSON). */
export interface AuditEventView {
  id: string;
  occurred_at: string;
  type: string;
  outcome: string;
  account_id: string | null;
  /** The account's current email; null when there is no account or it has been deleted. */
  account_email: string | null;
  client_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  /** An account id, or an email looked up now (an id also finds the events of a deleted account). */
  account?: string | undefined;
  type?: AuditEventType | undefined;
  since?: Date | undefined;
  /** Only events after this id, oldest first (following the trail); without it, the newest `limit`. */
  afterId?: string | undefined;
  limit: number;
}

function toView(row: ListedAuditEventRow): AuditEventView {
  return {
    id: row.id,
    occurred_at: new Date(row.occurred_at).toISOString(),
    type: row.type,
    outcome: row.outcome,
    account_id: row.account_id,
    account_email: row.account_email,
    client_id: row.client_id,
    ip: row.ip,
    user_agent: row.user_agent,
    request_id: row.request_id,
    details: row.details,
  };
}

/**
 * The account id an `--account` filter means.
 * @throws NotFoundError when it is not an id and no account has this email.
 */
export async function resolveAuditAccount(db: Db, account: string): Promise<string> {
  const value = account.trim();
  if (UUID.test(value)) return value.toLowerCase();
  const row = await findAccountByEmail(db, value);
  if (!row) throw new NotFoundError(`no account with email "${value}" (give its id to see the events of a deleted account)`);
  return row.id;
}

/**
 * Audit events matching the query, oldest first: the newest `limit` of them, or with `afterId` the
 * first `limit` inserted after it.
 * @throws NotFoundError for an `account` email that matches no account.
 */
export async function listAuditTrail(db: Db, query: AuditQuery): Promise<AuditEventView[]> {
  const accountId = query.account === undefined ? undefined : await resolveAuditAccount(db, query.account);
  const following = query.afterId !== undefined;
  const rows = await listAuditEvents(db, {
    accountId,
    type: query.type,
    since: query.since,
    afterId: query.afterId,
    limit: query.limit,
    order: following ? 'oldest' : 'newest',
  });
  const views = rows.map(toView);
  return following ? views : views.reverse();
}
