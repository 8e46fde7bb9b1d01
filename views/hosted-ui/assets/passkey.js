// The hosted pages' only script: the WebAuthn steps of forms marked data-passkey ("get": sign
// in or the second step with a passkey; "create": add one). Everything else works without
// JavaScript. The form's fields (its CSRF token among them) go as JSON to data-options, which
// answers {options, challenge_id?}; the browser's credential then goes with the same fields to
// the form's action, which answers {location} (where to go next) or {detail} (what went wrong).
'use strict';

const supported =
  typeof window.PublicKeyCredential === 'function' &&
  typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function' &&
  typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function' &&
  typeof PublicKeyCredential.prototype.toJSON === 'function';

async function postJson(url, body) {
  const response = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (answer.location) {
    go(answer.location);
    return null;
  }
  if (!response.ok) throw new Error(answer.detail || 'Something went wrong on our side. Please try again.');
  return answer;
}

/** Loads `location`, even when it differs from this page only by its #fragment. */
function go(location) {
  const target = new URL(location, window.location.href);
  const here = window.location;
  if (target.pathname === here.pathname && target.search === here.search) {
    here.hash = target.hash;
    here.reload();
  } else {
    here.assign(target.href);
  }
}

/** What the browser's own refusals mean to a person. */
function describe(error) {
  if (error && error.name === 'NotAllowedError') return 'The passkey request was cancelled or timed out. Try again when you are ready.';
  if (error && error.name === 'InvalidStateError') return 'This device already holds a passkey for your account.';
  if (error && error.name === 'SecurityError') return 'Passkeys are not available on this address.';
  return (error && error.message) || 'Something went wrong. Please try again.';
}

async function runStep(form) {
  const fields = Object.fromEntries(new FormData(form));
  const started = await postJson(form.dataset.options, fields);
  if (!started) return;
  const credential =
    form.dataset.passkey === 'create'
      ? await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(started.options) })
      : await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(started.options) });
  const body = { ...fields, response: credential.toJSON() };
  if (started.challenge_id) body.challenge_id = started.challenge_id;
  await postJson(form.action, body);
}

for (const form of document.querySelectorAll('form[data-passkey]')) {
  const button = form.querySelector('[data-passkey-button]');
  const errorBox = form.querySelector('[data-passkey-error]');
  if (!supported) {
    form.querySelector('[data-passkey-unsupported]').hidden = false;
    continue;
  }
  button.hidden = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    errorBox.hidden = true;
    try {
      await runStep(form);
    } catch (error) {
      errorBox.textContent = describe(error);
      errorBox.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
}
