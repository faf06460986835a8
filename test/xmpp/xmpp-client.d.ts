/**
 * The part of @xmpp/client (xmpp.js 0.14, which ships no type declarations) that the tests use (test/xmpp/xmppjs.ts).
 */
declare module '@xmpp/client' {
  import type { EventEmitter } from 'node:events';

  /** An @xmpp/xml element (ltx). */
  export interface XmlElement {
    name: string;
    attrs: Record<string, string | undefined>;
    children: Array<XmlElement | string>;
    is(name: string, xmlns?: string): boolean;
    getNS(): string | undefined;
    getChild(name: string, xmlns?: string): XmlElement | undefined;
    getChildren(name: string, xmlns?: string): XmlElement[];
    getChildText(name: string, xmlns?: string): string | null;
    getChildElements(): XmlElement[];
    text(): string;
    toString(): string;
  }

  export interface Jid {
    local: string;
    domain: string;
    resource: string;
    bare(): Jid;
    toString(): string;
  }

  export interface ClientOptions {
    service: string;
    domain?: string;
    resource?: string;
    username?: string;
    password?: string;
    timeout?: number;
  }

  export interface XmppClient extends EventEmitter {
    jid: Jid | null;
    status: string;
    /** The transport socket wrapper; `.socket` is the node socket (a TLSSocket once STARTTLS is done). */
    socket: { socket: import('node:net').Socket | import('node:tls').TLSSocket | null } | null;
    start(): Promise<Jid>;
    stop(): Promise<unknown>;
    send(...elements: XmlElement[]): Promise<void>;
    isSecure(): boolean;
    iqCaller: { request(iq: XmlElement, timeout?: number): Promise<XmlElement> };
    /** Answers iq get requests whose child is `name` in `xmlns`; the handler returns the result's child. */
    iqCallee: { get(xmlns: string, name: string, handler: (ctx: { stanza: XmlElement; element: XmlElement }) => XmlElement | Promise<XmlElement>): void };
    reconnect: { stop(): void };
  }

  export function client(options: ClientOptions): XmppClient;
  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: Array<XmlElement | string>): XmlElement;
  export function jid(local: string, domain?: string, resource?: string): Jid;
}
