// Configuration rules that are security decisions: key strength and whom to believe.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration: security settings', () => {
  it('refuses a JWT_SECRET under 256 bits (RFC 7518 §3.2), counted in bytes, without echoing it', () => {
    const short = 'x'.repeat(31);
    assert.throws(() => loadConfig({ JWT_SECRET: short }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^Invalid configuration: JWT_SECRET must be at least 32 bytes/);
      assert.ok(!err.message.includes(short));
      return true;
    });
    // 11 three-byte characters are 33 bytes: enough, although only 11 characters.
    assert.equal(loadConfig({ JWT_SECRET: '€'.repeat(11) }).jwtSecret, '€'.repeat(11));
    assert.equal(loadConfig({ JWT_SECRET: 'y'.repeat(32) }).jwtSecret, 'y'.repeat(32));
  });

  it('trusts Google for email, Microsoft never, and a generic provider only when told', () => {
    const env = {
      GOOGLE_CLIENT_ID: 'g',
      MICROSOFT_CLIENT_ID: 'm',
      OIDC_PROVIDERS: 'okta,corp',
      OIDC_OKTA_ISSUER: 'https://okta.example',
      OIDC_OKTA_CLIENT_ID: 'o',
      OIDC_CORP_ISSUER: 'https://corp.example',
      OIDC_CORP_CLIENT_ID: 'c',
      OIDC_CORP_TRUST_EMAIL: 'true',
      // Not a setting: Microsoft's trust cannot be turned on.
      MICROSOFT_TRUST_EMAIL: 'true',
      OIDC_MICROSOFT_TRUST_EMAIL: 'true',
    };
    const trust = Object.fromEntries(loadConfig(env).oauthProviders.map((p) => [p.name, p.trustEmail]));
    assert.deepEqual(trust, { google: true, microsoft: false, okta: false, corp: true });
    assert.throws(() => loadConfig({ ...env, OIDC_CORP_TRUST_EMAIL: 'perhaps' }), /OIDC_CORP_TRUST_EMAIL/);
  });
});
