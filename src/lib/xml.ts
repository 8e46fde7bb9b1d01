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
  /** The attribute of that (unprefixed) name, or null: xmldom's getAttribute gives '' for a missing one. */
  getAttributeNode(name: string): XmlNode | null;
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

const ELEMENT = 1;
const TEXT = 3;
const CDATA = 4;
const COMMENT = 8;

/**
 * One step of a path, as XPath's `parent/ns:name` over every parent: the child elements of
 * `parents` in namespace `namespace` named `localName`, in document order. A walk of the
 * children, a fraction of what the xpath package costs for the same (bench/sso.ts).
 */
export function childElements(parents: readonly XmlNode[], namespace: string, localName: string): XmlNode[] {
  const found: XmlNode[] = [];
  for (const parent of parents) {
    const children = parent.childNodes;
    for (let i = 0; i < children.length; i++) {
      const child = children[i]!;
      if (child.nodeType === ELEMENT && child.localName === localName && child.namespaceURI === namespace) found.push(child);
    }
  }
  return found;
}

/** The values of the attribute `name` (unprefixed) of each element that has it, as XPath's `@name`. */
export const attributeValues = (elements: readonly XmlNode[], name: string): string[] =>
  elements.flatMap((element) => {
    const attribute = element.getAttributeNode(name);
    return attribute ? [attribute.nodeValue ?? ''] : [];
  });

/** The text and CDATA children's values of each element, one entry each, as XPath's `text()`. */
export const textValues = (elements: readonly XmlNode[]): string[] =>
  elements.flatMap((element) => Array.from(element.childNodes).filter((n) => n.nodeType === TEXT || n.nodeType === CDATA).map((n) => n.nodeValue ?? ''));

/** Whether any element under `root` (itself included) in `namespace` named one of `localNames` has a comment child. */
export function hasCommentChild(root: XmlNode, namespace: string, localNames: ReadonlySet<string>): boolean {
  // A stack, not recursion: the document is the sender's, and may nest deep.
  const stack: XmlNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const watched = node.namespaceURI === namespace && localNames.has(node.localName ?? '');
    const children = node.childNodes;
    for (let i = 0; i < children.length; i++) {
      const child = children[i]!;
      if (child.nodeType === ELEMENT) stack.push(child);
      else if (watched && child.nodeType === COMMENT) return true;
    }
  }
  return false;
}
