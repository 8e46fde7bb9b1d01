// SAML 2.0 through @node-saml/node-saml (SP-initiated: HTTP-Redirect AuthnRequest, HTTP-POST
// response). node-saml checks the XML signature (of the response or the assertion: at least
// one, and the identity is read from the signed node), the audience, the time window and
// InResponseTo against the request store. Keyhold adds what node-saml leaves to its caller:
// the recipient and destination, the issuer, one use per assertion ID, and refusing
// IdP-initiated responses unless the connection allows them.
import { ValidateInResponseTo, type CacheProvider, type Profile } from '@node-saml/node-saml';
import { attributeValues, childElements, hasCommentChild, parseXml, textValues, type XmlDocument, type XmlNode } from '../../lib/xml.js';
import type { AppContext } from '../../context.js';
import type { SsoConnectionRow } from '../../db/schema.js';
import { samlAcsUrl, samlConfig } from './connection-config.js';
import { acsInstance, answering, CLOCK_SKEW_MS, REQUEST_TTL_MS, samlFor } from './saml-instances.js';

export { CLOCK_SKEW_MS, REQUEST_TTL_MS };
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

const SAML_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';
const SAMLP_NS = 'urn:oasis:names:tc:SAML:2.0:protocol';
const IDENTITY_ELEMENTS = new Set(['NameID', 'AttributeValue']);
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';

function parse(xml: string): XmlDocument {
  const doc = parseXml(xml);
  if (!doc) throw new SamlRejection('malformed_xml');
  return doc;
}

/** A path of SAML assertion elements under `from`, as XPath's `from/saml:a/saml:b/…`. */
const path = (from: XmlNode, ...names: string[]): XmlNode[] => names.reduce<XmlNode[]>((nodes, name) => childElements(nodes, SAML_NS, name), [from]);

/** A posted SAMLResponse as read: its Response element and the request it names (not yet validated). */
export interface PostedResponse {
  samlResponse: string;
  response: XmlNode;
  inResponseTo: string | null;
}

/**
 * Reads the posted form's SAMLResponse: what can be refused before the connection is known (a
 * SamlRejection), and the InResponseTo the connection's look-up brings the request of.
 */
export function readSamlResponse(samlResponse: string): PostedResponse {
  if (samlResponse.length > MAX_RESPONSE_BYTES) throw new SamlRejection('response_too_large');
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  const outer = parse(xml);
  const response = outer.documentElement;
  if (!response || response.localName !== 'Response' || response.namespaceURI !== SAMLP_NS) {
    throw new SamlRejection('not_a_response');
  }
  // A comment inside an identity value is how the 2018 comment-injection attacks cut an address
  // short in readers that take the first text node. The signature does not cover comments
  // (exclusive c14n drops them), so such a response is refused outright.
  if (hasCommentChild(response, SAML_NS, IDENTITY_ELEMENTS)) throw new SamlRejection('comment_in_identity');
  return { samlResponse, response, inResponseTo: response.getAttributeNode('InResponseTo')?.nodeValue || null };
}

export interface ValidateSamlResponse {
  posted: PostedResponse;
  /** When the live request of this connection that the response names was made; undefined: none. */
  requestCreatedAt: Date | undefined;
}

/**
 * Validates a posted SAMLResponse for this connection and returns who it signs in. Every
 * refusal is a SamlRejection; nothing is written here (the caller records the assertion's use
 * and spends the flow in its transaction).
 */
export async function validateSamlResponse(ctx: Deps, row: SsoConnectionRow, { posted, requestCreatedAt }: ValidateSamlResponse): Promise<SamlIdentity> {
  const { samlResponse, response, inResponseTo } = posted;
  const config = samlConfig(row);
  if (!inResponseTo && !config.allow_idp_initiated) throw new SamlRejection('idp_initiated_not_allowed');
  const acsUrl = samlAcsUrl(ctx.config, row.id);
  // Destination (on the Response) must name this ACS when present.
  const destination = response.getAttribute('Destination');
  if (destination && destination !== acsUrl) throw new SamlRejection('wrong_destination');

  // The request store is the flows table (read with the connection): an InResponseTo names a
  // live request of this connection.
  const now = ctx.clock.now();
  let profile: Profile | null;
  try {
    ({ profile } = await answering(acsInstance(ctx, row), { requestKey: inResponseTo, createdAt: requestCreatedAt }, (saml) => saml.validatePostResponseAsync({ SAMLResponse: samlResponse })));
  } catch (err) {
    throw new SamlRejection(`invalid_response: ${(err as Error).message}`.slice(0, 200));
  }
  if (!profile) throw new SamlRejection('no_assertion');
  if (profile.issuer !== config.idp_entity_id) throw new SamlRejection('wrong_issuer');

  // Everything below reads the assertion node that the signature covers (node-saml's verified XML).
  const signedXml = profile.getAssertionXml?.();
  if (!signedXml) throw new SamlRejection('no_signed_assertion');
  const assertion = parse(signedXml).documentElement!;
  if (assertion.localName !== 'Assertion' || assertion.namespaceURI !== SAML_NS) throw new SamlRejection('no_assertion_id');
  const assertionId = assertion.getAttributeNode('ID')?.nodeValue;
  if (!assertionId) throw new SamlRejection('no_assertion_id');
  const confirmations = path(assertion, 'Subject', 'SubjectConfirmation');
  const bearerData = childElements(confirmations.filter((c) => c.getAttributeNode('Method')?.nodeValue === BEARER), SAML_NS, 'SubjectConfirmationData');
  const recipients = attributeValues(bearerData, 'Recipient');
  if (recipients.length === 0 || recipients.some((r) => r !== acsUrl)) throw new SamlRejection('wrong_recipient');
  const confirmationData = childElements(confirmations, SAML_NS, 'SubjectConfirmationData');
  const subjectInResponseTo = attributeValues(confirmationData, 'InResponseTo');
  if (subjectInResponseTo.some((value) => value !== (inResponseTo ?? ''))) throw new SamlRejection('wrong_in_response_to');

  // NameID as the signed XML has it: the text of the element, all of it (a comment inside it
  // must not cut the value short, as in the 2018 comment-injection attacks).
  const nameIdNode = path(assertion, 'Subject', 'NameID');
  if (nameIdNode.length !== 1) throw new SamlRejection('no_name_id');
  const nameId = nameIdNode[0]!;
  if (Array.from(nameId.childNodes).some((child) => child.nodeType !== 3)) throw new SamlRejection('name_id_not_plain_text');
  const subject = (nameId.textContent ?? '').trim();
  if (!subject || subject !== (profile.nameID ?? '').trim()) throw new SamlRejection('name_id_mismatch');

  const notOnOrAfter = attributeValues(path(assertion, 'Conditions'), 'NotOnOrAfter')[0] ?? attributeValues(confirmationData, 'NotOnOrAfter')[0];
  const validUntil = new Date(Math.max(Date.parse(notOnOrAfter ?? '') || 0, now.getTime()) + CLOCK_SKEW_MS + REQUEST_TTL_MS);
  const contexts = textValues(path(assertion, 'AuthnStatement', 'AuthnContext', 'AuthnContextClassRef')).map((value) => value.trim());

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
