// SAML 2.0 through @node-saml/node-saml (SP-initiated: HTTP-Redirect AuthnRequest, HTTP-POST
// response). node-saml checks the XML signature (of the response or the assertion: at least
// one, and the identity is read from the signed node), the audience, the time window and
// InResponseTo against the request store. Keyhold adds what node-saml leaves to its caller:
// the recipient and destination, the issuer, one use per assertion ID, and refusing
// IdP-initiated responses unless the connection allows them.
import { SAML, ValidateInResponseTo, type CacheProvider, type Profile } from '@node-saml/node-saml';
import { firstValue, parseXml, xpathSelector, type XmlDocument, type XmlNode } from '../../lib/xml.js';
import type { AppContext } from '../../context.js';
import type { SsoConnectionRow } from '../../db/schema.js';
import { openSecrets, samlAcsUrl, samlConfig, samlMetadataUrl, type SamlSecrets } from './connection-config.js';
import { findLiveFlow } from './sso.repo.js';

/** NotBefore / NotOnOrAfter tolerance. */
export const CLOCK_SKEW_MS = 2 * 60_000;
/** How long a request (and so its InResponseTo) stays answerable. */
export const REQUEST_TTL_MS = 10 * 60_000;
/** Larger responses are refused before parsing. */
export const MAX_RESPONSE_BYTES = 256 * 1024;

type Deps = Pick<AppContext, 'db' | 'clock' | 'config' | 'secrets'>;

/** A refused response: the reason goes to the audit log, the client sees only `sso_failed`. */
export class SamlRejection extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'SamlRejection';
  }
}

