import type { Messages } from './en.ts';

/**
 * Modern Standard Arabic. Typed `Messages`: the compiler refuses a missing or an extra key. Second-person
 * forms use the conventional masculine of interface text. Arabic quotation marks « » around identifiers.
 */
export const ar: Messages = {
  'layout.skip': 'انتقل إلى المحتوى',

  'login.title': 'تسجيل الدخول',
  'login.heading': 'تسجيل الدخول',
  'login.continueTo': 'للمتابعة إلى {name}',
  'login.email': 'البريد الإلكتروني',
  'login.password': 'كلمة المرور',
  'login.remember': 'أبقِني مسجَّل الدخول على هذا الجهاز',
  'login.submit': 'تسجيل الدخول',
  'login.cancel': 'إلغاء والعودة',
  'login.failed': 'البريد الإلكتروني أو كلمة المرور غير صحيحة.',

  'consent.title': 'السماح بالوصول',
  'consent.heading': 'هل تسمح للتطبيق {name} بالوصول إلى حسابك؟',
  'consent.wants': 'يطلب {name} الإذن بما يلي:',
  'consent.about': 'نبذة عن {name}',
  'consent.privacy': 'سياسة الخصوصية',
  'consent.terms': 'شروط الخدمة',
  'consent.signedInAs': 'أنت مسجَّل الدخول بالحساب {email}.',
  'consent.notYou': 'لستَ أنت؟ سجِّل الخروج',
  'consent.allow': 'السماح',
  'consent.deny': 'الرفض',

  'scope.openid': 'معرفة هويتك عند تسجيل الدخول',
  'scope.email': 'الاطلاع على عنوان بريدك الإلكتروني وما إذا كان موثَّقًا',
  'scope.profile': 'الاطلاع على اسمك',
  'scope.offline_access': 'البقاء متصلًا بحسابك حتى عندما لا تستخدمه',
  'scope.unknown': 'استخدام الصلاحية «{scope}»',
  'claim.sub': 'معرِّف حسابك',
  'claim.email': 'عنوان بريدك الإلكتروني',
  'claim.email_verified': 'ما إذا كان عنوان بريدك الإلكتروني موثَّقًا',
  'claim.name': 'اسمك',
  'claim.unknown': 'بياناتك في الحقل «{claim}»',

  'logout.title': 'تسجيل الخروج',
  'logout.heading': 'هل تريد تسجيل الخروج؟',
  'logout.askedBy': 'طلب {name} تسجيل خروجك.',
  'logout.confirm': 'نعم، سجِّل خروجي',
  'logout.stay': 'لا، أبقِني مسجَّل الدخول',
  'loggedOut.title': 'تم تسجيل الخروج',
  'loggedOut.heading': 'تم تسجيل خروجك',
  'loggedOut.fromClient': 'لقد سجَّلت الخروج من {name}.',
  'loggedOut.done': 'لقد سجَّلت الخروج بنجاح.',

  'error.title': 'خطأ',
  'error.heading.400': 'تعذَّر إتمام ذلك',
  'error.heading.403': 'غير مسموح',
  'error.heading.404': 'الصفحة غير موجودة',
  'error.heading.429': 'محاولات كثيرة جدًّا',
  'error.heading.500': 'حدث خطأ ما',
  'error.heading.protocol': 'تعذَّر إكمال طلب تسجيل الدخول',
  'error.code': 'رمز الخطأ:',
  'error.requestId': 'معرِّف الطلب:',
  'error.details': 'التفاصيل:',

  'errors.generic': 'تعذَّر إكمال الطلب. ارجع وحاول مرة أخرى.',
  'errors.server_error': 'حدث خطأ من جهتنا. يُرجى المحاولة مرة أخرى.',
  'errors.not_found': 'الصفحة التي طلبتها غير موجودة.',
  'errors.invalid_request': 'الطلب غير صالح. ارجع وحاول مرة أخرى.',
  'errors.form_invalid': 'لم يُملأ النموذج على النحو المتوقع. يُرجى المحاولة مرة أخرى.',
  'errors.wrong_stage': 'هذه الخطوة من تسجيل الدخول غير متاحة الآن. ارجع وابدأ من جديد.',
  'errors.interaction_expired': 'انتهت صلاحية طلب تسجيل الدخول هذا. ارجع إلى التطبيق وابدأ من جديد.',
  'errors.cross_site_request': 'أُرسل هذا النموذج من موقع آخر، لذا لم يُقبل. ارجع وحاول مرة أخرى.',
  'errors.csrf_token_invalid': 'انتهت صلاحية هذا النموذج أو لم يُرسَل من هذه الصفحة. ارجع وأعد تحميل الصفحة ثم حاول مرة أخرى.',
  'errors.invalid_client': 'التطبيق الذي أرسلك إلى هنا غير مسجَّل لدى Gatehouse.',
  'errors.invalid_redirect_uri': 'طلب التطبيق إعادتك إلى عنوان لم يسجِّله.',
  'errors.unauthorized_client': 'لا يُسمح لهذا التطبيق بتقديم هذا الطلب.',

  'demo.title': 'التطبيق التجريبي',
};
