import type { Locale } from './locales.ts';
import { ar } from './messages/ar.ts';
import { en, type MessageKey, type Messages } from './messages/en.ts';

export type { MessageKey, Messages };

const CATALOGUES: Record<Locale, Messages> = { en, ar };

export type MessageParams = Record<string, string | number>;
export type Translate = (key: MessageKey, params?: MessageParams) => string;

/** For keys built at run time (`errors.${code}`): own properties only, so 'errors.constructor' is not one. */
export function isMessageKey(key: string): key is MessageKey {
  return Object.hasOwn(en, key);
}

/**
 * `t(key, params)` for one language. `{name}` is replaced by `params.name` as plain text: nothing here
 * escapes or marks up, so a value must be output by pug's escaping `=` / `#{}` (never `!=`).
 * A placeholder without a value stays as written, which lets a view split a message around it.
 */
export function translator(locale: Locale): Translate {
  const messages = CATALOGUES[locale];
  return (key, params) =>
    messages[key].replace(/\{(\w+)\}/g, (whole, name: string) =>
      params && Object.hasOwn(params, name) ? String(params[name]) : whole,
    );
}

/** The catalogue key for an error code shown on a page, or the generic message for codes without one. */
export function errorMessageKey(code: string): MessageKey {
  const key = `errors.${code}`;
  return isMessageKey(key) ? key : 'errors.generic';
}
