// Enterprise SSO over SAML (API.md "Enterprise single sign-on, per account"): a signed response
// from a test IdP signs people in through the ACS and the single-use code; who is who (linking,
// joining, auto_join); enforcement; connections' CRUD and SP metadata.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { ensureAdmin } from '../src/modules/admin/create-admin.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DATABASE_KINDS } from './helpers/database.js';
import { startDnsServer, type TestDnsServer } from './helpers/dns-server.js';
import { PASSWORD, registerAndSignIn, signIn } from './helpers/fixtures.js';
import { queuedEmails, waitFor } from './helpers/jobs.js';
import { hashSecret } from '../src/lib/random.js';
import { insertResetToken } from '../src/modules/passwords/passwords.repo.js';
import { completeSignIn, isMfaChallenge } from '../src/modules/auth/sign-in.js';
import { findUserById } from '../src/modules/users/users.repo.js';
import { inUnitOfWork } from '../src/db/unit-of-work.js';
import { freePort } from './helpers/ports.js';
import { createTestHasher } from './helpers/hasher.js';
import type { PasswordHasher } from '../src/lib/passwords.js';
import { TestSamlIdp } from './helpers/saml-idp.js';
import { enrolTotp, passwordFirstFactor } from './helpers/mfa.js';
import { accountWithDomain, FRONT_END, postToAcs, registerMember, samlConnection, samlSignIn, setPolicy, startSaml } from './helpers/sso.js';

