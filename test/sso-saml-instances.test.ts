// The ACS's kept node-saml instances (src/modules/sso/saml-instances.ts): one per connection
// while its settings stay the same, a new one as soon as they change; and the request store
// lent to an instance for a call, shared by answers to one request at once.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { SsoConnectionRow } from '../src/db/schema.js';
import { createSecretBox } from '../src/lib/secret-box.js';
import { acsInstance, answering } from '../src/modules/sso/saml-instances.js';
import { TestSamlIdp } from './helpers/saml-idp.js';

const ctx = { config: { publicUrl: 'http://127.0.0.1:8000', apiPrefix: '/api/v1' }, secrets: createSecretBox(null) } as unknown as Parameters<typeof acsInstance>[0];

function connection(idp: TestSamlIdp, changes: Partial<SsoConnectionRow> = {}): SsoConnectionRow {
  const now = new Date();
  return {
    id: randomUUID(),
    account_id: randomUUID(),
    type: 'saml',
    name: 'Corp SAML',
    enabled: true,
    config: { idp_entity_id: idp.entityId, idp_sso_url: idp.ssoUrl, idp_certificates: [idp.certBase64], allow_idp_initiated: false, default_redirect_uri: null, sp_certificate: null },
    secrets: 'plain.e30',
    created_at: now,
    updated_at: now,
    ...changes,
  };
}

describe('SAML ACS instances', () => {
  it('keeps one instance per connection while its settings are the same, and makes a new one when they change', () => {
    const idp = new TestSamlIdp();
    const row = connection(idp);
    const first = acsInstance(ctx, row);
    // The same settings read again (a new row object, as each response reads it): the same instance.
    assert.equal(acsInstance(ctx, { ...row, config: structuredClone(row.config) }), first);
    const rolled = new TestSamlIdp(idp.entityId, idp.ssoUrl);
    const changedCertificate = acsInstance(ctx, { ...row, config: { ...(row.config as object), idp_certificates: [rolled.certBase64] } });
    assert.notEqual(changedCertificate, first);
    const changedSecrets = acsInstance(ctx, { ...row, config: { ...(row.config as object), idp_certificates: [rolled.certBase64] }, secrets: 'plain.eyJzcF9wcml2YXRlX2tleSI6bnVsbH0' });
    assert.notEqual(changedSecrets, changedCertificate);
    // Another connection with the very same settings has its own.
    assert.notEqual(acsInstance(ctx, connection(idp)), acsInstance(ctx, row));
  });

  it('lends the live request to the instance for the call; two answers to one request at once keep it until both end', async () => {
    const instance = acsInstance(ctx, connection(new TestSamlIdp()));
    const createdAt = new Date();
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    const first = answering(instance, { requestKey: '_req', createdAt }, async () => {
      await firstHeld;
      throw new Error('a forged answer fails');
    });
    let releaseSecond!: () => void;
    const secondHeld = new Promise<void>((resolve) => (releaseSecond = resolve));
    const second = answering(instance, { requestKey: '_req', createdAt }, async () => {
      await secondHeld;
      return instance.answering.get('_req')?.createdAt;
    });
    releaseFirst();
    await assert.rejects(first, /forged/);
    // The first answer's end does not take the request from the second, still being checked.
    releaseSecond();
    assert.equal(await second, createdAt.toISOString());
    assert.equal(instance.answering.size, 0);
    // No live request (or none asked for): nothing is lent.
    assert.equal(await answering(instance, { requestKey: '_gone', createdAt: undefined }, async () => instance.answering.size), 0);
  });
});
