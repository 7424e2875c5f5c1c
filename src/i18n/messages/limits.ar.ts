import type { limitsEn } from './limits.en.ts';

/** Arabic strings of the rate limits and the sign-in lock; typed so that every English key is present. */
export const limitsAr: Record<keyof typeof limitsEn, string> = {
  'errors.too_many_requests': 'محاولات كثيرة جدًّا. انتظر قليلًا ثم حاول مرة أخرى.',
  'errors.busy': 'الخدمة مشغولة الآن. حاول مرة أخرى بعد ثوانٍ.',
  'errors.rate_limit_unavailable': 'تسجيل الدخول غير ممكن الآن. حاول مرة أخرى بعد بضع دقائق.',
  'mail.accountLocked.subject': 'تم قفل تسجيل الدخول إلى حسابك بكلمة المرور',
  'mail.accountLocked.intro': 'أدخل أحدهم كلمة مرور خاطئة لحسابك {count} مرة متتالية، لذلك قُفل تسجيل الدخول بكلمة مرورك. لم تنجح أيٌّ من هذه المحاولات، ولم يتغيَّر شيء آخر.',
  'mail.accountLocked.action': 'اختر كلمة مرور جديدة لفتح القفل',
  'mail.accountLocked.reset': 'اختيار كلمة مرور جديدة يفتح قفل حسابك. ويمكنك أيضًا أن تطلب من القائمين على هذه الخدمة فتحه.',
  'mail.accountLocked.notYou': 'إذا لم تكن هذه المحاولات منك، فقد يحاول أحدهم تخمين كلمة مرورك: اختر كلمة مرور طويلة لا تستخدمها في أي مكان آخر.',
};
