/**
 * The element model for XMPP stanzas (RFC 6120 §4.1: a stanza is a first-level child of the stream, with its
 * descendants). Deliberately small: one object per element, attributes as a plain record, text as plain
 * string children. No parent pointers, so a stanza can be handed on or dropped without cycles.
 *
 * Namespaces: `xmlns` is the element's namespace name. Parsed elements always carry a string (RFC 6120 §4.8.2:
 * the stream's default namespace, e.g. jabber:client, applies to stanzas that do not declare one; '' means
 * "no namespace", from xmlns=''). Elements built in code may leave it null, meaning "whatever namespace the
 * context has": the serializer then writes no xmlns attribute, which is what a builder usually wants.
 */

/** A child of an element: another element or a run of character data (already unescaped). */
export type Node = Element | string;

/** One XML element: local name, namespace, attributes by qualified name (xmlns itself excluded), children. */
export class Element {
  /** Local name (no prefix). */
  name: string;
  /** Namespace name; null only for built elements that inherit the namespace of their context. */
  xmlns: string | null;
  /** Attributes by qualified name ('to', 'xml:lang'); the default namespace declaration lives in `xmlns`. */
  attrs: Record<string, string>;
  /** Child elements and text, in document order. */
  children: Node[];

  /** Takes ownership of `attrs` and `children` (no copies). */
  constructor(name: string, xmlns: string | null = null, attrs: Record<string, string> = {}, children: Node[] = []) {
    this.name = name;
    this.xmlns = xmlns;
    this.attrs = attrs;
    this.children = children;
  }

  /** The value of attribute `name` (qualified name, e.g. 'xml:lang'), or undefined. */
  attr(name: string): string | undefined {
    const attrs = this.attrs;
    return Object.prototype.hasOwnProperty.call(attrs, name) ? attrs[name] : undefined;
  }

  /** The first child element called `name` (and in namespace `xmlns`, when given), or undefined. */
  getChild(name: string, xmlns?: string): Element | undefined {
    for (const child of this.children) {
      if (typeof child !== 'string' && child.name === name && (xmlns === undefined || child.xmlns === xmlns)) return child;
    }
    return undefined;
  }

  /** Every child element called `name` (and in namespace `xmlns`, when given), in document order. */
  getChildren(name: string, xmlns?: string): Element[] {
    const out: Element[] = [];
    for (const child of this.children) {
      if (typeof child !== 'string' && child.name === name && (xmlns === undefined || child.xmlns === xmlns)) out.push(child);
    }
    return out;
  }

  /** The element's own text: its string children concatenated (descendants' text is not included). */
  text(): string {
    const children = this.children;
    // The parser merges adjacent text, so the usual case is zero or one string child: no concatenation.
    let out = '';
    for (let i = 0; i < children.length; i++) {
      const child = children[i];
      if (typeof child === 'string') out = out === '' ? child : out + child;
    }
    return out;
  }

  /** Appends a child and returns this element, for chaining. */
  append(child: Node): this {
    this.children.push(child);
    return this;
  }
}

/**
 * Builds an element: `el('message', { to, type: 'chat', xmlns: 'jabber:client' }, el('body', {}, 'hi'))`.
 * `attrs.xmlns` becomes the element's namespace; an absent one leaves it null (inherit from the context).
 * Undefined attribute values are skipped, so optional attributes can be passed straight through.
 */
export function el(name: string, attrs?: Record<string, string | undefined> | null, ...children: Node[]): Element {
  let xmlns: string | null = null;
  const own: Record<string, string> = {};
  if (attrs) {
    for (const key in attrs) {
      const value = attrs[key];
      if (value === undefined) continue;
      if (key === 'xmlns') xmlns = value;
      else own[key] = value;
    }
  }
  return new Element(name, xmlns, own, children);
}
