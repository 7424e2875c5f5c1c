// Passkey forms on the sign-in, second-step and security pages (views/passkey-mixins.pug). Each form is
// `hidden` in the markup and shown here only when the browser can do WebAuthn, so a page without
// JavaScript (or without WebAuthn) offers only what works there: the password, code and recovery-code
// forms. Needs @simplewebauthn/browser, loaded just before this file (/assets/webauthn.js, same nonce).
//
// A form's submit: POST its fields to data-passkey-options (JSON back: the ceremony's options, with a
// challenge the server bound to this sign-in or account), run the browser's ceremony, put the response
// in the form's `response` field and submit the form for real, so the server answers with its usual
// redirect or page.
/* global window, document, FormData, URLSearchParams */
(function () {
  'use strict';
  const webauthn = window.SimpleWebAuthnBrowser;
  if (!webauthn || !webauthn.browserSupportsWebAuthn()) return;

  async function ceremony(form) {
    const body = new URLSearchParams(new FormData(form));
    const answer = await fetch(form.dataset.passkeyOptions, {
      method: 'POST',
      body,
      headers: { accept: 'application/json' },
      credentials: 'same-origin',
    });
    const json = await answer.json().catch(() => ({}));
    // The server says why in the page's language when it can (e.g. a wrong current password).
    if (!answer.ok) throw Object.assign(new Error('options refused'), { shown: json.message });
    return form.dataset.passkeyCeremony === 'register'
      ? webauthn.startRegistration({ optionsJSON: json })
      : webauthn.startAuthentication({ optionsJSON: json });
  }

  // What the page says to browsers that cannot add or use a passkey.
  for (const note of document.querySelectorAll('[data-passkey-fallback]')) note.hidden = true;

  for (const form of document.querySelectorAll('form[data-passkey-options]')) {
    const status = form.querySelector('[data-passkey-status]');
    const button = form.querySelector('button[type=submit]');
    form.hidden = false;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      status.textContent = '';
      button.disabled = true;
      try {
        const response = await ceremony(form);
        form.elements.response.value = JSON.stringify(response);
        // Passwordless from the sign-in page: "remember me" is the checkbox of the password form.
        const remember = document.getElementById('remember');
        if (remember && form.elements.remember) form.elements.remember.disabled = !remember.checked;
        // The password only unlocked the options; the server needs it no more.
        for (const field of form.querySelectorAll('input[type=password]')) field.disabled = true;
        form.submit();
      } catch (error) {
        // NotAllowedError: the person cancelled, or the authenticator timed out or had no passkey here.
        status.textContent = error.shown || (error.name === 'NotAllowedError' ? form.dataset.cancelled : form.dataset.failed);
        button.disabled = false;
      }
    });
  }
})();