const pem = (base64: string): string => `-----BEGIN CERTIFICATE-----\n${base64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;

function samlFor(
  ctx: Deps,
  { row, cacheProvider, inResponseTo }: { row: SsoConnectionRow; cacheProvider: CacheProvider; inResponseTo: ValidateInResponseTo },
): SAML {
  const config = samlConfig(row);
  const secrets = openSecrets<SamlSecrets>(ctx, row);
  return new SAML({
    entryPoint: config.idp_sso_url,
    issuer: samlMetadataUrl(ctx.config, row.id),
    callbackUrl: samlAcsUrl(ctx.config, row.id),
    audience: samlMetadataUrl(ctx.config, row.id),
    idpCert: config.idp_certificates.map(pem),
    idpIssuer: config.idp_entity_id,
    // Either signature suffices, and one is required: node-saml refuses a response where
    // neither the response nor its assertion carries a valid signature, and reads the
    // assertion only from the signed XML.
    wantAssertionsSigned: false,
    wantAuthnResponseSigned: false,
    acceptedClockSkewMs: CLOCK_SKEW_MS,
    validateInResponseTo: inResponseTo,
    requestIdExpirationPeriodMs: REQUEST_TTL_MS,
    cacheProvider,
    identifierFormat: null,
    disableRequestedAuthnContext: true,
    ...(secrets.sp_private_key ? { decryptionPvk: secrets.sp_private_key } : {}),
  });
}

/** Start: the IdP's URL with the AuthnRequest, and its ID (the InResponseTo to expect). */
export async function samlAuthorizeUrl(ctx: Deps, row: SsoConnectionRow, relayState: string): Promise<{ url: string; requestId: string }> {
  let requestId: string | undefined;
  // node-saml reports the request's ID through the cache; the caller stores it with the flow.
  const capture: CacheProvider = {
    saveAsync: async (key, value) => {
      requestId = key;
      return { value, createdAt: Date.now() };
    },
    getAsync: async () => null,
    removeAsync: async () => null,
  };
  const url = await samlFor(ctx, { row, cacheProvider: capture, inResponseTo: ValidateInResponseTo.always }).getAuthorizeUrlAsync(relayState, undefined, {});
  if (!requestId) throw new Error('node-saml made no request ID');
  return { url, requestId };
}

export interface SamlIdentity {
  subject: string;
  email: string | null;
  name: string | null;
  /** The IdP said the user passed more than one factor (AuthnContextClassRef). */
  multiFactor: boolean;
  assertionId: string;
  /** Until when the assertion could be accepted (the replay store keeps it that long). */
  validUntil: Date;
  /** The AuthnRequest this answers; null for an IdP-initiated response. */
  inResponseTo: string | null;
}

const MFA_CONTEXTS = new Set([
  'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:X509',
  'http://schemas.microsoft.com/claims/multipleauthn',
  'https://refeds.org/profile/mfa',
]);

const select = xpathSelector({
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
});

function parse(xml: string): XmlDocument {
  const doc = parseXml(xml);
  if (!doc) throw new SamlRejection('malformed_xml');
  return doc;
}

const text = firstValue;

/**
 * Validates a posted SAMLResponse for this connection and returns who it signs in. Every
 * refusal is a SamlRejection; nothing is written here (the caller records the assertion's use
 * and spends the flow in its transaction).
 */
export async function validateSamlResponse(ctx: Deps, row: SsoConnectionRow, samlResponse: string): Promise<SamlIdentity> {
  if (samlResponse.length > MAX_RESPONSE_BYTES) throw new SamlRejection('response_too_large');
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  const outer = parse(xml);
  const response = outer.documentElement;
  if (!response || response.localName !== 'Response' || response.namespaceURI !== 'urn:oasis:names:tc:SAML:2.0:protocol') {
    throw new SamlRejection('not_a_response');
  }
  // A comment inside an identity value is how the 2018 comment-injection attacks cut an address
  // short in readers that take the first text node. The signature does not cover comments
  // (exclusive c14n drops them), so such a response is refused outright.
  if (select('//saml:NameID/comment() | //saml:AttributeValue/comment()', response).length > 0) throw new SamlRejection('comment_in_identity');
  const config = samlConfig(row);
  const inResponseTo = response.getAttribute('InResponseTo') || null;
  if (!inResponseTo && !config.allow_idp_initiated) throw new SamlRejection('idp_initiated_not_allowed');
  // The request store is the flows table: an InResponseTo names a live request of this connection.
  const now = ctx.clock.now();
  const store: CacheProvider = {
    saveAsync: async () => null,
    // node-saml wants the request's creation time (it applies requestIdExpirationPeriodMs too).
    getAsync: async (key) => (await findLiveFlow(ctx.db, { connectionId: row.id, requestKey: key, now }))?.created_at.toISOString() ?? null,
    removeAsync: async () => null, // spent by the caller, with the sign-in
  };
  const acsUrl = samlAcsUrl(ctx.config, row.id);
  // Destination (on the Response) must name this ACS when present.
  const destination = response.getAttribute('Destination');
  if (destination && destination !== acsUrl) throw new SamlRejection('wrong_destination');

  let profile: Profile | null;
  try {
    ({ profile } = await samlFor(ctx, { row, cacheProvider: store, inResponseTo: ValidateInResponseTo.ifPresent }).validatePostResponseAsync({ SAMLResponse: samlResponse }));
  } catch (err) {
    throw new SamlRejection(`invalid_response: ${(err as Error).message}`.slice(0, 200));
  }
  if (!profile) throw new SamlRejection('no_assertion');
  if (profile.issuer !== config.idp_entity_id) throw new SamlRejection('wrong_issuer');

  // Everything below reads the assertion node that the signature covers (node-saml's verified XML).
  const signedXml = profile.getAssertionXml?.();
  if (!signedXml) throw new SamlRejection('no_signed_assertion');
  const assertion: XmlNode = parse(signedXml).documentElement!;
  const assertionId = text(select('/saml:Assertion/@ID', assertion));
  if (!assertionId) throw new SamlRejection('no_assertion_id');
  const recipients = select("/saml:Assertion/saml:Subject/saml:SubjectConfirmation[@Method='urn:oasis:names:tc:SAML:2.0:cm:bearer']/saml:SubjectConfirmationData/@Recipient", assertion).map((a) => a.nodeValue);
  if (recipients.length === 0 || recipients.some((r) => r !== acsUrl)) throw new SamlRejection('wrong_recipient');
  const subjectInResponseTo = select('/saml:Assertion/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData/@InResponseTo', assertion).map((a) => a.nodeValue);
  if (subjectInResponseTo.some((value) => value !== (inResponseTo ?? ''))) throw new SamlRejection('wrong_in_response_to');

  // NameID as the signed XML has it: the text of the element, all of it (a comment inside it
  // must not cut the value short, as in the 2018 comment-injection attacks).
  const nameIdNode = select('/saml:Assertion/saml:Subject/saml:NameID', assertion);
  if (nameIdNode.length !== 1) throw new SamlRejection('no_name_id');
  const nameId = nameIdNode[0]!;
  if (Array.from(nameId.childNodes).some((child) => child.nodeType !== 3)) throw new SamlRejection('name_id_not_plain_text');
  const subject = (nameId.textContent ?? '').trim();
  if (!subject || subject !== (profile.nameID ?? '').trim()) throw new SamlRejection('name_id_mismatch');

  const notOnOrAfter = text(select('/saml:Assertion/saml:Conditions/@NotOnOrAfter', assertion)) ?? text(select('/saml:Assertion/saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData/@NotOnOrAfter', assertion));
  const validUntil = new Date(Math.max(Date.parse(notOnOrAfter ?? '') || 0, now.getTime()) + CLOCK_SKEW_MS + REQUEST_TTL_MS);
  const contexts = select('/saml:Assertion/saml:AuthnStatement/saml:AuthnContext/saml:AuthnContextClassRef/text()', assertion).map((n) => (n.nodeValue ?? '').trim());

  const email = pickAttribute(profile, ['email', 'mail', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress', 'urn:oid:0.9.2342.19200300.100.1.3'])
    ?? (/^[^@\s]+@[^@\s]+$/.test(subject) ? subject : null);
  const given = pickAttribute(profile, ['givenName', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname', 'urn:oid:2.5.4.42']);
  const family = pickAttribute(profile, ['sn', 'surname', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname', 'urn:oid:2.5.4.4']);
  const display = pickAttribute(profile, ['displayName', 'name', 'cn', 'http://schemas.microsoft.com/identity/claims/displayname', 'urn:oid:2.16.840.1.113730.3.1.241']);
  return {
    subject,
    email: email ? email.trim().toLowerCase() : null,
    name: display ?? ([given, family].filter(Boolean).join(' ') || null),
    multiFactor: contexts.some((c) => MFA_CONTEXTS.has(c)),
    assertionId,
    validUntil,
    inResponseTo,
  };
}

function pickAttribute(profile: Profile, names: string[]): string | null {
  const attributes = (profile.attributes ?? {}) as Record<string, unknown>;
  for (const name of names) {
    const value = attributes[name] ?? (profile as Record<string, unknown>)[name];
    const first = Array.isArray(value) ? value[0] : value;
    if (typeof first === 'string' && first.trim() !== '') return first.trim();
  }
  return null;
}

/** The SP metadata XML for the connection (what the IdP admin may upload instead of copying values). */
export function samlSpMetadata(ctx: Deps, row: SsoConnectionRow): string {
  const config = samlConfig(row);
  const saml = samlFor(ctx, {
    row,
    cacheProvider: { saveAsync: async () => null, getAsync: async () => null, removeAsync: async () => null },
    inResponseTo: ValidateInResponseTo.always,
  });
  return saml.generateServiceProviderMetadata(config.sp_certificate, null);
}
