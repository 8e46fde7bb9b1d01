// Steps shared by the SSO tests: an account with a verified domain, a SAML connection to a
// test IdP, and the browser's part of a sign-in (start, post the response to the ACS, redeem).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TestApp } from './app.js';
import type { TestDnsServer } from './dns-server.js';
import { registerAndSignIn, registerUser, type SignedInUser } from './fixtures.js';
import { authnRequestId, base64, type ResponseOptions, type TestSamlIdp } from './saml-idp.js';

export const FRONT_END = 'http://frontend.test/sso/done';

export interface SsoAccount {
  owner: SignedInUser;
  accountId: string;
  domain: string;
}

/** A new account (its owner on a throwaway address) that verified a fresh domain. */
export async function accountWithDomain(t: TestApp, dns: TestDnsServer, domain = `corp-${randomBytes(4).toString('hex')}.test`): Promise<SsoAccount> {
  const owner = await registerAndSignIn(t.api, { name: 'Owner' });
  const accountId = (await t.api.get('/accounts/me', owner.accessToken)).body.id;
  const claimed = await t.api.post('/accounts/me/domains', { domain }, owner.accessToken);
  assert.equal(claimed.status, 201, JSON.stringify(claimed.body));
  dns.txt.set(claimed.body.verification.name, [claimed.body.verification.value]);
  const verified = await t.api.post(`/accounts/me/domains/${claimed.body.id}/verify`, {}, owner.accessToken);
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  return { owner, accountId, domain };
}

/** A member of the owner's account (invited, then registered with the fixtures' PASSWORD) with this email. */
export async function registerMember(t: TestApp, owner: SignedInUser, { email, name }: { email: string; name: string }): Promise<void> {
  const invite = await t.api.post('/accounts/me/invites', { email, role: 'member' }, owner.accessToken);
  assert.equal(invite.status, 201, JSON.stringify(invite.body));
  await registerUser(t.api, { email, name, account_invite_code: invite.body.code });
}

export async function samlConnection(t: TestApp, owner: SignedInUser, metadataXml: string, extra: Record<string, unknown> = {}) {
  const created = await t.api.post('/accounts/me/sso-connections', { type: 'saml', name: 'Corp SAML', metadata_xml: metadataXml, ...extra }, owner.accessToken);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body as { id: string; sp: { entity_id: string; acs_url: string; metadata_url: string } };
}

export async function setPolicy(t: TestApp, owner: SignedInUser, policy: { enforced?: boolean; auto_join?: boolean; default_role?: 'member' | 'admin' }) {
  const put = await t.api.put('/accounts/me/sso-settings', { enforced: false, auto_join: false, default_role: 'member', ...policy }, owner.accessToken);
  assert.equal(put.status, 200, JSON.stringify(put.body));
}

/** POST /auth/sso/start by connection: the AuthnRequest ID and the front end's state. */
export async function startSaml(t: TestApp, connectionId: string): Promise<{ requestId: string; state: string; url: string }> {
  const started = await t.api.post('/auth/sso/start', { connection_id: connectionId, redirect_uri: FRONT_END });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  return { requestId: authnRequestId(started.body.authorization_url), state: started.body.state, url: started.body.authorization_url };
}

/** Posts a response (XML) to the ACS as the browser's form would. */
export async function postToAcs(t: TestApp, acsUrl: string, xml: string) {
  const response = await fetch(acsUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ SAMLResponse: base64(xml), RelayState: 'x' }).toString(),
    redirect: 'manual',
  });
  const text = await response.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, location: response.headers.get('location'), body };
}

/** The whole browser round trip with a response the test IdP signs: → the callback's reply. */
export async function samlSignIn(
  t: TestApp,
  idp: TestSamlIdp,
  connection: { id: string; sp: { entity_id: string; acs_url: string } },
  who: { nameId: string; email?: string } & Partial<ResponseOptions>,
) {
  const { requestId, state } = await startSaml(t, connection.id);
  const xml = idp.sign(idp.response({ inResponseTo: requestId, acsUrl: connection.sp.acs_url, audience: connection.sp.entity_id, ...who }));
  const acs = await postToAcs(t, connection.sp.acs_url, xml);
  if (acs.status !== 303) return { acs, tokens: undefined };
  const back = new URL(acs.location!);
  assert.equal(`${back.origin}${back.pathname}`, FRONT_END);
  assert.equal(back.searchParams.get('state'), state);
  const tokens = await t.api.post('/auth/sso/callback', { code: back.searchParams.get('code'), state });
  return { acs, tokens };
}
