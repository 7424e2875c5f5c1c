// The recovery-codes page's Copy button (views/account-settings/totp-on.pug). The button is hidden in the
// markup and shown here only when the Clipboard API exists (it needs a secure context), so a page
// without JavaScript or without a clipboard never offers a button that does nothing. Loaded as a module
// with the page's CSP nonce: it runs deferred, in its own scope, and not at all in browsers too old for it.
/* global document, navigator */
const button = document.getElementById('copy-codes');
const status = document.getElementById('copy-status');
if (button && status && navigator.clipboard) {
  button.hidden = false;
  button.addEventListener('click', async () => {
    const codes = [...document.querySelectorAll('#recovery-codes code')].map((code) => code.textContent.trim());
    // Emptied first, so pressing twice announces "Copied" twice.
    status.textContent = '';
    try {
      await navigator.clipboard.writeText(`${codes.join('\n')}\n`);
      status.textContent = button.dataset.copied;
    } catch {
      status.textContent = button.dataset.failed;
    }
  });
}
