import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';

export interface OutgoingMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** Hands one mail to the outside world; a rejected promise is a failed attempt the outbox retries. */
export interface MailTransport {
  send(mail: OutgoingMessage): Promise<void>;
  /** Releases connections at shutdown (the mailer calls it from its own close()). */
  close?(): void;
}

/**
 * SMTP through nodemailer; credentials and smtps:// come from the URL. The timeouts are far below
 * nodemailer's defaults (2 min to connect, 10 min idle) so a hung server fails the attempt well inside
 * the outbox lease (LEASE_SECONDS in outbox.ts) instead of holding it, and the mail is retried later.
 */
export function createSmtpTransport(smtpUrl: string): MailTransport & { close(): void } {
  // nodemailer is loaded with the first mail, not at start-up (about 0.1 s of every start, issue 13).
  let transporter: Promise<Transporter> | undefined;
  const open = () =>
    (transporter ??= import('nodemailer').then(({ createTransport }) =>
      createTransport({
        url: smtpUrl,
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 20_000,
        dnsTimeout: 5_000,
      }),
    ));
  return {
    async send(mail) {
      await (await open()).sendMail(mail);
    },
    close() {
      void transporter?.then((opened) => opened.close());
    },
  };
}

/**
 * Development without SMTP_URL: nothing is sent, the mail stays readable in the outbox table and on
 * /dev/outbox. Logs the recipient and subject only; the body holds one-time links.
 */
export function createLogTransport(logger: Pick<Logger, 'info'>): MailTransport {
  return {
    async send(mail) {
      logger.info(`mail to ${mail.to}: ${mail.subject} (see /dev/outbox)`);
    },
  };
}
