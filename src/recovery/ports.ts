import type { Locale } from '../i18n/locales.ts';
import type { Db } from '../storage/postgres/db.ts';
import type { MailModel, MailName } from '../mail/templates.ts';

/** Queues a mail for delivery by the outbox worker: never sends inline, so timing shows nothing. */
export interface MailQueue {
  queue<N extends MailName>(to: string, name: N, locale: Locale, model: MailModel<N>, db?: Db): Promise<void>;
}

/** NIST SP 800-63B-4 password rules: the policy's own types (src/security/password-policy.ts). */
export type { PasswordPolicy, PasswordVerdict } from '../security/password-policy.ts';
