import type { Logger } from 'pino';
import type { Locale } from '../i18n/locales.ts';
import type { MailOutboxRow } from '../storage/postgres/database.ts';
import type { Db } from '../storage/postgres/db.ts';
import { claimDueMails, enqueueMail, markMailAttemptFailed, markMailSent } from '../storage/postgres/mail-outbox.queries.ts';
import type { MailModel, MailName, RenderMail } from './templates.ts';
import type { MailTransport } from './transport.ts';

export const BATCH_SIZE = 20;
/** A claimed mail is invisible to other workers this long; every send must end well before it does. */
export const LEASE_SECONDS = 60;
export const MAX_ATTEMPTS = 8;
/** A transport that ignores its own timeouts still gives up here, inside the lease, so no other worker sends the mail meanwhile. */
const SEND_DEADLINE_MS = 45_000;

/** Wait before the next attempt after `attempts` failures: 30 s, 1 min, 2 min, ... capped at 1 h. */
export function retryDelayMs(attempts: number): number {
  return Math.min(30_000 * 2 ** Math.max(attempts - 1, 0), 3_600_000);
}

export interface MailerOptions {
  db: Db;
  transport: MailTransport;
  /** The From header of every mail (config.mail.from). */
  from: string;
  logger: Logger;
  render: RenderMail;
  /** Milliseconds since the epoch; injected by tests that step through the retry schedule. */
  clock?: () => number;
}

export interface Mailer {
  /**
   * Renders the mail and writes it to the outbox through `db` (pass a transaction to queue atomically
   * with the change the mail is about). Never sends inline: a slow SMTP server must not show in the
   * response time, and a request must not fail because mail is down.
   * @throws TypeError when the model lacks a field the template needs.
   */
  queue<N extends MailName>(to: string, name: N, locale: Locale, model: MailModel<N>, db?: Db): Promise<void>;
  /** One delivery pass: claims due mails, sends them, records the outcome; resolves to the number sent. */
  deliverDue(): Promise<number>;
  /** Runs deliverDue now and every `intervalMs` (unref'd), and right after each queue(); returns a stop function. */
  start(intervalMs: number): () => void;
  /** Stops the timer, waits for a running pass, closes the transport. Call before closing the database. */
  close(): Promise<void>;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

function withDeadline(send: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the mail transport within ${ms} ms`)), ms);
  });
  return Promise.race([send, deadline]).finally(() => clearTimeout(timer));
}

export function createMailer(options: MailerOptions): Mailer {
  const { db, transport, from, logger, render } = options;
  const clock = options.clock ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;

  async function deliverOne(mail: MailOutboxRow): Promise<boolean> {
    const log = { mailId: mail.id, domain: domainOf(mail.recipient), attempt: mail.attempts };
    try {
      await withDeadline(transport.send({ from, to: mail.recipient, subject: mail.subject, text: mail.text_body, html: mail.html_body }), SEND_DEADLINE_MS);
    } catch (error) {
      // The SMTP reply goes to last_error only: it may quote the full address. Logs carry the id and
      // the domain, and never the body, which holds a one-time link.
      const { code, responseCode } = error as { code?: string; responseCode?: number };
      const now = clock();
      const giveUp = mail.attempts >= MAX_ATTEMPTS;
      const retryAt = giveUp ? undefined : new Date(now + retryDelayMs(mail.attempts));
      await markMailAttemptFailed(db, mail.id, String((error as Error).message ?? error).slice(0, 1000), new Date(now), retryAt);
      if (giveUp) logger.error({ ...log, code, responseCode }, 'mail undeliverable, giving up (see mail_outbox.last_error)');
      else logger.warn({ ...log, code, responseCode, retryAt }, 'mail delivery attempt failed, will retry');
      return false;
    }
    await markMailSent(db, mail.id, new Date(clock()));
    return true;
  }

  async function deliverDue(): Promise<number> {
    const claimed = await claimDueMails(db, new Date(clock()), BATCH_SIZE, LEASE_SECONDS);
    // In parallel, so a whole batch ends within one send's timeouts, inside the lease.
    const results = await Promise.allSettled(claimed.map(deliverOne));
    for (const result of results) {
      // Sent (or failed) but not recorded: the lease runs out and the mail is tried again (at least once).
      if (result.status === 'rejected') logger.error({ err: result.reason as Error }, 'mail outcome not recorded');
    }
    return results.filter((result) => result.status === 'fulfilled' && result.value).length;
  }

  /** One pass at a time per process; a kick during a pass runs another one after it. */
  function kick(): void {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = deliverDue()
      .then(() => undefined, (error: unknown) => logger.error({ err: error as Error }, 'mail delivery pass failed'))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          kick();
        }
      });
  }

  return {
    async queue(to, name, locale, model, queueDb = db) {
      const mail = render(name, locale, model);
      await enqueueMail(queueDb, { recipient: to, ...mail }, new Date(clock()));
      // Prompt delivery after the response. Inside an uncommitted transaction the row may not be
      // visible yet; the timer picks it up on its next tick.
      if (timer) setImmediate(kick);
    },
    deliverDue,
    start(intervalMs) {
      clearInterval(timer);
      timer = setInterval(kick, intervalMs);
      timer.unref();
      kick();
      return () => {
        clearInterval(timer);
        timer = undefined;
      };
    },
    async close() {
      closed = true;
      clearInterval(timer);
      timer = undefined;
      while (running) await running;
      transport.close?.();
    },
  };
}
