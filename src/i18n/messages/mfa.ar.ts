import type { mfaPagesEn } from './mfa.en.ts';

/** Arabic strings of the sign-in's second step; typed so that every English key is present. */
export const mfaPagesAr: Record<keyof typeof mfaPagesEn, string> = {
  'mfa.title': 'التحقق بخطوتين',
  'mfa.heading': 'أدخل رمز التحقق',
  'mfa.explain': 'افتح تطبيق المصادقة وأدخل الرمز المكوَّن من 6 أرقام الذي يعرضه لهذا الحساب، أو أحد رموز الاسترداد.',
  'mfa.code': 'رمز التحقق',
  'mfa.submit': 'تحقَّق',
  'mfa.wrongCode': 'هذا الرمز غير صحيح. تحقَّق من الوقت على هاتفك وجرِّب أحدث رمز.',
  'mfa.recovery.heading': 'رموز الاسترداد',
  'mfa.recovery.explain': 'إن فقدت هاتفك، فكل رمز من هذه الرموز يُدخلك مرة واحدة بدلًا من رمز التطبيق. احفظها في مكان آمن الآن: لن تُعرض إلا هذه المرة.',
  'mail.mfaChanged.recovery': 'استُخدم للتو أحد رموز الاسترداد لتسجيل الدخول إلى حسابك. يعمل كل رمز مرة واحدة؛ ويمكنك إنشاء مجموعة جديدة من صفحة أمان تسجيل الدخول (/account/security).',
  'mfa.recovery.regenerateExplain': 'فقدت رموز الاسترداد أو استخدمت عدة رموز منها؟ أنشئ مجموعة جديدة؛ وستتوقف الرموز القديمة عن العمل.',
  'mfa.recovery.regenerate': 'إنشاء رموز استرداد جديدة',
  'mfa.recovery.replaced': 'رموز الاسترداد الجديدة أدناه. لم تعد الرموز القديمة تعمل.',
  'errors.mfa_too_many_attempts': 'رموز خاطئة كثيرة. ارجع إلى التطبيق وسجِّل الدخول من جديد.',
  'errors.mfa_locked': 'قُفلت رموز تطبيق المصادقة بعد رموز خاطئة كثيرة. سجِّل الدخول من جديد وأدخِل أحد رموز الاسترداد بدلًا منها، ثم أعِد إعداد التطبيق من صفحة أمان تسجيل الدخول.',
  'mfa.enrol.title': 'إعداد التحقق بخطوتين',
  'mfa.enrol.heading': 'إعداد التحقق بخطوتين',
  'mfa.enrol.explain': 'يتطلب تسجيل الدخول هنا خطوة ثانية: رمزًا من تطبيق مصادقة على هاتفك. أعدَّه الآن؛ لن يستغرق أكثر من دقيقة.',
  'mfa.enrol.submit': 'التفعيل والمتابعة',
  'mfa.enrolled.title': 'التحقق بخطوتين مفعَّل',
  'mfa.enrolled.heading': 'التحقق بخطوتين مفعَّل',
  'mfa.enrolled.explain': 'من الآن فصاعدًا، يطلب تسجيل الدخول رمزًا من تطبيق المصادقة بعد كلمة المرور.',
  'mfa.enrolled.continue': 'متابعة',
};
