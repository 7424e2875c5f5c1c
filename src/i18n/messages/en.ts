import { upstreamEn } from './upstream.en.ts';
import { accountPagesEn } from './accounts.en.ts';
import { mfaPagesEn } from './mfa.en.ts';
import { passkeysEn } from './passkeys.en.ts';
import { settingsPagesEn } from './settings.en.ts';
import { limitsEn } from './limits.en.ts';

/**
 * English, the reference catalogue: its keys are the `MessageKey` type, and every other language must
 * have exactly these keys (ar.ts is typed `Messages`, so a missing or extra key fails the build).
 * `{name}` placeholders are filled by `t(key, params)` as plain text; pug escapes the result.
 * Some strings are relied on by tests and password managers ('Sign in', 'Email', 'Password'): change
 * them together with the tests.
 */
export const en = {
  'layout.skip': 'Skip to content',

  'login.title': 'Sign in',
  'login.heading': 'Sign in',
  'login.continueTo': 'to continue to {name}',
  'login.email': 'Email',
  'login.password': 'Password',
  'login.remember': 'Keep me signed in on this device',
  'login.submit': 'Sign in',
  'login.cancel': 'Cancel and go back',
  'login.failed': 'Email or password is incorrect.',

  'consent.title': 'Allow access',
  'consent.heading': 'Allow {name} to access your account?',
  'consent.wants': '{name} wants to:',
  'consent.about': 'About {name}',
  'consent.privacy': 'Privacy policy',
  'consent.terms': 'Terms of service',
  'consent.signedInAs': 'Signed in as {email}.',
  'consent.notYou': 'Not you? Sign out',
  'consent.allow': 'Allow',
  'consent.deny': 'Deny',

  // What each scope and claim lets an application do, in plain words (see interactions/scopes.ts).
  'scope.openid': 'Know who you are when you sign in',
  'scope.email': 'See your email address and whether it is verified',
  'scope.profile': 'See your name',
  'scope.offline_access': 'Stay connected when you are not using it',
  'scope.roles': 'See your roles and the permissions they give you',
  'scope.unknown': 'Use the "{scope}" permission',
  'claim.sub': 'Your account identifier',
  'claim.email': 'Your email address',
  'claim.email_verified': 'Whether your email address is verified',
  'claim.name': 'Your name',
  'claim.roles': 'Your roles',
  'claim.permissions': 'Your permissions',
  'claim.unknown': 'Your "{claim}" information',

  'logout.title': 'Sign out',
  'logout.heading': 'Sign out?',
  'logout.askedBy': '{name} asked to sign you out.',
  'logout.confirm': 'Yes, sign me out',
  'logout.stay': 'No, stay signed in',
  'loggedOut.title': 'Signed out',
  'loggedOut.heading': 'You are signed out',
  'loggedOut.fromClient': 'You have signed out of {name}.',
  'loggedOut.done': 'You have signed out.',

  'error.title': 'Error',
  'error.heading.400': 'That did not work',
  'error.heading.403': 'Not allowed',
  'error.heading.404': 'Page not found',
  'error.heading.429': 'Too many attempts',
  'error.heading.500': 'Something went wrong',
  'error.heading.503': 'Temporarily unavailable',
  'error.heading.protocol': 'The sign-in request could not be completed',
  'error.code': 'Error code:',
  'error.requestId': 'Request id:',
  'error.details': 'Details:',

  // errors.<code>: what the error page says for an error code (AppError codes and oidc-provider's).
  'errors.generic': 'The request could not be completed. Go back and try again.',
  'errors.server_error': 'Something went wrong on our side. Please try again.',
  'errors.temporarily_unavailable': 'The service is temporarily unavailable. Please try again in a moment.',
  'errors.not_found': 'The page you asked for does not exist.',
  'errors.invalid_request': 'The request was not valid. Go back and try again.',
  'errors.form_invalid': 'The form was not filled in as expected. Please try again.',
  'errors.wrong_stage': 'This step of the sign-in is not available now. Go back and start again.',
  'errors.interaction_expired': 'This sign-in request has expired. Go back to the application and start again.',
  'errors.cross_site_request': 'This form was sent from another site, so it was not accepted. Go back and try again.',
  'errors.csrf_token_invalid': 'This form has expired or was not sent from this page. Go back, reload the page and try again.',
  'errors.invalid_client': 'The application that sent you here is not registered with Gatehouse.',
  'errors.invalid_redirect_uri': 'The application asked to send you back to an address it has not registered.',
  'errors.unauthorized_client': 'This application is not allowed to make this request.',

  // Why a new password was refused (src/security/password-policy.ts): say what to do, never list rules.
  'password.too_short': 'Use at least {min} characters. A few unrelated words make a strong, memorable password.',
  'password.too_long': 'This password is too long. Use at most {max} characters.',
  'password.blocklisted': 'This password is too common and easy to guess. Choose something unique, such as a few unrelated words.',
  'password.context': 'This password is too close to your email address, your name or the name of this service. Add some unrelated words.',
  'password.breached': 'This password has appeared in a data breach, so attackers try it first. Choose a different one, and change it anywhere else you use it.',

  // The demo pages stay English-only; only their window title comes from here.
  'demo.title': 'Demo app',
  // mail.*: the mails (views/mail/, src/mail/templates.ts) and the development outbox page. Mail strings
  // are also the plain-text part, so they hold no markup; {duration} is a localized "30 minutes" (in Arabic
  // the nominative form, so it must stand where the nominative is right, not after a preposition).
  'mail.footer': 'This message was sent automatically by the sign-in service. Replies are not read.',
  'mail.linkFallback': 'If the button does not work, copy this address into your browser:',
  'mail.expiry': 'The link works once and expires in {duration}.',
  'mail.verifyEmail.subject': 'Confirm your email address',
  'mail.verifyEmail.intro': 'Someone, hopefully you, created an account with this email address. Confirm that the address is yours to finish.',
  'mail.verifyEmail.action': 'Confirm my email address',
  'mail.verifyEmail.ignore': 'If you did not create an account, you can ignore this message.',
  'mail.accountExists.subject': 'Someone tried to create an account with your address',
  'mail.accountExists.intro': 'Someone tried to create a new account with this email address, but the address already has an account. No new account was created.',
  'mail.accountExists.signIn': 'If it was you, sign in from the application as usual. Forgot your password? Choose a new one:',
  'mail.accountExists.action': 'Reset my password',
  'mail.accountExists.ignore': 'If it was not you, you can ignore this message: nothing has changed in your account.',
  'mail.resetPassword.subject': 'Reset your password',
  'mail.resetPassword.intro': 'Someone asked to reset the password of the account with this email address.',
  'mail.resetPassword.action': 'Choose a new password',
  'mail.resetPassword.ignore': 'If you did not ask for this, ignore this message: your password stays as it is.',
  'mail.passwordChanged.subject': 'Your password was changed',
  'mail.passwordChanged.intro': 'The password of your account has been changed.',
  'mail.passwordChanged.notYou': 'If you did not change it, someone else may know your password. Choose a new one right away:',
  'mail.passwordChanged.action': 'Reset my password',
  'mail.passwordChanged.contact': 'Then tell the people who run this service, so they can check your account.',
  'mail.emailChangeVerify.subject': 'Confirm your new email address',
  'mail.emailChangeVerify.intro': 'You asked to use this address ({email}) as the email address of your account. Confirm it to finish the change.',
  'mail.emailChangeVerify.action': 'Confirm the new address',
  'mail.emailChangeVerify.ignore': 'If you did not ask for this, ignore this message: the account keeps its current address.',
  'mail.emailChanged.subject': 'The email address of your account was changed',
  'mail.emailChanged.intro': 'The email address of your account was changed to {email}. From now on, messages about your account go to that address.',
  'mail.emailChanged.notYou': 'If you did not make this change, someone else may have access to your account. Contact the people who run this service right away: mail to this address no longer reaches the account.',
  'mail.devOutbox.title': 'Outbox (development)',
  'mail.devOutbox.explain': 'The newest mail Gatehouse has queued. Without SMTP_URL nothing leaves this machine: follow the links here instead.',
  'mail.devOutbox.empty': 'No mail yet.',
  'mail.devOutbox.to': 'To',
  'mail.devOutbox.created': 'Queued',
  'mail.devOutbox.status': 'Status',
  'mail.devOutbox.sent': 'Sent',
  'mail.devOutbox.failed': 'Gave up',
  'mail.devOutbox.pending': 'Waiting (attempts so far: {attempts})',
  'mail.devOutbox.lastError': 'Last error',
  'mail.devOutbox.links': 'Links in this mail',

  ...accountPagesEn,
  ...settingsPagesEn,
  ...limitsEn,
  ...mfaPagesEn,
  ...passkeysEn,
  ...upstreamEn,
};

export type MessageKey = keyof typeof en;
/** The shape every catalogue must have: exactly the English keys, each a string. */
export type Messages = Record<MessageKey, string>;
