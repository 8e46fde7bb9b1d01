// @keyhold/verify (clients/verify-node) against a real Keyhold: its verifier through a key
// rotation and a revocation, its Fastify plugin and its Express middleware.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { decodeProtectedHeader } from 'jose';
import { createVerifier, TokenRejected } from '../clients/verify-node/src/index.js';
import { keyholdExpress, requireAal as expressAal, requireAccountRole as expressRole } from '../clients/verify-node/src/express.js';
import { keyholdFastify, requireAal, requireAccountRole } from '../clients/verify-node/src/fastify.js';
import { revokeSigningKey, rotateSigningKeys } from '../src/modules/keys/keys.service.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { registerAndSignIn } from './helpers/fixtures.js';

const kidOf = (token: string): string | undefined => decodeProtectedHeader(token).kid;

describe('@keyhold/verify', () => {
  let t: TestApp;
  let jwksUri: string;
  before(async () => {
    // The verifier checks exp against the real clock; the test clock starts at the real time.
    t = await startTestApp('pglite');
    jwksUri = `${t.baseUrl}/.well-known/jwks.json`;
  });
  after(() => t?.close());

  it('gives the claims a service scopes by, and refuses what is not a live access token', async () => {
    const verifier = createVerifier({ issuer: 'keyhold', audience: 'keyhold', jwksUri });
    const u = await registerAndSignIn(t.api);
    const me = (await t.api.get('/auth/me', u.accessToken)).body as { id: string; account_id: string };
    const claims = await verifier.verify(u.accessToken);
    assert.equal(claims.sub, me.id);
    assert.equal(claims.account_id, me.account_id);
    assert.equal(claims.account_role, 'owner');
    assert.equal(claims.role, 'engineer');
    assert.equal(claims.aal, 'aal1');
    const refusal = async (token: string | undefined, verify = verifier.verify) =>
      verify(token).then(
        () => assert.fail('accepted'),
        (err: unknown) => (err instanceof TokenRejected ? err.code : assert.fail(String(err))),
      );
    assert.equal(await refusal(undefined), 'token_missing');
    assert.equal(await refusal(u.refreshToken), 'invalid_token', 'a refresh token (typ rt+jwt)');
    assert.equal(await refusal(u.accessToken, createVerifier({ issuer: 'keyhold', audience: 'another-api', jwksUri }).verify), 'invalid_token');
    assert.equal(await refusal(u.accessToken, createVerifier({ issuer: 'someone-else', audience: 'keyhold', jwksUri }).verify), 'invalid_token');
  });

  it('follows a rotation (an unknown kid fetches the key set again) and forgets a revoked key', async () => {
    const verifier = createVerifier({ issuer: 'keyhold', audience: 'keyhold', jwksUri, cacheMaxAgeSeconds: 1, refetchCooldownSeconds: 0 });
    const before = await registerAndSignIn(t.api);
    await verifier.verify(before.accessToken); // the key set is now cached
    // Two rotations: the key that signs afterwards was made by the first, after the fetch.
    await rotateSigningKeys(t.app.ctx, null);
    const second = await rotateSigningKeys(t.app.ctx, null);
    // The instance picks the rotation up at its next poll of the key set.
    let fresh = await registerAndSignIn(t.api);
    for (let tries = 0; kidOf(fresh.accessToken) !== second.current; tries++) {
      assert.ok(tries < 50, 'the new key never signed');
      await new Promise((resolve) => setTimeout(resolve, 200));
      fresh = await registerAndSignIn(t.api);
    }
    assert.equal((await verifier.verify(fresh.accessToken)).sub, fresh.id);
    // Revoked: refused once the cached key set ages out.
    await revokeSigningKey(t.app.ctx, { kid: second.current, meta: null });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await assert.rejects(verifier.verify(fresh.accessToken), (err: unknown) => err instanceof TokenRejected && err.code === 'invalid_token');
    // The instance stops signing with the revoked key at its next poll; the tests after this wait for it.
    for (let tries = 0; kidOf((await registerAndSignIn(t.api)).accessToken) === second.current; tries++) {
      assert.ok(tries < 50, 'the revoked key kept signing');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  it('Fastify: 401 without a valid token, the claims on request.keyhold, 403 for unmet rules', async () => {
    const verifier = createVerifier({ issuer: 'keyhold', audience: 'keyhold', jwksUri });
    const service = Fastify();
    await service.register(keyholdFastify, { verifier });
    service.get('/projects', async (request) => ({ user: request.keyhold?.sub }));
    service.get('/owners', { preHandler: requireAccountRole('owner') }, async () => ({ ok: true }));
    service.get('/admins', { preHandler: requireAccountRole('admin') }, async () => ({ ok: true }));
    service.get('/mfa', { preHandler: requireAal('aal2') }, async () => ({ ok: true }));
    const u = await registerAndSignIn(t.api);
    const auth = { authorization: `Bearer ${u.accessToken}` };
    try {
      const missing = await service.inject({ url: '/projects' });
      assert.equal(missing.statusCode, 401);
      assert.deepEqual(missing.json(), { detail: 'Could not validate credentials', code: 'token_missing' });
      assert.equal(missing.headers['www-authenticate'], 'Bearer');
      const refresh = await service.inject({ url: '/projects', headers: { authorization: `Bearer ${u.refreshToken}` } });
      assert.equal(refresh.statusCode, 401);
      assert.match(String(refresh.headers['www-authenticate']), /error="invalid_token"/);
      assert.deepEqual((await service.inject({ url: '/projects', headers: auth })).json(), { user: u.id });
      assert.equal((await service.inject({ url: '/owners', headers: auth })).statusCode, 200);
      assert.equal((await service.inject({ url: '/admins', headers: auth })).statusCode, 200, 'an owner meets admin');
      const weak = await service.inject({ url: '/mfa', headers: auth });
      assert.equal(weak.statusCode, 403);
      assert.equal(weak.json().code, 'insufficient_aal');
    } finally {
      await service.close();
    }
  });

  it('Express: the same answers', async () => {
    const verifier = createVerifier({ issuer: 'keyhold', audience: 'keyhold', jwksUri });
    const service = express();
    service.use(keyholdExpress(verifier));
    service.get('/projects', (req, res) => void res.json({ user: (req as { keyhold?: { sub: string } }).keyhold?.sub }));
    service.get('/owners', expressRole('owner'), (_req, res) => void res.json({ ok: true }));
    service.get('/mfa', expressAal('aal2'), (_req, res) => void res.json({ ok: true }));
    const server = service.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const u = await registerAndSignIn(t.api);
    const get = (path: string, token?: string) => fetch(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    try {
      const missing = await get('/projects');
      assert.equal(missing.status, 401);
      assert.deepEqual(await missing.json(), { detail: 'Could not validate credentials', code: 'token_missing' });
      assert.deepEqual(await (await get('/projects', u.accessToken)).json(), { user: u.id });
      assert.equal((await get('/owners', u.accessToken)).status, 200);
      const weak = await get('/mfa', u.accessToken);
      assert.equal(weak.status, 403);
      assert.equal(((await weak.json()) as { code: string }).code, 'insufficient_aal');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
