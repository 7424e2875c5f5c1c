import type { Locale } from '../i18n/locales.ts';
import type { Db } from '../storage/postgres/db.ts';
import type { MailModel, MailName } from '../mail/templates.ts';

/** Queues a mail for delivery by the outbox worker: never sends inline, so timing shows nothing. */
export interface MailQueue {
  queue<N extends MailName>(to: string, name: N, locale: Locale, model: MailModel<N>, db?: Db): Promise<void>;
}

export type PasswordVerdict =
  | { ok: true; warning?: string }
  | { ok: false; reason: string; messageKey: string; params?: Record<string, string | number> };

/** NIST SP 800-63B-4 password rules (src/security/password-policy.ts). */
export interface PasswordPolicy {
  check(password: string, context: { email?: string; name?: string }): Promise<PasswordVerdict>;
}
