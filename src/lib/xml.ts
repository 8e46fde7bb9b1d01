// XML reading for SAML metadata and responses: @xmldom/xmldom and xpath (the parsers node-saml
// itself uses), loaded untyped so that their DOM typings (lib "dom") stay out of the server's
// compilation; the little used here is typed below.
import { createRequire } from 'node:module';

export interface XmlNode {
  nodeType: number;
  nodeValue: string | null;
  textContent: string | null;
  localName: string | null;
  namespaceURI: string | null;
  childNodes: ArrayLike<XmlNode>;
  getAttribute(name: string): string | null;
}
export interface XmlDocument extends XmlNode {
  documentElement: XmlNode | null;
}

const requireCjs = createRequire(import.meta.url);
const { DOMParser } = requireCjs('@xmldom/xmldom') as {
  DOMParser: new (options: { onError?: (level: string, message: string) => void; errorHandler?: unknown }) => { parseFromString(xml: string, type: string): XmlDocument };
};
const xpath = requireCjs('xpath') as {
  useNamespaces(map: Record<string, string>): (expression: string, node: XmlNode) => XmlNode[];
};

/** A parsed document, or null for malformed XML or any document type declaration (no entities). */
export function parseXml(xml: string): XmlDocument | null {
  if (/<!DOCTYPE/i.test(xml)) return null;
  let failed = false;
  try {
    const onError = () => void (failed = true);
    const doc = new DOMParser({ errorHandler: { warning: () => undefined, error: onError, fatalError: onError } }).parseFromString(xml, 'text/xml');
    return failed || !doc.documentElement ? null : doc;
  } catch {
    return null;
  }
}

/** An XPath selector with these namespace prefixes; returns nodes (elements, attributes, text). */
export const xpathSelector = (namespaces: Record<string, string>) => xpath.useNamespaces(namespaces);

/** The value of the first node (an attribute's value, a text node's data), or null. */
export const firstValue = (nodes: XmlNode[]): string | null => {
  const node = nodes[0];
  return node ? (node.nodeValue ?? node.textContent ?? null) : null;
};
