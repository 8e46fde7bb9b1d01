// The hosted pages' passkey steps, for forms marked data-passkey ("get": sign in, or the second
// step, with a passkey; "create": add one). The ceremony itself is @simplewebauthn/browser's
// (/ui/assets/webauthn.js, loaded just before). Everything else on the pages works without
// JavaScript. The form's fields (its CSRF token among them) go as JSON to data-options, which
// answers {options, challenge_id?}; the credential then goes with the same fields to the form's
// action, which answers {location} (where to go next) or {detail} (the API's message).
'use strict';
(() => {
  const webauthn = window.SimpleWebAuthnBrowser;
  const supported = Boolean(webauthn && webauthn.browserSupportsWebAuthn());
  const GENERIC = 'Something went wrong. Please try again.';

  /** A refusal worded by the server: shown as it is (`field`: the input it is about). */
  class Refusal extends Error {
    constructor(message, field) {
      super(message);
      this.field = field;
    }
  }

  /** Loads `location` (on this site only), even when it differs from this page only by its #fragment. */
  function go(location) {
    const target = new URL(location, window.location.href);
    const here = window.location;
    if (target.origin !== here.origin) throw new Refusal(GENERIC);
    if (target.pathname === here.pathname && target.search === here.search) {
      here.hash = target.hash;
      here.reload();
    } else {
      here.assign(target.href);
    }
  }

  /** Posts `body` as JSON: the answer, or {navigated: true} when it sent the browser elsewhere. */
  async function postJson(url, body) {
    const response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (typeof answer.location === 'string') {
      go(answer.location);
      return { navigated: true };
    }
    if (!response.ok) throw new Refusal(typeof answer.detail === 'string' ? answer.detail : GENERIC, answer.field);
    return answer;
  }

  /** What went wrong, in words: the server's own, or the browser's refusal explained. */
  function describe(error) {
    if (error instanceof Refusal) return error.message;
    switch (error && error.name) {
      case 'NotAllowedError':
      case 'AbortError':
        return 'The passkey request was cancelled or timed out. Try again when you are ready.';
      case 'InvalidStateError':
        return 'This device already holds a passkey for your account.';
      case 'SecurityError':
        return 'Passkeys are not available at this address.';
      default:
        return GENERIC;
    }
  }

  /** One ceremony; true when the browser is on its way to the next page. */
  async function runStep(form) {
    const fields = Object.fromEntries(new FormData(form));
    const started = await postJson(form.dataset.options, fields);
    if (started.navigated) return true;
    const response =
      form.dataset.passkey === 'create'
        ? await webauthn.startRegistration({ optionsJSON: started.options })
        : await webauthn.startAuthentication({ optionsJSON: started.options });
    const body = { ...fields, response };
    if (started.challenge_id) body.challenge_id = started.challenge_id;
    return Boolean((await postJson(form.action, body)).navigated);
  }

  for (const form of document.querySelectorAll('form[data-passkey]')) {
    const controls = form.querySelector('[data-passkey-controls]');
    const button = form.querySelector('[data-passkey-button]');
    const errorBox = form.querySelector('[data-passkey-error]');
    const progress = form.querySelector('[data-passkey-progress]');
    if (!supported) {
      form.querySelector('[data-passkey-unsupported]').hidden = false;
      form.addEventListener('submit', (event) => event.preventDefault());
      continue;
    }
    controls.hidden = false;
    let busy = false;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (busy) return;
      // aria-disabled, not disabled: a disabled button would drop the keyboard focus.
      busy = true;
      button.setAttribute('aria-disabled', 'true');
      errorBox.hidden = true;
      for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
      progress.textContent = form.dataset.passkey === 'create' ? 'Follow your browser’s steps to create the passkey…' : 'Waiting for your passkey…';
      let navigating = false;
      try {
        navigating = await runStep(form);
      } catch (error) {
        progress.textContent = '';
        errorBox.textContent = describe(error);
        errorBox.hidden = false;
        const field = error instanceof Refusal && error.field ? form.elements.namedItem(error.field) : null;
        if (field) {
          field.setAttribute('aria-invalid', 'true');
          const described = (field.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
          if (!described.includes(errorBox.id)) field.setAttribute('aria-describedby', [...described, errorBox.id].join(' '));
        }
        errorBox.focus();
      } finally {
        if (!navigating) {
          busy = false;
          button.removeAttribute('aria-disabled');
        }
      }
    });
  }
})();
