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
  'scope.unknown': 'Use the "{scope}" permission',
  'claim.sub': 'Your account identifier',
  'claim.email': 'Your email address',
  'claim.email_verified': 'Whether your email address is verified',
  'claim.name': 'Your name',
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
  'error.heading.protocol': 'The sign-in request could not be completed',
  'error.code': 'Error code:',
  'error.requestId': 'Request id:',
  'error.details': 'Details:',

  // errors.<code>: what the error page says for an error code (AppError codes and oidc-provider's).
  'errors.generic': 'The request could not be completed. Go back and try again.',
  'errors.server_error': 'Something went wrong on our side. Please try again.',
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

  // The demo pages stay English-only; only their window title comes from here.
  'demo.title': 'Demo app',
};

export type MessageKey = keyof typeof en;
/** The shape every catalogue must have: exactly the English keys, each a string. */
export type Messages = Record<MessageKey, string>;
