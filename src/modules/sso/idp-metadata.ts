// What Keyhold needs from a SAML identity provider's metadata (the XML its admin downloads):
// its entity ID, where to send the HTTP-Redirect AuthnRequest, and the certificates it signs with.
import { parseXml, xpathSelector } from '../../lib/xml.js';

export interface IdpSettings {
  entityId: string;
  ssoUrl: string;
  /** Base64 DER bodies of the signing certificates (PEM without armour). */
  certificates: string[];
}

const REDIRECT_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const select = xpathSelector({ md: 'urn:oasis:names:tc:SAML:2.0:metadata', ds: 'http://www.w3.org/2000/09/xmldsig#' });

/** The IdP's settings, or null when the XML is not usable IdP metadata. */
export function parseIdpMetadata(xml: string): IdpSettings | null {
  // A document type (and so any entity expansion) is refused by parseXml.
  const doc = parseXml(xml);
  if (!doc) return null;
  const descriptor = select('//md:EntityDescriptor[md:IDPSSODescriptor]', doc)[0];
  if (!descriptor) return null;
  const entityId = descriptor.getAttribute('entityID');
  const sso = select(`md:IDPSSODescriptor/md:SingleSignOnService[@Binding='${REDIRECT_BINDING}']/@Location`, descriptor);
  const certNodes = select(
    "md:IDPSSODescriptor/md:KeyDescriptor[not(@use) or @use='signing']/ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()",
    descriptor,
  );
  const certificates = [...new Set(certNodes.map((node) => (node.nodeValue ?? '').replace(/\s+/g, '')).filter(Boolean))];
  const ssoUrl = sso[0]?.nodeValue;
  if (!entityId || !ssoUrl || !/^https?:\/\//.test(ssoUrl) || certificates.length === 0) return null;
  return { entityId, ssoUrl, certificates };
}
