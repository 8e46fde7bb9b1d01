// Passkey steps of the hosted pages (issue 14 fills this in): the only script the pages load.
// It reveals the buttons marked data-passkey-* when the browser supports WebAuthn.
if (window.PublicKeyCredential) {
  for (const button of document.querySelectorAll('[data-passkey-sign-in]')) button.hidden = false;
}
