// WebAuthn's relying party from the environment, and the per-IP limit of POST /auth/mfa/verify.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config.js';
import { startTestApp } from './helpers/app.js';

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
      assert.deepEqual(limited.body, { detail: 'Rate limit exceeded: 5 per 1 minute' });
    } finally {
      await t.close();
    }
  });
});
