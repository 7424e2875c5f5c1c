import { describe, expect, it } from '@jest/globals';
import { createRenderer } from '../../src/http/render.ts';
import { SUPPORTED_LOCALES } from '../../src/i18n/locales.ts';
import { createMailRenderer, MAIL_NAMES, type MailModel, type MailName } from '../../src/mail/templates.ts';

const renderMail = createMailRenderer(createRenderer({ cache: true }));
// A link with every character HTML escapes, so double escaping or a missing escape would show.
const LINK = 'https://id.example.com/verify-email?token=Ab-_9&next=<x>"y"';

const MODELS: { [N in MailName]: MailModel<N> } = {
  'verify-email': { link: LINK, hours: 24 },
  'account-exists': { resetUrl: LINK },
  'reset-password': { link: LINK, minutes: 30 },
  'password-changed': { resetUrl: LINK },
  'email-change-verify': { link: LINK, newEmail: 'new<b>@example.com', hours: 24 },
  'email-changed': { newEmail: 'new<b>@example.com' },
  'mfa-changed': { change: 'on', resetUrl: LINK },
  'new-device': { when: '2026-11-29 10:00 UTC', ip: '203.0.113.7', browser: 'Mozilla/5.0 <script>', resetUrl: LINK },
  'account-locked': { resetUrl: LINK, failures: 100 },
  'sign-in-method-changed': { change: 'linked', provider: 'Google <b>', resetUrl: LINK },
};

const decode = (html: string) =>
  html.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

describe.each(MAIL_NAMES.flatMap((name) => SUPPORTED_LOCALES.map((locale) => ({ name, locale }))))('mail $name in $locale', ({ name, locale }) => {
  const mail = renderMail(name, locale, MODELS[name] as never);

  it('has a subject, a language and a direction', () => {
    expect(mail.subject.length).toBeGreaterThan(5);
    expect(mail.subject).not.toMatch(/^mail\./);
    expect(mail.html).toContain(`<html lang="${locale}" dir="${locale === 'ar' ? 'rtl' : 'ltr'}">`);
    expect(mail.html).toContain(`<title>${mail.subject}</title>`);
    if (locale === 'ar') expect(mail.subject).toMatch(/[\u0600-\u06FF]/);
  });

  it('puts links and values in the text part exactly, and escaped once in the HTML part', () => {
    const model: Record<string, unknown> = MODELS[name];
    expect(mail.text).not.toMatch(/&(amp|lt|gt|quot|#\d+);/);
    if ('link' in model || 'resetUrl' in model) {
      expect(mail.text).toContain(`\n${LINK}\n`);
      expect(mail.html).toContain('href="https://id.example.com/verify-email?token=Ab-_9&amp;next=&lt;x&gt;&quot;y&quot;"');
    }
    if ('newEmail' in model) {
      expect(mail.text).toContain('new<b>@example.com');
      expect(mail.html).toContain('new&lt;b&gt;@example.com');
    }
    expect(mail.html).not.toContain('&amp;amp;');
    expect(mail.html).not.toMatch(/<b>|<x>/);
  });

  it('says in the text part everything its HTML paragraphs say', () => {
    const paragraphs = [...mail.html.matchAll(/<p[^>]*>([^<]*)<\/p>/g)].map((match) => decode(match[1]!));
    expect(paragraphs.length).toBeGreaterThanOrEqual(2);
    for (const paragraph of paragraphs) expect(mail.text).toContain(paragraph);
  });
});

describe('mail models', () => {
  it('refuses a model without the fields its template needs', () => {
    expect(() => renderMail('verify-email', 'en', { link: LINK } as never)).toThrow(/hours/);
    expect(() => renderMail('reset-password', 'en', { link: 'javascript:alert(1)', minutes: 30 })).toThrow(/link must be an http\(s\) URL/);
    expect(() => renderMail('nope' as MailName, 'en', {} as never)).toThrow(/unknown mail/);
  });

  it('says whether two-step verification was turned on or off', () => {
    expect(renderMail('mfa-changed', 'en', { change: 'on', resetUrl: LINK }).text).toContain('turned on');
    expect(renderMail('mfa-changed', 'en', { change: 'off', resetUrl: LINK }).text).toContain('turned off');
    expect(renderMail('mfa-changed', 'en', { change: 'recovery', resetUrl: LINK }).text).toContain('recovery codes was just used');
    expect(() => renderMail('mfa-changed', 'en', { change: 'sideways', resetUrl: LINK })).toThrow();
  });

  it('spells durations in each language', () => {
    expect(renderMail('reset-password', 'en', { link: LINK, minutes: 30 }).text).toContain('expires in 30 minutes.');
    expect(renderMail('verify-email', 'ar', { link: LINK, hours: 2 }).text).toContain('ومدة صلاحيته ساعتان.');
  });
});
