import { createServer, type AddressInfo, type Server } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import Koa from 'koa';
import pino from 'pino';
import { createRenderer } from '../../src/http/render.ts';
import { requestLocale } from '../../src/http/middleware/locale.ts';
import { devOutboxRouter } from '../../src/mail/dev-outbox.ts';
import { createMailer, MAX_ATTEMPTS, type Mailer } from '../../src/mail/outbox.ts';
import { createMailRenderer } from '../../src/mail/templates.ts';
import { createSmtpTransport, type MailTransport } from '../../src/mail/transport.ts';
import { openDatabase, type DatabaseHandle } from '../../src/storage/postgres/db.ts';
import { migrateToLatest } from '../../src/storage/postgres/migrate.ts';
import { databaseBackends } from '../support/backends.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const FROM = 'Gatehouse <no-reply@gatehouse.test>';
const T0 = Date.parse('2026-11-29T10:00:00Z');
const render = createRenderer({ cache: true });
const renderMail = createMailRenderer(render);

/** A loopback port nothing listens on: an SMTP server that is down. */
async function closedPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.each(databaseBackends)('mail outbox on $name', (backend) => {
  let handle: DatabaseHandle;
  let cleanup: () => Promise<void>;
  let sink: SmtpSink;
  let now = T0;
  const logLines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
  const mailers: Mailer[] = [];

  function makeMailer(transport: MailTransport = createSmtpTransport(sink.url)): Mailer {
    const mailer = createMailer({ db: handle.db, transport, from: FROM, logger, render: renderMail, clock: () => now });
    mailers.push(mailer);
    return mailer;
  }
  const rowsTo = (recipient: string) => handle.db.selectFrom('mail_outbox').selectAll().where('recipient', '=', recipient).execute();

  beforeAll(async () => {
    const made = await backend.setup();
    cleanup = made.cleanup;
    handle = await openDatabase(made.config);
    await migrateToLatest(handle.db);
    sink = await startSmtpSink();
  });

  beforeEach(async () => {
    await handle.db.deleteFrom('mail_outbox').execute();
    sink.messages.length = 0;
    sink.rejectNext(0);
    logLines.length = 0;
    now = T0;
  });

  afterEach(async () => {
    await Promise.all(mailers.splice(0).map((mailer) => mailer.close()));
  });

  afterAll(async () => {
    await sink?.close();
    await handle?.close();
    await cleanup?.();
  });

  it('queues without sending, then delivers over SMTP with the link intact in both parts', async () => {
    const mailer = makeMailer();
    const link = 'http://127.0.0.1:3000/verify-email?token=Ab-_9xYz0123456789';
    await mailer.queue('ada@example.com', 'verify-email', 'en', { link, hours: 24 });
    expect(sink.messages).toHaveLength(0);

    await expect(mailer.deliverDue()).resolves.toBe(1);
    expect(sink.messages).toHaveLength(1);
    const mail = sink.messages[0]!;
    expect(mail).toMatchObject({ to: 'ada@example.com', subject: 'Confirm your email address' });
    expect(mail.from).toContain('no-reply@gatehouse.test');
    expect(mail.text).toContain(link);
    expect(mail.text).toContain('expires in 24 hours');
    expect(mail.text).not.toMatch(/&amp;|<[a-z]/i);
    expect(mail.html).toContain(`href="${link}"`);
    expect(mail.html).toContain('dir="ltr"');
    const [row] = await rowsTo('ada@example.com');
    expect(row).toMatchObject({ attempts: 1, last_error: null, failed_at: null });
    expect(row!.sent_at).not.toBeNull();
    await expect(mailer.deliverDue()).resolves.toBe(0);
  });

  it('sends Arabic mail with an Arabic subject and right-to-left HTML', async () => {
    const mailer = makeMailer();
    const link = 'http://127.0.0.1:3000/reset-password?token=xyz';
    await mailer.queue('layla@example.com', 'reset-password', 'ar', { link, minutes: 30 });
    await mailer.deliverDue();
    const mail = sink.messages[0]!;
    expect(mail.subject).toBe('إعادة تعيين كلمة المرور');
    expect(mail.html).toMatch(/<html lang="ar" dir="rtl">/);
    expect(mail.text).toContain('30 دقيقة');
    expect(mail.text).toContain(link);
  });

  it('keeps a rejected mail for a retry after the backoff, then delivers it', async () => {
    const mailer = makeMailer();
    sink.rejectNext(1);
    await mailer.queue('retry@example.com', 'password-changed', 'en', { resetUrl: 'http://127.0.0.1:3000/forgot-password' });
    await expect(mailer.deliverDue()).resolves.toBe(0);
    const [failed] = await rowsTo('retry@example.com');
    expect(failed).toMatchObject({ attempts: 1, sent_at: null, failed_at: null });
    expect(failed!.last_error).toMatch(/451/);
    expect(logLines.join('')).toContain(failed!.id);

    now += 29_000; // first retry waits 30 s
    await expect(mailer.deliverDue()).resolves.toBe(0);
    now += 1_000;
    await expect(mailer.deliverDue()).resolves.toBe(1);
    expect(sink.messages.map((mail) => mail.subject)).toEqual(['Your password was changed']);
    const [sent] = await rowsTo('retry@example.com');
    expect(sent).toMatchObject({ attempts: 2, last_error: null });
  });

  it(`gives up after ${MAX_ATTEMPTS} failed attempts and logs only the id and domain`, async () => {
    const mailer = makeMailer();
    sink.rejectNext(MAX_ATTEMPTS);
    const resetUrl = 'http://127.0.0.1:3000/forgot-password?secret=s3cr3t';
    await mailer.queue('doomed@example.com', 'account-exists', 'en', { resetUrl });
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      await expect(mailer.deliverDue()).resolves.toBe(0);
      now += 3_600_000;
    }
    const [row] = await rowsTo('doomed@example.com');
    expect(row).toMatchObject({ attempts: MAX_ATTEMPTS, sent_at: null });
    expect(row!.failed_at).not.toBeNull();
    await expect(mailer.deliverDue()).resolves.toBe(0);
    expect(sink.messages).toHaveLength(0);

    const entries = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.filter((entry) => entry.level === 50)).toEqual([
      expect.objectContaining({ mailId: row!.id, domain: 'example.com', attempt: MAX_ATTEMPTS }),
    ]);
    expect(logLines.join('')).not.toMatch(/doomed@|s3cr3t/);
  });

  it('sends each mail once when two workers deliver at the same time', async () => {
    const [first, second] = [makeMailer(), makeMailer()];
    for (let n = 0; n < 6; n += 1) {
      await first.queue(`user${n}@example.com`, 'email-changed', 'en', { newEmail: `new${n}@example.com` });
    }
    const counts = await Promise.all([first.deliverDue(), second.deliverDue(), first.deliverDue(), second.deliverDue()]);
    expect(counts.reduce((sum, count) => sum + count, 0)).toBe(6);
    expect(sink.messages.map((mail) => mail.to).sort()).toEqual(Array.from({ length: 6 }, (_, n) => `user${n}@example.com`).sort());
  });

  it('records a failed attempt when the SMTP server is down, without throwing', async () => {
    const mailer = makeMailer(createSmtpTransport(`smtp://127.0.0.1:${await closedPort()}`));
    await mailer.queue('down@example.com', 'verify-email', 'en', { link: 'http://127.0.0.1:3000/verify-email?token=t', hours: 1 });
    await expect(mailer.deliverDue()).resolves.toBe(0);
    const [row] = await rowsTo('down@example.com');
    expect(row).toMatchObject({ attempts: 1, sent_at: null, failed_at: null });
    expect(row!.last_error).toMatch(/ECONNREFUSED|connect/i);
  });

  it('queues inside the caller\'s transaction: a rollback leaves no mail', async () => {
    const mailer = makeMailer();
    await expect(
      handle.db.transaction().execute(async (trx) => {
        await mailer.queue('rolled@example.com', 'email-changed', 'en', { newEmail: 'x@example.com' }, trx);
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    await expect(rowsTo('rolled@example.com')).resolves.toEqual([]);
  });

  it('once started, delivers right after queue() without an explicit run, and close() stops it', async () => {
    const mailer = makeMailer();
    mailer.start(60_000);
    await mailer.queue('prompt@example.com', 'email-changed', 'en', { newEmail: 'new@example.com' });
    await sink.waitFor((mail) => mail.to === 'prompt@example.com');
    await mailer.close();
    await mailer.queue('later@example.com', 'email-changed', 'en', { newEmail: 'new@example.com' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sink.messages.map((mail) => mail.to)).toEqual(['prompt@example.com']);
  });

  it('lists queued mail with its links on the development outbox page', async () => {
    const mailer = makeMailer();
    const link = 'http://127.0.0.1:3000/verify-email?token=dev-outbox-token&ui_locales=en';
    await mailer.queue('dev@example.com', 'verify-email', 'en', { link, hours: 24 });
    const koa = new Koa();
    koa.use(requestLocale('en'));
    koa.use(devOutboxRouter({ db: handle.db, render }).routes());
    const server: HttpServer = koa.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/dev/outbox`);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      const page = await response.text();
      expect(page).toContain('dev@example.com');
      expect(page).toContain('Confirm your email address');
      expect(page).toContain(`<a href="${link.replace('&', '&amp;')}" dir="ltr">`);
      expect(page).toMatch(/<pre dir="auto">[^<]*dev-outbox-token/);
      expect(page).toContain('Waiting (attempts so far: 0)');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
