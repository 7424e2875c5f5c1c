import { describe, expect, it } from '@jest/globals';
import { createRenderer } from '../../src/http/render.ts';
import { directionOf, negotiateLocale, parseAcceptLanguage } from '../../src/i18n/locales.ts';
import { ar } from '../../src/i18n/messages/ar.ts';
import { en } from '../../src/i18n/messages/en.ts';
import { errorMessageKey, translator, type Messages } from '../../src/i18n/translate.ts';
import { describeClaims, describeScopes } from '../../src/interactions/scopes.ts';

// Compile-time guarantees (checked by `npm run typecheck`, which covers test/): a catalogue with a
// missing key or an extra key is a type error.
// @ts-expect-error 'login.heading' and every other key are missing
const missing: Messages = { 'layout.skip': 'x' };
// @ts-expect-error 'login.headline' is not a key of the English catalogue
const extra: Messages = { ...en, 'login.headline': 'x' };
void missing;
void extra;

describe('negotiateLocale', () => {
  it.each([
    ['ui_locales wins over Accept-Language', { uiLocales: 'ar', acceptLanguage: 'en' }, 'ar'],
    ['the first supported ui_locales tag wins', { uiLocales: 'fr-CA ar-EG en', acceptLanguage: 'en' }, 'ar'],
    ['unsupported ui_locales fall through to Accept-Language', { uiLocales: 'fr de', acceptLanguage: 'ar' }, 'ar'],
    ['a region maps to its language', { acceptLanguage: 'ar-EG;q=0.9, en;q=0.8' }, 'ar'],
    ['the highest q wins, not the first listed', { acceptLanguage: 'en;q=0.5, ar' }, 'ar'],
    ['equal q keeps header order', { acceptLanguage: 'ar;q=0.7, en;q=0.7' }, 'ar'],
    ['unsupported languages are skipped', { acceptLanguage: 'fr-FR, de;q=0.9, en;q=0.1' }, 'en'],
    ['q=0 means "not this one"', { acceptLanguage: 'en;q=0, ar;q=0.1' }, 'ar'],
    ['only unsupported languages: the default', { acceptLanguage: 'fr, de' }, 'ar'],
    ['nothing at all: the default', {}, 'ar'],
    ['a wildcard is not a choice: the default', { acceptLanguage: '*' }, 'ar'],
    ['malformed header: the default', { acceptLanguage: ';;;,,,q=1' }, 'ar'],
    ['a header that is not a list at all: the default', { acceptLanguage: '\u0000en\n' }, 'ar'],
    ['malformed weights: those entries are ignored', { acceptLanguage: 'en;q=high, en-GB;q=2' }, 'ar'],
    ['garbage tags: the default', { acceptLanguage: 'en_US!, <script>en' }, 'ar'],
    ['a language that only starts like ar is not ar', { acceptLanguage: 'arn, en' }, 'en'],
    ['empty ui_locales is ignored', { uiLocales: '   ', acceptLanguage: 'en' }, 'en'],
  ])('%s', (_name, input, expected) => {
    expect(negotiateLocale({ ...input, fallback: 'ar' })).toBe(expected);
  });

  it('uses the configured default when it is English too', () => {
    expect(negotiateLocale({ acceptLanguage: 'fr', fallback: 'en' })).toBe('en');
  });

  it('parses Accept-Language into ranges by preference', () => {
    expect(parseAcceptLanguage('da, en-GB;q=0.8, en;q=0.7, *;q=0.1')).toEqual(['da', 'en-GB', 'en', '*']);
    expect(parseAcceptLanguage(' ar-EG ; q=0.9 ,en;q=1.0')).toEqual(['en', 'ar-EG']);
    expect(parseAcceptLanguage('en;q=0.5;x=1, ar;q=1.5, fr;q=0.333')).toEqual(['fr']);
    expect(parseAcceptLanguage(undefined)).toEqual([]);
  });

  it('writes Arabic right to left', () => {
    expect(directionOf('ar')).toBe('rtl');
    expect(directionOf('en')).toBe('ltr');
  });
});

describe('catalogues', () => {
  const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();

  it('Arabic has exactly the English keys, each translated with the same placeholders', () => {
    expect(Object.keys(ar).sort()).toEqual(Object.keys(en).sort());
    for (const [key, english] of Object.entries(en)) {
      const arabic = ar[key as keyof typeof en];
      expect({ key, empty: arabic.trim() === '' }).toEqual({ key, empty: false });
      expect({ key, placeholders: placeholders(arabic) }).toEqual({ key, placeholders: placeholders(english) });
    }
  });

  it('Arabic strings are in Arabic script (no English left untranslated)', () => {
    const untranslated = Object.entries(ar).filter(([, text]) => !/[\u0600-\u06FF]/.test(text));
    expect(untranslated).toEqual([]);
  });
});

describe('translator', () => {
  it('fills {placeholders} as plain text and escapes nothing itself', () => {
    const t = translator('en');
    expect(t('consent.heading', { name: '<script>x</script>' })).toBe('Allow <script>x</script> to access your account?');
    expect(translator('ar')('loggedOut.fromClient', { name: 'Alpha' })).toBe('لقد سجَّلت الخروج من Alpha.');
  });

  it('leaves a placeholder without a value as written', () => {
    expect(translator('en')('login.continueTo')).toBe('to continue to {name}');
  });

  it('finds error messages by code, and a generic one for unknown codes', () => {
    expect(translator('en')(errorMessageKey('interaction_expired'))).toBe(
      'This sign-in request has expired. Go back to the application and start again.',
    );
    expect(errorMessageKey('no_such_code')).toBe('errors.generic');
    expect(errorMessageKey('constructor')).toBe('errors.generic');
  });

  it('describes scopes and claims in the page language', () => {
    const t = translator('ar');
    expect(describeScopes(['openid', 'payments', 'constructor'], t)).toEqual([
      'معرفة هويتك عند تسجيل الدخول',
      'استخدام الصلاحية «payments»',
      'استخدام الصلاحية «constructor»',
    ]);
    expect(describeClaims(['sub', 'email', 'shoe_size'], translator('en'))).toEqual(['Your email address', 'Your "shoe_size" information']);
  });
});

describe('pages escape what the catalogue inserts', () => {
  const render = createRenderer({ cache: false });
  const hostile = '<script>alert(1)</script>';
  const client = { name: hostile, clientUri: 'https://app.example' };

  it.each(['en', 'ar'] as const)('a client named with markup comes out as text (%s)', (locale) => {
    const login = render('interaction/login', { title: 'login.title', locale, uid: 'u', csrf: 'c', email: '', client });
    const consent = render('interaction/consent', {
      title: 'consent.title', locale, uid: 'u', csrf: 'c', accountEmail: '"><img src=x>', scopes: [], claims: [], client,
    });
    for (const html of [login, consent]) {
      expect(html).not.toContain('<script>alert');
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    }
    expect(consent).not.toContain('<img src=x>');
    expect(login).toContain(`<html lang="${locale}" dir="${directionOf(locale)}">`);
  });
});
