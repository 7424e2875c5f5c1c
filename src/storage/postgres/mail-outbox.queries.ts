import { sql } from 'kysely';
import type { Db } from './db.ts';
import type { MailOutboxRow } from './database.ts';

export interface OutgoingMail {
  recipient: string;
  subject: string;
  text: string;
  html: string;
}

export async function enqueueMail(db: Db, mail: OutgoingMail, now: Date): Promise<string> {
  const row = await db
    .insertInto('mail_outbox')
    .values({ recipient: mail.recipient, subject: mail.subject, text_body: mail.text, html_body: mail.html, next_attempt_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/**
 * Claims up to `limit` due mails for one delivery attempt by pushing their next attempt `leaseSeconds`
 * ahead; FOR UPDATE SKIP LOCKED lets several replicas run the worker without sending a mail twice.
 */
export function claimDueMails(db: Db, now: Date, limit: number, leaseSeconds: number): Promise<MailOutboxRow[]> {
  return db
    .updateTable('mail_outbox')
    .set({
      next_attempt_at: sql<Date>`${now}::timestamptz + make_interval(secs => ${leaseSeconds}::double precision)`,
      attempts: sql<number>`attempts + 1`,
    })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('mail_outbox')
        .select('id')
        .where('sent_at', 'is', null)
        .where('failed_at', 'is', null)
        .where('next_attempt_at', '<=', now)
        .orderBy('next_attempt_at')
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .returningAll()
    .execute();
}

export async function markMailSent(db: Db, id: string, now: Date): Promise<void> {
  await db.updateTable('mail_outbox').set({ sent_at: now, last_error: null }).where('id', '=', id).execute();
}

/** Records a failed attempt: retried at `retryAt`, or given up (failed_at) when `retryAt` is undefined. */
export async function markMailAttemptFailed(db: Db, id: string, error: string, now: Date, retryAt: Date | undefined): Promise<void> {
  await db
    .updateTable('mail_outbox')
    .set(retryAt ? { last_error: error, next_attempt_at: retryAt } : { last_error: error, failed_at: now })
    .where('id', '=', id)
    .execute();
}

/** Newest first, for the development outbox page and operators. */
export function listRecentMails(db: Db, limit: number): Promise<MailOutboxRow[]> {
  return db.selectFrom('mail_outbox').selectAll().orderBy('created_at', 'desc').limit(limit).execute();
}
