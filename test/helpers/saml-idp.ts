// A SAML identity provider made in the test: its signing key and certificate, its metadata, and
// responses built from a template and signed with xml-crypto (the library node-saml verifies
// with), so a test can make a genuine response and then tamper with it.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { inflateRawSync } from 'node:zlib';
import { selfSignedCertificate } from './certificate.js';

const requireCjs = createRequire(import.meta.url);
// Loaded untyped: their typings pull in the DOM library, which clashes with Node's types.
const { SignedXml } = requireCjs('xml-crypto') as {
  SignedXml: new (options: Record<string, unknown>) => {
    addReference(reference: Record<string, unknown>): void;
    computeSignature(xml: string, options: { location: { reference: string; action: string } }): void;
    getSignedXml(): string;
  };
};

export const SAML_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';
export const SAMLP_NS = 'urn:oasis:names:tc:SAML:2.0:protocol';

export interface ResponseOptions {
  /** The AuthnRequest's ID; null: IdP-initiated (no InResponseTo anywhere). */
  inResponseTo: string | null;
  nameId: string;
  email?: string;
  acsUrl: string;
  audience: string;
  /** Default: the ACS URL. */
  destination?: string | null;
  recipient?: string;
  /** Offsets from now, in seconds. */
  notBefore?: number;
  notOnOrAfter?: number;
  issuer?: string;
  authnContext?: string;
  assertionId?: string;
  /** Raw XML put inside NameID instead of the escaped nameId (comment injection). */
  nameIdXml?: string;
}

const escape = (value: string): string => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const iso = (offsetSeconds: number): string => new Date(Date.now() + offsetSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
export const newId = (): string => `_${randomBytes(16).toString('hex')}`;

export class TestSamlIdp {
  readonly key: string;
  readonly cert: string;
  readonly certBase64: string;

  constructor(
    readonly entityId = `https://idp-${randomBytes(4).toString('hex')}.test/saml`,
    readonly ssoUrl = `${entityId}/sso`,
  ) {
    ({ key: this.key, cert: this.cert, certBase64: this.certBase64 } = selfSignedCertificate({ commonName: 'Keyhold test SAML IdP', keyType: 'rsa' }));
  }

  metadata(): string {
    return `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${escape(this.entityId)}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${this.certBase64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${escape(this.ssoUrl)}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`;
  }

  /** An unsigned response (XML text). */
  response(o: ResponseOptions): string {
    const inResponseTo = o.inResponseTo === null ? '' : ` InResponseTo="${escape(o.inResponseTo)}"`;
    const destination = o.destination === null ? '' : ` Destination="${escape(o.destination ?? o.acsUrl)}"`;
    const issuer = escape(o.issuer ?? this.entityId);
    const nameId = o.nameIdXml ?? escape(o.nameId);
    const email = o.email === undefined ? '' : `<saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue>${escape(o.email)}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>`;
    return `<samlp:Response xmlns:samlp="${SAMLP_NS}" xmlns:saml="${SAML_NS}" ID="${newId()}" Version="2.0" IssueInstant="${iso(0)}"${destination}${inResponseTo}>` +
      `<saml:Issuer>${issuer}</saml:Issuer>` +
      `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
      `<saml:Assertion xmlns:saml="${SAML_NS}" ID="${o.assertionId ?? newId()}" Version="2.0" IssueInstant="${iso(0)}">` +
      `<saml:Issuer>${issuer}</saml:Issuer>` +
      `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${nameId}</saml:NameID>` +
      `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${iso(o.notOnOrAfter ?? 300)}" Recipient="${escape(o.recipient ?? o.acsUrl)}"${inResponseTo}/></saml:SubjectConfirmation></saml:Subject>` +
      `<saml:Conditions NotBefore="${iso(o.notBefore ?? -30)}" NotOnOrAfter="${iso(o.notOnOrAfter ?? 300)}"><saml:AudienceRestriction><saml:Audience>${escape(o.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
      `<saml:AuthnStatement AuthnInstant="${iso(-5)}" SessionIndex="${newId()}"><saml:AuthnContext><saml:AuthnContextClassRef>${escape(o.authnContext ?? 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport')}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
      email +
      `</saml:Assertion></samlp:Response>`;
  }

  /** Signs the assertion, the response, or both (assertion first: the response's digest covers it). */
  sign(xml: string, what: { assertion?: boolean; response?: boolean } = { assertion: true }): string {
    let signed = xml;
    if (what.assertion) signed = this.signElement(signed, 'Assertion');
    if (what.response) signed = this.signElement(signed, 'Response');
    return signed;
  }

  private signElement(xml: string, localName: 'Assertion' | 'Response'): string {
    const signer = new SignedXml({
      privateKey: this.key,
      publicCert: this.cert,
      canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
      signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    });
    const element = localName === 'Response' ? "/*[local-name(.)='Response']" : "/*[local-name(.)='Response']/*[local-name(.)='Assertion']";
    signer.addReference({
      xpath: element,
      transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
      digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
    });
    signer.computeSignature(xml, { location: { reference: `${element}/*[local-name(.)='Issuer']`, action: 'after' } });
    return signer.getSignedXml();
  }
}

/** The AuthnRequest's ID from an HTTP-Redirect authorization URL. */
export function authnRequestId(authorizationUrl: string): string {
  const encoded = new URL(authorizationUrl).searchParams.get('SAMLRequest');
  if (!encoded) throw new Error('no SAMLRequest in the URL');
  const xml = inflateRawSync(Buffer.from(encoded, 'base64')).toString('utf8');
  const id = /\sID="([^"]+)"/.exec(xml)?.[1];
  if (!id) throw new Error('no ID in the AuthnRequest');
  return id;
}

export const base64 = (xml: string): string => Buffer.from(xml, 'utf8').toString('base64');
