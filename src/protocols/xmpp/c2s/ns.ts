/** XML namespaces of the XMPP protocols and extensions the client front door speaks (RFCs and XEPs cited). */
export const NS = {
  client: 'jabber:client', // RFC 6120 §4.8.2
  streams: 'http://etherx.jabber.org/streams', // RFC 6120 §4.8.1
  streamErrors: 'urn:ietf:params:xml:ns:xmpp-streams', // RFC 6120 §4.9.2
  stanzaErrors: 'urn:ietf:params:xml:ns:xmpp-stanzas', // RFC 6120 §8.3.2
  tls: 'urn:ietf:params:xml:ns:xmpp-tls', // RFC 6120 §5.4
  sasl: 'urn:ietf:params:xml:ns:xmpp-sasl', // RFC 6120 §6.4
  bind: 'urn:ietf:params:xml:ns:xmpp-bind', // RFC 6120 §7
  session: 'urn:ietf:params:xml:ns:xmpp-session', // RFC 3921 §3, kept optional (RFC 6121 Appendix E)
  framing: 'urn:ietf:params:xml:ns:xmpp-framing', // RFC 7395 §3.3
  roster: 'jabber:iq:roster', // RFC 6121 §2
  rosterVer: 'urn:xmpp:features:rosterver', // RFC 6121 §2.6
  saslCb: 'urn:xmpp:sasl-cb:0', // XEP-0440
  discoInfo: 'http://jabber.org/protocol/disco#info', // XEP-0030
  discoItems: 'http://jabber.org/protocol/disco#items', // XEP-0030
  caps: 'http://jabber.org/protocol/caps', // XEP-0115
  ping: 'urn:xmpp:ping', // XEP-0199
  sid: 'urn:xmpp:sid:0', // XEP-0359
  carbons: 'urn:xmpp:carbons:2', // XEP-0280
  forward: 'urn:xmpp:forward:0', // XEP-0297
  delay: 'urn:xmpp:delay', // XEP-0203
  mam: 'urn:xmpp:mam:2', // XEP-0313
  rsm: 'http://jabber.org/protocol/rsm', // XEP-0059
  dataForms: 'jabber:x:data', // XEP-0004
  sm: 'urn:xmpp:sm:3', // XEP-0198
  blocking: 'urn:xmpp:blocking', // XEP-0191
  csi: 'urn:xmpp:csi:0', // XEP-0352
  muc: 'http://jabber.org/protocol/muc', // XEP-0045
  mucUser: 'http://jabber.org/protocol/muc#user',
  mucAdmin: 'http://jabber.org/protocol/muc#admin',
  mucOwner: 'http://jabber.org/protocol/muc#owner',
  conference: 'jabber:x:conference',
  vcard: 'vcard-temp', // XEP-0054
  register: 'jabber:iq:register', // XEP-0077
  registerFeature: 'http://jabber.org/features/iq-register',
  version: 'jabber:iq:version', // XEP-0092
  time: 'urn:xmpp:time', // XEP-0202
  lastActivity: 'jabber:iq:last', // XEP-0012
  chatStates: 'http://jabber.org/protocol/chatstates', // XEP-0085
  receipts: 'urn:xmpp:receipts', // XEP-0184
  markers: 'urn:xmpp:chat-markers:0', // XEP-0333
  correct: 'urn:xmpp:message-correct:0', // XEP-0308
  retract: 'urn:xmpp:message-retract:1', // XEP-0424
  idle: 'urn:xmpp:idle:1', // XEP-0319
  hints: 'urn:xmpp:hints', // XEP-0334
  pubsub: 'http://jabber.org/protocol/pubsub', // XEP-0060
  pubsubEvent: 'http://jabber.org/protocol/pubsub#event', // XEP-0060 §7.1.2
  parleyPresence: 'urn:parley:presence:0', // Parley's rich presence (state, activity, session count)
} as const;
