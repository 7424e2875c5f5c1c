/** The languages the pages are written in; DEFAULT_LOCALE in the config is one of these. */
export const SUPPORTED_LOCALES = ['en', 'ar'] as const;
export type Locale = (typeof SUPPORTED_LOCALES)[number];

export function isLocale(value: unknown): value is Locale {
  return SUPPORTED_LOCALES.includes(value as Locale);
}

export function directionOf(locale: Locale): 'ltr' | 'rtl' {
  return locale === 'ar' ? 'rtl' : 'ltr';
}

/** A BCP 47 tag matches by its primary language subtag only (ar-EG → ar): we have one Arabic, one English. */
export function matchLocale(tag: string): Locale | undefined {
  const primary = tag.trim().toLowerCase().split('-')[0];
  return SUPPORTED_LOCALES.find((locale) => locale === primary);
}

// RFC 9110 §12.5.4 language-range and weight; anything else in an entry makes us ignore that entry.
const RANGE = /^(?:[a-z]{1,8}(?:-[a-z0-9]{1,8})*|\*)$/i;
const WEIGHT = /^q=(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/i;
/** Headers are capped by Node at 16 KiB; this bounds the work anyway (browsers send a handful). */
const MAX_RANGES = 32;

/**
 * The language ranges of an Accept-Language header, most preferred first (ties keep header order).
 * Malformed entries and q=0 ("not acceptable") are dropped; a wholly malformed header yields [].
 */
export function parseAcceptLanguage(header: string | undefined): string[] {
  if (!header) return [];
  const ranges: { tag: string; q: number; index: number }[] = [];
  for (const [index, entry] of header.split(',').slice(0, MAX_RANGES).entries()) {
    const [tag = '', ...params] = entry.split(';').map((part) => part.trim());
    if (!RANGE.test(tag) || params.length > 1) continue;
    const weight = params[0];
    if (weight !== undefined && !WEIGHT.test(weight)) continue;
    const q = weight === undefined ? 1 : Number(weight.slice(2));
    if (q > 0) ranges.push({ tag, q, index });
  }
  return ranges.sort((a, b) => b.q - a.q || a.index - b.index).map((range) => range.tag);
}

/** The first supported tag of an OIDC `ui_locales` value (space-separated, in order of preference). */
export function pickUiLocale(uiLocales: string | undefined): Locale | undefined {
  for (const tag of (uiLocales ?? '').split(/\s+/)) {
    const locale = tag ? matchLocale(tag) : undefined;
    if (locale) return locale;
  }
  return undefined;
}

/**
 * The language of a page: the application's explicit `ui_locales` wins (OIDC Core §3.1.2.1), then the
 * browser's Accept-Language, then the configured default.
 */
export function negotiateLocale(input: { uiLocales?: string | undefined; acceptLanguage?: string | undefined; fallback: Locale }): Locale {
  const fromUi = pickUiLocale(input.uiLocales);
  if (fromUi) return fromUi;
  for (const tag of parseAcceptLanguage(input.acceptLanguage)) {
    const locale = tag === '*' ? undefined : matchLocale(tag);
    if (locale) return locale;
  }
  return input.fallback;
}
