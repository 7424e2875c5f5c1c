import type { limitsEn } from './limits.en.ts';

/** Arabic strings of the rate limits; typed so that every English key is present. */
export const limitsAr: Record<keyof typeof limitsEn, string> = {
  'errors.too_many_requests': 'محاولات كثيرة جدًّا. انتظر قليلًا ثم حاول مرة أخرى.',
};
