import type { Render } from '../http/render.ts';
import type { Locale } from '../i18n/locales.ts';
import { translator, type MessageKey } from '../i18n/translate.ts';

/** What a model field holds: `url` an http(s) link built by the caller from ISSUER, `count` a number. */
type FieldKind = 'url' | 'count' | 'text';

/**
 * Every mail Gatehouse sends: its subject and the fields its model must carry. The template is
 * views/mail/<name>.pug. Fields are checked at run time as well, because callers reach the mailer through
 * ports typed `Record<string, unknown>` and a missing link would otherwise mail a dead button.
 */
const MAILS = {
  'verify-email': { subject: 'mail.verifyEmail.subject', fields: { link: 'url', hours: 'count' } },
  'account-exists': { subject: 'mail.accountExists.subject', fields: { resetUrl: 'url' } },
  'reset-password': { subject: 'mail.resetPassword.subject', fields: { link: 'url', minutes: 'count' } },
  'password-changed': { subject: 'mail.passwordChanged.subject', fields: { resetUrl: 'url' } },
  'email-change-verify': { subject: 'mail.emailChangeVerify.subject', fields: { link: 'url', newEmail: 'text', hours: 'count' } },
  'email-changed': { subject: 'mail.emailChanged.subject', fields: { newEmail: 'text' } },
  // `change`: 'on' / 'off' (an authenticator app, MFA-07), 'recovery' (a recovery code was used),
  // 'passkey-added' / 'passkey-removed'.
  'mfa-changed': { subject: 'mail.mfaChanged.subject', fields: { change: 'text', resetUrl: 'url' } },
  // A sign-in from a browser the account had not used (NEW_DEVICE_ALERTS); browser is the bounded user agent.
  'new-device': { subject: 'mail.newDevice.subject', fields: { when: 'text', ip: 'text', browser: 'text', resetUrl: 'url' } },
  // An upstream provider's sign-in was linked to or unlinked from the account (issue 12); `change` is 'linked' or 'unlinked'.
  'sign-in-method-changed': { subject: 'mail.signInMethod.subject', fields: { change: 'text', provider: 'text', resetUrl: 'url' } },
  // Password sign-in locked after consecutive failures (ABU-01); resetUrl is /forgot-password.
  'account-locked': { subject: 'mail.accountLocked.subject', fields: { resetUrl: 'url', failures: 'count' } },
} as const satisfies Record<string, { subject: MessageKey; fields: Record<string, FieldKind> }>;

export type MailName = keyof typeof MAILS;
export const MAIL_NAMES = Object.keys(MAILS) as MailName[];

type Fields<N extends MailName> = (typeof MAILS)[N]['fields'];
/** The values a mail's template needs, e.g. `MailModel<'reset-password'>` is `{ link: string; minutes: number }`. */
export type MailModel<N extends MailName> = { -readonly [F in keyof Fields<N>]: Fields<N>[F] extends 'count' ? number : string };

export interface RenderedMail {
  subject: string;
  /** Plain text exactly as written: no HTML entities, so links stay usable in text-only clients. */
  text: string;
  html: string;
}

export type RenderMail = <N extends MailName>(name: N, locale: Locale, model: MailModel<N>) => RenderedMail;

function checkModel(name: string, fields: Record<string, FieldKind>, model: Record<string, unknown>): void {
  for (const [field, kind] of Object.entries(fields)) {
    const value = model[field];
    const ok =
      kind === 'count'
        ? typeof value === 'number' && Number.isFinite(value) && value >= 0
        : typeof value === 'string' && value.length > 0 && (kind !== 'url' || /^https?:\/\/[^\s]+$/i.test(value));
    if (!ok) throw new TypeError(`mail ${name}: model.${field} must be ${kind === 'url' ? 'an http(s) URL' : kind === 'count' ? 'a number >= 0' : 'a non-empty string'}`);
  }
}

/**
 * Renders mails with the page renderer (pug from views/, `t`/`lang`/`dir` from the locale).
 * The mail mixins (views/mail/mixins.pug) write each piece of content as HTML, escaped by pug, and push
 * the same raw string to `textLines`: one template gives both parts, and they cannot drift apart.
 * @throws TypeError when the name is unknown or the model lacks a field the template needs.
 */
export function createMailRenderer(render: Render): RenderMail {
  return (name, locale, model) => {
    if (!Object.hasOwn(MAILS, name)) throw new TypeError(`unknown mail ${String(name)}`);
    const spec: { subject: MessageKey; fields: Record<string, FieldKind> } = MAILS[name];
    checkModel(name, spec.fields, model);
    const textLines: string[] = [];
    const html = render(`mail/${name}`, {
      ...model,
      title: spec.subject,
      locale,
      textLines,
      duration: (value: number, unit: 'hour' | 'minute') =>
        new Intl.NumberFormat(locale, { style: 'unit', unit, unitDisplay: 'long' }).format(value),
      // First-strong isolates keep a Latin address from reordering the Arabic sentence around it,
      // in the text part as in the HTML (plain text has no <bdi>).
      isolate: (value: string) => `\u2068${value}\u2069`,
    });
    return { subject: translator(locale)(spec.subject), text: `${textLines.join('\n\n')}\n`, html };
  };
}