for (const kind of DATABASE_KINDS) {
  describe(`SSO over SAML (${kind})`, () => {
    let t: TestApp;
    let dns: TestDnsServer;
    // A test may hold password checks at their end (to change something while one is running).
    let holdVerify: { entered: () => void; released: Promise<void> } | undefined;
    const hasher = createTestHasher();
    const passwords: PasswordHasher = {
      hash: (password) => hasher.hash(password),
      async verify(...args) {
        const result = await hasher.verify(...args);
        const hold = holdVerify;
        if (hold) {
          hold.entered();
          await hold.released;
        }
        return result;
      },
    };

    before(async () => {
      dns = await startDnsServer();
      const port = await freePort();
      t = await startTestApp(kind, {
        port,
        passwords,
        // Enforcement's second sweep within a second, found by a poll every 100 ms.
        env: { DNS_SERVERS: dns.address, OAUTH_REDIRECT_URIS: FRONT_END, PUBLIC_URL: `http://127.0.0.1:${port}`, SSO_ENFORCEMENT_RESWEEP_SECONDS: '1', OUTBOX_POLL_INTERVAL_MS: '100' },
      });
    });
    after(async () => {
      await t.close();
      await dns.close();
    });

    const userByEmail = (email: string) => t.app.ctx.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();

    it('signs a new person in with auto_join: a member with default_role, amr ["sso"], aal1; the same subject again is the same user', async () => {
      const { owner, accountId, domain } = await accountWithDomain(t, dns);
      const idp = new TestSamlIdp();
      const connection = await samlConnection(t, owner, idp.metadata());
      assert.equal(connection.sp.acs_url, `${t.baseUrl}/api/v1/auth/sso/saml/${connection.id}/acs`);
      assert.equal(connection.sp.entity_id, connection.sp.metadata_url);
      await setPolicy(t, owner, { auto_join: true, default_role: 'admin' });

      const email = `dana@${domain}`;
      const { acs, tokens } = await samlSignIn(t, idp, connection, { nameId: 'employee-00042', email });
      assert.equal(acs.status, 303, JSON.stringify(acs.body));
      assert.equal(tokens!.status, 200, JSON.stringify(tokens!.body));
      const claims = decodeJwt(tokens!.body.access_token);
      assert.deepEqual(claims.amr, ['sso']);
      assert.equal(claims.aal ?? 'aal1', 'aal1');
      const me = await t.api.get('/auth/me', tokens!.body.access_token);
      assert.equal(me.body.email, email);
      assert.equal(me.body.account_id, accountId);
      assert.equal(me.body.account_role, 'admin');
      assert.equal(me.body.has_password, false);
      assert.ok(me.body.email_verified_at);

      const again = await samlSignIn(t, idp, connection, { nameId: 'employee-00042', email });
      assert.equal((await t.api.get('/auth/me', again.tokens!.body.access_token)).body.id, me.body.id);
      const actions = (await t.app.ctx.db.selectFrom('audit_logs').select('action').where('user_id', '=', me.body.id).execute()).map((r) => r.action);
      assert.ok(actions.includes('sso.register') && actions.filter((a) => a === 'sso.sign_in').length === 2, actions.join());
    });

    it('accepts a response signed on the Response only, and sets aal2 when the IdP asserted MFA', async () => {
      const { owner, domain } = await accountWithDomain(t, dns);
      const idp = new TestSamlIdp();
      const connection = await samlConnection(t, owner, idp.metadata());
      await setPolicy(t, owner, { auto_join: true });
      const { requestId, state } = await startSaml(t, connection.id);
      const xml = idp.sign(idp.response({
        inResponseTo: requestId, nameId: 'u-1', email: `mfa@${domain}`, acsUrl: connection.sp.acs_url, audience: connection.sp.entity_id,
        authnContext: 'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract',
      }), { response: true });
      const acs = await postToAcs(t, connection.sp.acs_url, xml);
      assert.equal(acs.status, 303, JSON.stringify(acs.body));
      const code = new URL(acs.location!).searchParams.get('code');
      const tokens = await t.api.post('/auth/sso/callback', { code, state });
      assert.equal(tokens.status, 200);
      assert.equal(decodeJwt(tokens.body.access_token).aal, 'aal2');
      // The code is single use, and bound to its state.
      const twice = await t.api.post('/auth/sso/callback', { code, state });
      assert.deepEqual([twice.status, twice.body.code], [400, 'invalid_sso_code']);
    });

    it('refuses a code with the wrong state, and a code older than 60 seconds', async () => {
      const { owner, domain } = await accountWithDomain(t, dns);
      const idp = new TestSamlIdp();
      const connection = await samlConnection(t, owner, idp.metadata());
      await setPolicy(t, owner, { auto_join: true });
      const { requestId } = await startSaml(t, connection.id);
      const acs = await postToAcs(t, connection.sp.acs_url, idp.sign(idp.response({ inResponseTo: requestId, nameId: 's', email: `s@${domain}`, acsUrl: connection.sp.acs_url, audience: connection.sp.entity_id })));
      const code = new URL(acs.location!).searchParams.get('code');
      assert.equal((await t.api.post('/auth/sso/callback', { code, state: 'not-the-state' })).status, 400);

      const second = await startSaml(t, connection.id);
      const acs2 = await postToAcs(t, connection.sp.acs_url, idp.sign(idp.response({ inResponseTo: second.requestId, nameId: 's', email: `s@${domain}`, acsUrl: connection.sp.acs_url, audience: connection.sp.entity_id })));
      t.clock.advanceSeconds(61);
      const late = await t.api.post('/auth/sso/callback', { code: new URL(acs2.location!).searchParams.get('code'), state: second.state });
      assert.deepEqual([late.status, late.body.code], [400, 'invalid_sso_code']);
    });

    it('without auto_join an unknown person is refused (403 sso_not_a_member); an existing member is linked', async () => {
      const { owner, accountId, domain } = await accountWithDomain(t, dns);
      const idp = new TestSamlIdp();
      const connection = await samlConnection(t, owner, idp.metadata());
      const refused = await samlSignIn(t, idp, connection, { nameId: 'x', email: `nobody@${domain}` });
      assert.deepEqual([refused.acs.status, refused.acs.body.code], [403, 'sso_not_a_member']);
      assert.equal(await userByEmail(`nobody@${domain}`), undefined);

      const invite = await t.api.post('/accounts/me/invites', { email: `member@${domain}`, role: 'member' }, owner.accessToken);
      const registered = await t.api.post('/auth/register', { email: `member@${domain}`, password: PASSWORD, name: 'M', account_invite_code: invite.body.code });
      assert.equal(registered.status, 201, JSON.stringify(registered.body));
      const linked = await samlSignIn(t, idp, connection, { nameId: 'member-7', email: `member@${domain}` });
      assert.equal(linked.tokens!.status, 200, JSON.stringify(linked.acs.body));
      const me = await t.api.get('/auth/me', linked.tokens!.body.access_token);
      assert.deepEqual([me.body.id, me.body.account_id], [registered.body.id, accountId]);
      // Linked: the identity now signs in even if the IdP later sends another email on the domain.
      const renamed = await samlSignIn(t, idp, connection, { nameId: 'member-7', email: `member.renamed@${domain}` });
      assert.equal((await t.api.get('/auth/me', renamed.tokens!.body.access_token)).body.id, registered.body.id);
      // Keyhold's own second factor is not asked of an SSO sign-in (the IdP owns it): tokens, aal1.
      await t.app.ctx.db.updateTable('users').set({ mfa_enabled: true }).where('id', '=', registered.body.id).execute();
      const enrolled = await samlSignIn(t, idp, connection, { nameId: 'member-7', email: `member@${domain}` });
      assert.equal(enrolled.tokens!.status, 200);
      assert.ok(enrolled.tokens!.body.access_token, JSON.stringify(enrolled.tokens!.body));
      assert.equal(decodeJwt(enrolled.tokens!.body.access_token).aal ?? 'aal1', 'aal1');
    });

    it('a user alone in a personal account joins (the personal account closes); an owner with members gets 409', async () => {
      const { owner, accountId, domain } = await accountWithDomain(t, dns);
      const idp = new TestSamlIdp();
      const connection = await samlConnection(t, owner, idp.metadata());
      const loner = await registerAndSignIn(t.api, { email: `loner@${domain}` });
      const personal = (await t.api.get('/accounts/me', loner.accessToken)).body.id;
      const joined = await samlSignIn(t, idp, connection, { nameId: 'loner', email: loner.email });
      assert.equal(joined.tokens!.status, 200, JSON.stringify(joined.acs.body));
      const me = await t.api.get('/auth/me', joined.tokens!.body.access_token);
      assert.deepEqual([me.body.account_id, me.body.account_role], [accountId, 'member']);
      assert.equal(await t.app.ctx.db.selectFrom('accounts').select('id').where('id', '=', personal).executeTakeFirst(), undefined);

      const boss = await registerAndSignIn(t.api, { email: `boss@${domain}` });
      const invite = await t.api.post('/accounts/me/invites', { email: `staff-${randomBytes(3).toString('hex')}@elsewhere.test`, role: 'member' }, boss.accessToken);
      await t.api.post('/auth/register', { email: invite.body.email, password: PASSWORD, name: 'S', account_invite_code: invite.body.code });
      const blocked = await samlSignIn(t, idp, connection, { nameId: 'boss', email: boss.email });
      assert.deepEqual([blocked.acs.status, blocked.acs.body.code], [409, 'transfer_ownership_first']);
    });

    it('enforcement turned on while a password is being checked stops that sign-in too', async () => {
      const { owner, domain } = await accountWithDomain(t, dns);
      const connection = await samlConnection(t, owner, new TestSamlIdp().metadata());
      await registerMember(t, owner, { email: `lee@${domain}`, name: 'Lee' });
      let entered!: () => void;
      const checking = new Promise<void>((resolve) => (entered = resolve));
      let release!: () => void;
      holdVerify = { entered, released: new Promise<void>((resolve) => (release = resolve)) };
      try {
        const login = t.api.post('/auth/login/json', { email: `lee@${domain}`, password: PASSWORD });
        await checking; // the password is being checked: the user was read, the guess reserved
        holdVerify = undefined;
        await setPolicy(t, owner, { enforced: true }); // its sweep finds no session of Lee's yet
        release();
        const answered = await login;
        // Read with the user (before the check), the policy said "not enforced", and the session
        // made after the sweep would have outlived the enforcement.
        assert.deepEqual([answered.status, answered.body.code], [403, 'sso_required']);
        assert.equal(answered.body.detail.connection_id, connection.id);
      } finally {
        holdVerify = undefined;
        release();
      }
    });

    it('enforcement turned on between the password step and the second factor: the second factor answers 403 sso_required', async () => {
      const { owner, domain } = await accountWithDomain(t, dns);
      const connection = await samlConnection(t, owner, new TestSamlIdp().metadata());
      await registerMember(t, owner, { email: `mo@${domain}`, name: 'Mo' });
      const { recoveryCodes } = await enrolTotp(t.api, t.clock, (await signIn(t.api, `mo@${domain}`)).accessToken);
      const mfaToken = await passwordFirstFactor(t.api, `mo@${domain}`, PASSWORD);
      await setPolicy(t, owner, { enforced: true });
      const verify = await t.api.post('/auth/mfa/verify', { mfa_token: mfaToken, recovery_code: recoveryCodes[0] });
      assert.deepEqual([verify.status, verify.body.code, verify.body.detail?.connection_id], [403, 'sso_required', connection.id]);
    });

    it('a sign-in that read the policy just before enforcement was saved, and wrote its session after the sweep: a second sweep ends it', async () => {
      const { owner, domain } = await accountWithDomain(t, dns);
      await samlConnection(t, owner, new TestSamlIdp().metadata());
      await registerMember(t, owner, { email: `sam@${domain}`, name: 'Sam' });
      await setPolicy(t, owner, { enforced: true });
      // The race's outcome: the seam handed the policy as such a login read it ("not enforced"),
      // its session written after the first sweep had read the sessions.
      const { ctx } = t.app;
      const sam = (await findUserById(ctx.db, (await userByEmail(`sam@${domain}`))!.id))!;
      const late = await inUnitOfWork(ctx, (trx) =>
        completeSignIn(ctx, trx, { user: sam, factor: { method: 'pwd', audit: { action: 'auth.login' }, ssoEnforcement: null }, meta: { ip: null, userAgent: null } }),
      );
      assert.ok(!isMfaChallenge(late));
      assert.equal((await t.api.get('/auth/me', late.access_token)).status, 200, 'live after the first sweep');
      await waitFor('the second sweep to end the session', async () => (await t.api.get('/auth/me', late.access_token)).status === 401);
    });

    it('a domain verified while its account enforces SSO: the password sessions of its people end', async () => {
      const { owner } = await accountWithDomain(t, dns);
      await samlConnection(t, owner, new TestSamlIdp().metadata());
      await setPolicy(t, owner, { enforced: true });
      await new Promise((resolve) => setTimeout(resolve, 1500)); // its second sweep has run
      const second = `corp-${randomBytes(4).toString('hex')}.test`;
      const kim = await registerAndSignIn(t.api, { email: `kim@${second}` });
      assert.equal((await t.api.get('/auth/me', kim.accessToken)).status, 200, 'live before the domain is verified');
      const claimed = await t.api.post('/accounts/me/domains', { domain: second }, owner.accessToken);
      dns.txt.set(claimed.body.verification.name, [claimed.body.verification.value]);
      assert.equal((await t.api.post(`/accounts/me/domains/${claimed.body.id}/verify`, {}, owner.accessToken)).status, 200);
      await waitFor('the sweep of the new domain', async () => (await t.api.get('/auth/me', kim.accessToken)).status === 401);
    });

    it('enforcement: other sign-ins and resets answer 403 sso_required, forgot sends no link, and password sessions end', async () => {
      const { owner, domain } = await accountWithDomain(t, dns);
      const idp = new TestSamlIdp();
      const connection = await samlConnection(t, owner, idp.metadata());
      await registerMember(t, owner, { email: `pat@${domain}`, name: 'Pat' });
      const session = await signIn(t.api, `pat@${domain}`);
      const pat = (await userByEmail(`pat@${domain}`))!;
      const issued = await t.app.ctx.tokens.issue('password_reset', pat.id);
      await insertResetToken(t.app.ctx.db, { tokenHash: hashSecret(issued.jti), userId: pat.id, expiresAt: issued.expiresAt, createdAt: t.clock.now() });
      const resetLink = issued.token;

      await setPolicy(t, owner, { enforced: true });
      assert.equal((await t.api.get('/auth/me', session.accessToken)).status, 401, 'the password session ended');
      const login = await t.api.post('/auth/login/json', { email: `pat@${domain}`, password: PASSWORD });
      assert.deepEqual([login.status, login.body], [403, { detail: { error: 'sso_required', connection_id: connection.id }, code: 'sso_required' }]);
      const reset = await t.api.post('/auth/password/reset', { token: resetLink, new_password: 'a brand new passphrase' });
      assert.deepEqual([reset.status, reset.body.code], [403, 'sso_required']);

      assert.equal((await t.api.post('/auth/password/forgot', { email: `pat@${domain}` })).status, 200);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal((await queuedEmails(t.app.ctx.db, { to: `pat@${domain}`, template: 'reset_password' })).length, 0, 'no link sent');
      // The control: the owner (not on the domain) does get one.
      await t.api.post('/auth/password/forgot', { email: owner.email });
      await waitFor('a reset link for the owner', async () => (await queuedEmails(t.app.ctx.db, { to: owner.email, template: 'reset_password' })).length > 0);

      // SSO itself still signs them in (their existing user, linked).
      const sso = await samlSignIn(t, idp, connection, { nameId: 'pat', email: `pat@${domain}` });
      assert.equal(sso.tokens!.status, 200, JSON.stringify(sso.acs.body));
      // Someone outside the domain is not affected.
      const outsider = await registerAndSignIn(t.api);
      assert.ok(outsider.accessToken);
    });

    it('a changed IdP certificate applies from the next response: the ACS keeps no instance made from the old settings', async () => {
      const { owner, domain } = await accountWithDomain(t, dns);
      const idp = new TestSamlIdp();
      const connection = await samlConnection(t, owner, idp.metadata());
      await setPolicy(t, owner, { auto_join: true });
      const who = { nameId: 'rotating-1', email: `rota@${domain}` };
      assert.equal((await samlSignIn(t, idp, connection, who)).acs.status, 303);

      // The IdP rolls its key: same entity, new certificate. The old key's responses stop at once.
      const rolled = new TestSamlIdp(idp.entityId, idp.ssoUrl);
      const patched = await t.api.patch(`/accounts/me/sso-connections/${connection.id}`, { metadata_xml: rolled.metadata() }, owner.accessToken);
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const old = await samlSignIn(t, idp, connection, who);
      assert.deepEqual([old.acs.status, old.acs.body.code], [400, 'sso_failed']);
      assert.equal((await samlSignIn(t, rolled, connection, who)).acs.status, 303);

      // And back (a change the other way round is seen as well, whatever was made before).
      assert.equal((await t.api.patch(`/accounts/me/sso-connections/${connection.id}`, { metadata_xml: idp.metadata() }, owner.accessToken)).status, 200);
      assert.deepEqual((await samlSignIn(t, rolled, connection, who)).acs.status, 400);
      assert.equal((await samlSignIn(t, idp, connection, who)).acs.status, 303);
    });

    it('start by email finds the domain connection; unknown domains answer 404 sso_not_configured; redirect_uri is checked', async () => {
      const { owner, domain } = await accountWithDomain(t, dns);
      const idp = new TestSamlIdp();
      await samlConnection(t, owner, idp.metadata());
      const started = await t.api.post('/auth/sso/start', { email: `someone@${domain.toUpperCase()}`, redirect_uri: FRONT_END });
      assert.equal(started.status, 200, JSON.stringify(started.body));
      assert.ok(started.body.authorization_url.startsWith(`${idp.ssoUrl}?SAMLRequest=`));
      const unknown = await t.api.post('/auth/sso/start', { email: 'someone@unknown-corp.test', redirect_uri: FRONT_END });
      assert.deepEqual([unknown.status, unknown.body.code], [404, 'sso_not_configured']);
      assert.equal((await t.api.post('/auth/sso/start', { email: `someone@${domain}`, redirect_uri: 'https://evil.test/' })).status, 400);
    });

    it('connections: CRUD scoped to the account, secrets never returned, SP metadata published', async () => {
      const a = await accountWithDomain(t, dns);
      const b = await accountWithDomain(t, dns);
      const idp = new TestSamlIdp();
      const connection = await samlConnection(t, a.owner, idp.metadata());
      const oidc = await t.api.post('/accounts/me/sso-connections', { type: 'oidc', name: 'Corp OIDC', issuer: 'https://login.corp.test', client_id: 'abc', client_secret: 'very-secret-value' }, a.owner.accessToken);
      assert.equal(oidc.status, 201, JSON.stringify(oidc.body));
      assert.ok(!JSON.stringify(oidc.body).includes('very-secret-value'));
      assert.equal(oidc.body.sp.redirect_uri, `${t.baseUrl}/api/v1/auth/sso/oidc/callback`);
      const stored = await t.app.ctx.db.selectFrom('sso_connections').select('secrets').where('id', '=', oidc.body.id).executeTakeFirstOrThrow();
      assert.ok(!stored.secrets.includes('very-secret-value'));

      const list = await t.api.get('/accounts/me/sso-connections', a.owner.accessToken);
      assert.deepEqual(list.body.map((c: { id: string }) => c.id).sort(), [connection.id, oidc.body.id].sort());
      assert.ok(!JSON.stringify(list.body).includes('very-secret-value'));
      for (const [method, path] of [['GET', `/accounts/me/sso-connections/${connection.id}`], ['PATCH', `/accounts/me/sso-connections/${connection.id}`], ['DELETE', `/accounts/me/sso-connections/${connection.id}`]] as const) {
        const other = await t.api.request(method, path, { token: b.owner.accessToken, ...(method === 'PATCH' ? { json: { name: 'mine now' } } : {}) });
        assert.deepEqual([other.status, other.body.code], [404, 'sso_connection_not_found'], `${method} ${path}`);
      }
      assert.equal((await t.api.get('/accounts/me/sso-connections', b.owner.accessToken)).body.length, 0);

      const patched = await t.api.patch(`/accounts/me/sso-connections/${connection.id}`, { name: 'Renamed', enabled: false }, a.owner.accessToken);
      assert.deepEqual([patched.status, patched.body.name, patched.body.enabled], [200, 'Renamed', false]);
      const disabled = await t.api.post('/auth/sso/start', { connection_id: connection.id, redirect_uri: FRONT_END });
      assert.equal(disabled.status, 404);

      const metadata = await fetch(connection.sp.metadata_url);
      const xml = await metadata.text();
      assert.equal(metadata.status, 200);
      assert.ok(xml.includes(`entityID="${connection.sp.entity_id}"`));
      assert.ok(xml.includes(`Location="${connection.sp.acs_url}"`));

      const bad = await t.api.post('/accounts/me/sso-connections', { type: 'saml', name: 'x', metadata_xml: '<nope/>' }, a.owner.accessToken);
      assert.equal(bad.status, 422);
      // A metadata URL goes through the webhooks' URL guard: no plain http, no loopback or private
      // address (by IP or by a name resolving to one). (Fetched from a real IdP's metadata URL in
      // test/sso-simplesamlphp.test.ts.)
      for (const url of ['http://idp.example.com/metadata', 'https://127.0.0.1:9/metadata', 'https://10.1.2.3/metadata', 'https://localhost:9/metadata']) {
        const refused = await t.api.post('/accounts/me/sso-connections', { type: 'saml', name: 'x', metadata_url: url }, a.owner.accessToken);
        assert.deepEqual([refused.status, refused.body.code], [422, 'validation_failed'], url);
        assert.match(JSON.stringify(refused.body.detail), /metadata_url/, url);
      }
      assert.equal((await t.api.delete(`/accounts/me/sso-connections/${oidc.body.id}`, a.owner.accessToken)).status, 204);

      // Platform admins act on any account; an account's owner cannot use the admin routes.
      const adminEmail = `admin-${randomBytes(3).toString('hex')}@keyhold-admins.test`;
      await ensureAdmin(t.app.ctx, { email: adminEmail, password: PASSWORD });
      const admin = await signIn(t.api, adminEmail);
      const byAdmin = await t.api.post(`/admin/accounts/${b.accountId}/sso-connections`, { type: 'saml', name: 'Set up by support', metadata_xml: idp.metadata() }, admin.accessToken);
      assert.equal(byAdmin.status, 201, JSON.stringify(byAdmin.body));
      assert.deepEqual((await t.api.get('/accounts/me/sso-connections', b.owner.accessToken)).body.map((c: { id: string }) => c.id), [byAdmin.body.id]);
      assert.equal((await t.api.put(`/admin/accounts/${b.accountId}/sso-settings`, { enforced: false, auto_join: true, default_role: 'member' }, admin.accessToken)).status, 200);
      assert.equal((await t.api.get(`/admin/accounts/${b.accountId}/sso-connections`, b.owner.accessToken)).status, 403);
      const events = await t.app.ctx.db.selectFrom('jobs').select('payload').where('kind', '=', 'event').execute();
      const types = events.map((e) => (e.payload as { type: string }).type);
      assert.ok(types.includes('account.sso_connection_created') && types.includes('account.sso_connection_deleted'));
    });
  });
}
