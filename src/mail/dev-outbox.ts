import Router from '@koa/router';
import { localeOf } from '../http/middleware/locale.ts';
import { noStore } from '../http/middleware/no-store.ts';
import type { Render } from '../http/render.ts';
import type { MailOutboxRow } from '../storage/postgres/database.ts';
import type { Db } from '../storage/postgres/db.ts';
import { listRecentMails } from '../storage/postgres/mail-outbox.queries.ts';

const SHOWN = 50;
/** http(s) links in a text body; trailing sentence punctuation is not part of the link. */
const LINK = /https?:\/\/[^\s<>"']+/g;

export interface OutboxMailView {
  recipient: string;
  subject: string;
  created: string;
  status: 'sent' | 'failed' | 'pending';
  attempts: number;
  lastError: string | null;
  text: string;
  links: string[];
}

function toView(row: MailOutboxRow): OutboxMailView {
  const links = (row.text_body.match(LINK) ?? []).map((link) => link.replace(/[.,;:!?)]+$/, ''));
  return {
    recipient: row.recipient,
    subject: row.subject,
    created: new Date(row.created_at).toISOString(),
    status: row.sent_at ? 'sent' : row.failed_at ? 'failed' : 'pending',
    attempts: row.attempts,
    lastError: row.last_error,
    text: row.text_body,
    links: [...new Set(links)],
  };
}

/**
 * GET /dev/outbox: the newest mail, so a developer without SMTP can follow verification and reset links.
 * Development only: it shows live one-time links to anyone who can reach it. app.ts mounts it only
 * when config.env is 'development'.
 */
export function devOutboxRouter(deps: { db: Db; render: Render }): Router {
  const router = new Router();
  router.get('/dev/outbox', noStore, async (ctx) => {
    const mails = (await listRecentMails(deps.db, SHOWN)).map(toView);
    ctx.body = deps.render('mail/dev-outbox', { title: 'mail.devOutbox.title', locale: localeOf(ctx), mails });
  });
  return router;
}
