/**
 * Stream features (RFC 6120 §4.3.2) for each stage of negotiation: STARTTLS (§5), SASL mechanisms (§6) with
 * their channel-binding types (XEP-0440) and in-band registration (XEP-0077), then binding (§7) with the
 * session (RFC 3921), stream management (XEP-0198), CSI (XEP-0352) and roster versioning (RFC 6121 §2.6), and
 * always the server's entity capabilities (XEP-0115).
 */
import { el, type Element } from '../xml/element.js';
import { serialize } from '../xml/serialize.js';
import { CAPS_NODE, CAPS_VER } from './iq-handlers.js';
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
  children.push(el('c', { xmlns: NS.caps, hash: 'sha-1', node: CAPS_NODE, ver: CAPS_VER }));
  const inner = children.map((c) => serialize(c, NS.client)).join('');
  return transport.framed ? `<stream:features xmlns:stream="${NS.streams}">${inner}</stream:features>` : `<stream:features>${inner}</stream:features>`;
}
