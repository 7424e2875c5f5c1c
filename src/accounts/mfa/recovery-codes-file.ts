import type { Locale } from '../../i18n/locales.ts';
import { translator } from '../../i18n/translate.ts';
import { totpIssuerName } from './authenticator-setup.ts';

/**
 * The recovery codes as a text file in a data: URL, for a `download` link that works without JavaScript:
 * a header line naming this deployment and the day (so a saved file says what it is for), then one code
 * a line. Nothing is stored or served for it: the file lives only in the one (no-store) page that shows
 * the codes.
 */
export function recoveryCodesFile(issuer: string, today: Date, codes: readonly string[], locale: Locale): string {
  const header = translator(locale)('settings.recoveryCodes.fileHeader', { host: totpIssuerName(issuer), date: today.toISOString().slice(0, 10) });
  return `data:text/plain;charset=utf-8,${encodeURIComponent([header, ...codes, ''].join('\n'))}`;
}
