/**
 * XEP-0215 external service discovery: clients learn which STUN and TURN servers to use for audio and video calls
 * (Jingle, WebRTC), with time-limited credentials for TURN servers that share a secret with Parley. XMPP clients
 * ask the server (`urn:xmpp:extdisco:2`), JSON clients use `extdisco.services`.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ParleyError } from '../../core/errors.js';
import { op } from '../../protocols/json-ws/ops.js';
import { el, type Element } from '../../protocols/xmpp/xml/element.js';
import { defineModule } from '../api.js';
import { turnCredentials } from './credentials.js';
import { extdiscoOptions, type ServiceOptions } from './options.js';

/** XEP-0215 version 2's namespace. */
export const NS_EXTDISCO = 'urn:xmpp:extdisco:2';

/** A service as a client is told about it. */
export interface ServiceView {
  type: string;
  host: string;
  port: number;
  transport?: string;
  name?: string;
  /** TURN with a shared secret: credentials valid until `expires` (Unix seconds). */
  username?: string;
  password?: string;
  expires?: number;
  restricted?: boolean;
}

/** The extdisco module. */
export const extdisco = defineModule({
  name: 'extdisco',
  summary: 'XEP-0215 external service discovery: STUN and TURN servers for calls, with time-limited TURN credentials',
  options: extdiscoOptions,
  setup(api) {
    const services = api.options.services.map((s, i) => ({ ...s, secret: secretOf(s, i) }));
    /** What `user` is told: every service (of `type`), with fresh credentials where a secret is shared. */
    const viewFor = (user: string, type: string | undefined, host?: string): ServiceView[] =>
      services
        .filter((s) => (type === undefined || s.type === type) && (host === undefined || s.host === host))
        .map((s) => {
          const v: ServiceView = { type: s.type, host: s.host, port: s.port };
          if (s.transport) v.transport = s.transport;
          if (s.name) v.name = s.name;
          if (s.secret !== undefined) Object.assign(v, turnCredentials(s.secret, user, Date.now(), s.credentialSeconds), { restricted: true });
          return v;
        });
    const element = (name: 'services' | 'credentials', list: ServiceView[], type?: string): Element =>
      el(
        name,
        { xmlns: NS_EXTDISCO, type },
        ...list.map((v) =>
          el('service', {
            type: v.type,
            host: v.host,
            port: String(v.port),
            transport: v.transport,
            name: v.name,
            username: v.username,
            password: v.password,
            // §3.2: when the credentials stop working, as an XEP-0082 date and time.
            expires: v.expires === undefined ? undefined : new Date(v.expires * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
            restricted: v.restricted ? '1' : undefined,
          }),
        ),
      );

    // §3.1 every service (or those of one type), credentials included (§3.2 allows it in the same answer).
    api.xmppIq(NS_EXTDISCO, 'services', {
      targets: ['server'],
      async get({ session, payload }) {
        const type = payload.attr('type');
        return element('services', viewFor(session.user, type), type);
      },
    });
    // §3.3 credentials for one service, by host (and type).
    api.xmppIq(NS_EXTDISCO, 'credentials', {
      targets: ['server'],
      async get({ session, payload }) {
        const asked = payload.getChild('service');
        const host = asked?.attr('host');
        if (!host) throw new ParleyError('bad-request', 'name the service: <service host="..." type="..."/>');
        const list = viewFor(session.user, asked?.attr('type'), host).filter((v) => v.username !== undefined);
        if (list.length === 0) throw new ParleyError('item-not-found', `no service at ${host} takes credentials from this server`);
        return element('credentials', list);
      },
    });
    api.xmppFeature(NS_EXTDISCO, 'server');
    // The same for JSON clients (a web client's WebRTC ICE servers); `type` narrows it.
    api.jsonOp(
      'extdisco.services',
      op(z.strictObject({ type: z.enum(['stun', 'stuns', 'turn', 'turns']).optional() }), async ({ session }, p) => ({ services: viewFor(session.user, p.type) })),
    );
  },
});

/** The secret of a TURN service from `secret` or `secretFile`; a file that cannot be read stops the start. */
function secretOf(s: ServiceOptions, i: number): string | undefined {
  if (s.secretFile === undefined) return s.secret;
  try {
    const v = readFileSync(s.secretFile, 'utf8').trim();
    if (v.length < 16) throw new Error('shorter than 16 characters');
    return v;
  } catch (e) {
    throw new ParleyError('bad-request', `modules.extdisco.services[${i}].secretFile ${s.secretFile}: ${(e as Error).message}`);
  }
}
