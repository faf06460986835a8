/**
 * The client's stream header (RFC 6120 §4.7-4.8) and the stream features (§4.3.2) for each stage of negotiation: STARTTLS (§5), SASL mechanisms (§6) with
 * their channel-binding types (XEP-0440) and in-band registration (XEP-0077), then binding (§7) with the
 * session (RFC 3921), stream management (XEP-0198), CSI (XEP-0352) and roster versioning (RFC 6121 §2.6), and
 * always the server's entity capabilities (XEP-0115).
 */
import { parseAddress } from '../../../core/address.js';
import { el, type Element } from '../xml/element.js';
import { serialize } from '../xml/serialize.js';
import type { StreamErrorCondition } from '../xml/stream-parser.js';
import { CAPS_NODE, discoOf } from './iq-handlers.js';
import { NS } from './ns.js';
import { registrationOpen } from './registration.js';
import { channelBindingTypesOf, mechanisms } from './sasl.js';
import type { Transport } from './transport.js';
import type { XmppOptions } from './types.js';

/** Where negotiation stands: before SASL, between SASL and binding, or bound. */
export type NegotiationStage = 'authenticate' | 'bind' | 'bound';

/** What the features depend on. */
export interface FeaturesHost {
  readonly transport: Transport;
  readonly opts: XmppOptions;
  /** The served domain of the stream (registration is per domain). */
  readonly domain: string;
}

/** The stream features for the current stage (RFC 6120 §4.3.2). */
export function featuresXml(host: FeaturesHost, stage: NegotiationStage): string {
  const { transport, opts } = host;
  const children: Element[] = [];
  if (stage === 'authenticate') {
    const tlsNow = transport.secure();
    if (!tlsNow && transport.canStartTls()) {
      const st = el('starttls', { xmlns: NS.tls });
      if (opts.requireTls) st.append(el('required', null));
      children.push(st);
    }
    // Mechanisms once TLS is up, or where the operator does not require it (WebSocket: TLS is the HTTP
    // listener's or a proxy's business, so that door never requires it here).
    if (tlsNow || !opts.requireTls) {
      const mechs = el('mechanisms', { xmlns: NS.sasl });
      for (const m of mechanisms(transport, opts)) mechs.append(el('mechanism', null, m));
      children.push(mechs);
      const cbTypes = channelBindingTypesOf(transport);
      if (cbTypes.length > 0) {
        // XEP-0440: which channel-binding types the -PLUS mechanisms accept here.
        children.push(el('sasl-channel-binding', { xmlns: NS.saslCb }, ...cbTypes.map((t) => el('channel-binding', { type: t }))));
      }
      if (registrationOpen(host)) children.push(el('register', { xmlns: NS.registerFeature }));
    }
  } else if (stage === 'bind') {
    children.push(el('bind', { xmlns: NS.bind }));
    children.push(el('session', { xmlns: NS.session }, el('optional', null)));
    children.push(el('sm', { xmlns: NS.sm }));
    children.push(el('csi', { xmlns: NS.csi }));
    children.push(el('ver', { xmlns: NS.rosterVer }));
  }
  // XEP-0115 §6.3: the server's own capabilities, so clients can cache its features.
  children.push(el('c', { xmlns: NS.caps, hash: 'sha-1', node: CAPS_NODE, ver: discoOf(opts.extensions).capsVer }));
  const inner = children.map((c) => serialize(c, NS.client)).join('');
  return transport.framed ? `<stream:features xmlns:stream="${NS.streams}">${inner}</stream:features>` : `<stream:features>${inner}</stream:features>`;
}

/**
 * A client's stream header judged: the domain the stream is for, or (with `error`) the stream error that ends
 * it and the domain that error's header names.
 */
export interface HeaderVerdict {
  domain: string;
  error: { condition: StreamErrorCondition; text: string } | null;
}

/**
 * Checks the header of a client stream or of its restart. `current` is the stream's domain so far ('' before
 * the first header); `hosts` tells the domains this server serves.
 */
export function checkStreamHeader(attrs: Record<string, string>, current: string, hosts: { hostsDomain(domain: string): boolean }, defaultDomain: string): HeaderVerdict {
  // RFC 6120 §4.7.2: the stream is for the domain in `to`; it must be one this server serves.
  const to = attrs.to;
  let domain: string | null = null;
  if (to !== undefined) {
    try {
      const a = parseAddress(to);
      if (a.local === null && a.resource === null) domain = a.domain;
    } catch {
      domain = null;
    }
  }
  if (domain === null || !hosts.hostsDomain(domain)) {
    return { domain: defaultDomain, error: { condition: 'host-unknown', text: `this server does not serve ${to ?? '(no "to" address)'}` } };
  }
  if (current !== '' && domain !== current) {
    return { domain: current, error: { condition: 'invalid-from', text: 'the stream was restarted for another domain' } };
  }
  // §4.8.2: the content namespace must be jabber:client on a client stream.
  if ((attrs.xmlns ?? NS.client) !== NS.client) {
    return { domain, error: { condition: 'invalid-namespace', text: 'the content namespace of a client stream is jabber:client' } };
  }
  // §4.7.5: version 1.0 (a missing version means a pre-RFC stream, which has no stream features).
  const version = attrs.version;
  if (version === undefined || !/^1\.\d+$/.test(version)) {
    return { domain, error: { condition: 'unsupported-version', text: 'this server speaks XMPP 1.0 streams' } };
  }
  return { domain, error: null };
}
