// WebAuthn's relying party from the environment, and the per-IP limit of POST /auth/mfa/verify
// (shared with the hosted pages' second step).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config.js';
import { passkeysOffered } from '../src/modules/hosted-ui/passkey-pages.js';
import { startTestApp } from './helpers/app.js';
import { PageClient } from './helpers/page-client.js';

describe('WebAuthn configuration', () => {
  it('defaults from FRONTEND_URL', () => {
    const config = loadConfig({ FRONTEND_URL: 'https://app.example.com/' });
    assert.deepEqual(config.webauthn, { rpId: 'app.example.com', rpName: 'Keyhold', origins: ['https://app.example.com'] });
  });

  it('takes WEBAUTHN_RP_ID, WEBAUTHN_RP_NAME and WEBAUTHN_ORIGINS (origins on the RP ID or below it)', () => {
    const config = loadConfig({
      FRONTEND_URL: 'https://app.example.com',
      WEBAUTHN_RP_ID: 'example.com',
      WEBAUTHN_RP_NAME: 'Example',
      WEBAUTHN_ORIGINS: 'https://app.example.com,https://example.com/login',
    });
    assert.deepEqual(config.webauthn, { rpId: 'example.com', rpName: 'Example', origins: ['https://app.example.com', 'https://example.com'] });
  });

  it('accepts the hosted pages\' origin too when it is on the RP ID; the pages offer passkeys only then', () => {
    const shared = loadConfig({ HOSTED_UI_ENABLED: 'true', PUBLIC_URL: 'https://auth.example.com', FRONTEND_URL: 'https://app.example.com', WEBAUTHN_RP_ID: 'example.com' });
    assert.deepEqual(shared.webauthn.origins, ['https://app.example.com', 'https://auth.example.com']);
    assert.equal(passkeysOffered({ config: shared }), true);
    // The RP ID is the front end's own host: the pages on another host cannot use it.
    const apart = loadConfig({ HOSTED_UI_ENABLED: 'true', PUBLIC_URL: 'https://auth.example.com', FRONTEND_URL: 'https://app.example.com' });
    assert.deepEqual(apart.webauthn.origins, ['https://app.example.com']);
    assert.equal(passkeysOffered({ config: apart }), false);
    // WEBAUTHN_ORIGINS, when set, is the whole list.
    const listed = loadConfig({ HOSTED_UI_ENABLED: 'true', PUBLIC_URL: 'https://auth.example.com', WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://example.com' });
    assert.deepEqual(listed.webauthn.origins, ['https://example.com']);
    assert.equal(passkeysOffered({ config: listed }), false);
    // An IP address is no RP ID a browser accepts.
    assert.equal(passkeysOffered({ config: loadConfig({ HOSTED_UI_ENABLED: 'true', PUBLIC_URL: 'http://127.0.0.1:8000' }) }), false);
    assert.equal(passkeysOffered({ config: loadConfig({ HOSTED_UI_ENABLED: 'true', PUBLIC_URL: 'http://localhost:8000' }) }), true);
  });

  it('refuses an origin outside the RP ID, naming the variable', () => {
    assert.throws(() => loadConfig({ WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://evil.test' }), /WEBAUTHN_ORIGINS/);
    assert.throws(() => loadConfig({ WEBAUTHN_RP_ID: 'https://example.com' }), /WEBAUTHN_RP_ID/);
  });
});

describe('POST /auth/mfa/verify rate limit', () => {
  it('allows 5 attempts per minute and IP', async () => {
    const t = await startTestApp('pglite', { env: { RATE_LIMIT_ENABLED: 'true' } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await t.api.post('/auth/mfa/verify', { mfa_token: 'x', code: '123456' })).status);
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
      const limited = await t.api.post('/auth/mfa/verify', { mfa_token: 'x', code: '123456' });
      assert.deepEqual(limited.body, { detail: 'Rate limit exceeded: 5 per 1 minute', code: 'rate_limited' });
    } finally {
      await t.close();
    }
  });

  it('is one budget with the hosted pages\' second step (the code form and the passkey step)', async () => {
    const t = await startTestApp('pglite', { env: { RATE_LIMIT_ENABLED: 'true', HOSTED_UI_ENABLED: 'true' } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 2; i++) statuses.push((await t.api.post('/auth/mfa/verify', { mfa_token: 'x', code: '123456' })).status);
      const browser = new PageClient(t.baseUrl);
      await browser.get('/ui/sign-in');
      // A refused CSRF token is no try: it is refused before the budget is touched.
      statuses.push((await browser.post('/ui/mfa', { _csrf: 'forged', code: '123456' })).status);
      // Real tries (no mfa cookie: back to sign in; an unreadable passkey response: 400).
      statuses.push((await browser.post('/ui/mfa', { code: '123456' })).status);
      statuses.push((await browser.postJson('/ui/mfa/passkey', { response: {} })).status);
      statuses.push((await browser.post('/ui/mfa', { code: '123456' })).status);
      statuses.push((await t.api.post('/auth/mfa/verify', { mfa_token: 'x', code: '123456' })).status);
      assert.deepEqual(statuses, [401, 401, 403, 303, 400, 303, 429]);
    } finally {
      await t.close();
    }
  });
});
