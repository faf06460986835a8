/**
 * IQ payload handlers of a bound session, by namespace and element name. Each returns the payload of the
 * result (or null for an empty result) or throws a ParleyError that becomes the stanza error.
 *
 * Targets (who the iq is addressed to) decide what a query means: disco#info to the server describes the
 * server, to the user's own or another account describes that account (RFC 6121 §8.5.1: the server answers
 * on an account's behalf), to the room service or a room describes MUC (XEP-0045 §6).
 */
import { createHash } from 'node:crypto';
import { ParleyError } from '../../../core/errors.js';
import { rosterVersion } from '../../../engine/roster-service.js';
import { parseAddress } from '../../../core/address.js';
import { el, type Element } from '../xml/element.js';
import { rosterItem, stamp } from './encode.js';
import { adminGet, adminSet, ownerGet, ownerSet } from './muc-admin.js';
import { roomDiscoInfo, roomDiscoItems } from './muc.js';
import { NS } from './ns.js';
import type { DiscoForm, DiscoIdentity, IqHandler, XmppExtensions } from './types.js';

export type { IqContext, IqHandler, IqTarget } from './types.js';

/** Features of the server itself in disco#info (XEP-0030), in the order listed; modules add theirs after. */
const SERVER_FEATURES = [
  NS.discoInfo,
  NS.discoItems,
  NS.ping,
  NS.version,
  NS.time,
  NS.sid,
  NS.csi,
  NS.sm,
  NS.rosterVer,
  'msgoffline',
  NS.receipts,
];

const SERVER_IDENTITY: DiscoIdentity = { category: 'server', type: 'im', name: 'Parley' };

/** The node of the server's entity capabilities (XEP-0115 §4). */
export const CAPS_NODE = 'urn:parley:server';

/** Features of every account (the server answers for it, XEP-0030); modules add theirs after. */
const ACCOUNT_FEATURES = [NS.discoInfo, NS.discoItems, NS.sid];

/** What disco#info says of the server and of accounts, with the modules' features. */
export interface Disco {
  /** The server's identities: its own first, then the modules'. */
  readonly serverIdentities: readonly DiscoIdentity[];
  readonly serverFeatures: readonly string[];
  /** XEP-0128 forms of the server, sorted by FORM_TYPE. */
  readonly serverForms: readonly DiscoForm[];
  readonly accountFeatures: readonly string[];
  /** XEP-0115 §5.1 verification string of the server's disco#info (identity and features), SHA-1, base64. */
  readonly capsVer: string;
}

const discoCache = new WeakMap<XmppExtensions, { generation: number; disco: Disco }>();

/**
 * The server's and accounts' features with those of `ext`, and the caps hash over them (computed once, and again
 * when `ext.generation` changed).
 */
export function discoOf(ext: XmppExtensions): Disco {
  const cached = discoCache.get(ext);
  const generation = ext.generation ?? 0;
  if (cached && cached.generation === generation) return cached.disco;
  const serverIdentities = [SERVER_IDENTITY, ...ext.serverIdentities];
  const serverFeatures = [...new Set([...SERVER_FEATURES, ...ext.serverFeatures])];
  const serverForms = [...ext.serverForms].sort((a, b) => (a.formType < b.formType ? -1 : a.formType > b.formType ? 1 : 0));
  const accountFeatures = [...new Set([...ACCOUNT_FEATURES, ...ext.accountFeatures])];
  // §5.1: identities (category/type/lang/name), then features, then (§5.4 step 3) each extended form: FORM_TYPE,
  // then its other fields by var, each var followed by its sorted values; every item followed by '<'.
  const identities = serverIdentities.map((i) => `${i.category}/${i.type}//${i.name ?? ''}<`).sort();
  const forms = serverForms.map((f) => {
    const fields = Object.keys(f.fields).sort().map((v) => `${v}<${valuesOf(f.fields[v]!).sort().map((x) => `${x}<`).join('')}`);
    return `${f.formType}<${fields.join('')}`;
  });
  const capsVer = createHash('sha1')
    .update(`${identities.join('')}${[...serverFeatures].sort().map((f) => `${f}<`).join('')}${forms.join('')}`)
    .digest('base64');
  const d: Disco = { serverIdentities, serverFeatures, serverForms, accountFeatures, capsVer };
  discoCache.set(ext, { generation, disco: d });
  return d;
}

const valuesOf = (v: string | readonly string[]): string[] => (typeof v === 'string' ? [v] : [...v]);

/** An XEP-0128 form as a `jabber:x:data` result (XEP-0004 §3.4), FORM_TYPE hidden and first (XEP-0068 §2). */
function discoForm(f: DiscoForm): Element {
  const x = el('x', { xmlns: NS.dataForms, type: 'result' }, el('field', { var: 'FORM_TYPE', type: 'hidden' }, el('value', {}, f.formType)));
  for (const [name, v] of Object.entries(f.fields)) x.append(el('field', { var: name }, ...valuesOf(v).map((value) => el('value', {}, value))));
  return x;
}

/** The handler of an iq payload: the core's, else a module's. */
export function iqHandlerOf(ext: XmppExtensions, key: string): IqHandler | undefined {
  return handlers.get(key) ?? ext.iq.get(key);
}

/** Extensions of a server without modules (tests of the front door alone). */
export const NO_EXTENSIONS: XmppExtensions = { iq: new Map(), serverFeatures: [], accountFeatures: [], roomFeatures: [], serverIdentities: [], serverForms: [] };

const handlers = new Map<string, IqHandler>();
const on = (ns: string, name: string, h: IqHandler): void => {
  handlers.set(`${ns} ${name}`, h);
};

// RFC 6121 §2: the roster, with versioning (§2.6).
on(NS.roster, 'query', {
  targets: ['self'],
  async get({ conn, session, payload }) {
    conn.rosterRequested = true;
    const entries = await conn.engine.rosters.get(session.user);
    const ver = rosterVersion(entries);
    // §2.6.3: the client's version is current: an empty result, changes follow as pushes.
    if (payload.attr('ver') === ver) return null;
    return el('query', { xmlns: NS.roster, ver }, ...entries.map((e) => rosterItem(e)));
  },
  async set({ conn, session, payload }) {
    const items = payload.getChildren('item');
    // §2.3.3: exactly one item per roster set.
    if (items.length !== 1) throw new ParleyError('bad-request', 'a roster set carries exactly one <item/>');
    const item = items[0]!;
    const jid = item.attr('jid');
    if (!jid) throw new ParleyError('bad-request', 'the item needs a jid');
    const contact = bareAddress(jid);
    if (item.attr('subscription') === 'remove') {
      await conn.engine.rosters.remove(session.user, contact);
      return null;
    }
    const groups = item.getChildren('group').map((g) => g.text());
    if (new Set(groups).size !== groups.length) throw new ParleyError('bad-request', 'a group is listed twice');
    if (groups.some((g) => g.trim() === '')) throw new ParleyError('not-acceptable', 'a group name is empty');
    await conn.engine.rosters.set(session.user, contact, item.attr('name') || null, groups);
    return null;
  },
});

// XEP-0030 service discovery.
on(NS.discoInfo, 'query', {
  async get({ conn, session, payload, target }) {
    const node = payload.attr('node');
    const query = el('query', { xmlns: NS.discoInfo, node });
    switch (target.kind) {
      case 'server': {
        const disco = discoOf(conn.opts.extensions);
        // XEP-0115 §6.2: the caps node#ver is answered like the plain query.
        if (node !== undefined && node !== `${CAPS_NODE}#${disco.capsVer}`) throw new ParleyError('item-not-found', `no node ${node}`);
        for (const i of disco.serverIdentities) query.append(el('identity', { category: i.category, type: i.type, name: i.name }));
        for (const f of disco.serverFeatures) query.append(el('feature', { var: f }));
        for (const f of disco.serverForms) query.append(discoForm(f));
        return query;
      }
      case 'self':
      case 'account': {
        const pep = conn.opts.extensions.accountNodes;
        if (node !== undefined) {
          // XEP-0163 §9 / XEP-0060 §5.3: one of the account's PEP nodes, as the asker may see it.
          const info = pep && !conn.engine.entities.isEntity(target.bare) ? await pep.info(target.bare, session.user, node) : null;
          if (info === null) throw new ParleyError('item-not-found', `no node ${node}`);
          for (const i of info.identities) query.append(el('identity', { category: i.category, type: i.type, name: i.name }));
          for (const f of info.features) query.append(el('feature', { var: f }));
          for (const f of info.forms) query.append(discoForm(f));
          return query;
        }
        // A presence entity the asker may see (engine/entities.ts): a PEP service on its bare address
        // (XEP-0163 §1, identity pubsub/pep). One the asker may not see answers like an unknown address.
        if (target.kind === 'account' && (await conn.engine.entities.sees(target.bare, session.user))) {
          query.append(el('identity', { category: 'pubsub', type: 'pep' }));
          for (const f of [NS.discoInfo, ...(conn.opts.extensions.entityFeatures ?? [])]) query.append(el('feature', { var: f }));
          return query;
        }
        if (!(await conn.engine.ctx.directory.userExists(target.bare))) throw new ParleyError('service-unavailable', `no account ${target.bare}`);
        query.append(el('identity', { category: 'account', type: 'registered' }));
        // XEP-0163 §1: the account is a PEP service.
        if (pep) query.append(el('identity', { category: 'pubsub', type: 'pep' }));
        for (const f of discoOf(conn.opts.extensions).accountFeatures) query.append(el('feature', { var: f }));
        return query;
      }
      case 'rooms':
      case 'room':
        return roomDiscoInfo(conn, target, query);
      default:
        throw new ParleyError('remote-server-not-found', `${target.bare} is not served here`);
    }
  },
});

on(NS.discoItems, 'query', {
  async get({ conn, session, target }) {
    const query = el('query', { xmlns: NS.discoItems });
    if (target.kind === 'server') {
      // The room service of this domain (XEP-0045 §6.1).
      query.append(el('item', { jid: conn.engine.ctx.directory.roomDomainOf(target.bare), name: 'Rooms' }));
      // XEP-0114 §1 / XEP-0030 §4: the components connected now under this domain, so clients find them.
      for (const s of conn.engine.remoteServices(target.bare)) query.append(el('item', { jid: s.jid, ...(s.name !== undefined ? { name: s.name } : {}) }));
      return query;
    }
    if (target.kind === 'rooms' || target.kind === 'room') return roomDiscoItems(conn, session, target, query);
    // XEP-0163 §9: the account's PEP nodes the asker may see.
    const pep = conn.opts.extensions.accountNodes;
    if ((target.kind === 'self' || target.kind === 'account') && pep && !conn.engine.entities.isEntity(target.bare)) {
      for (const n of await pep.items(target.bare, session.user)) query.append(el('item', { jid: target.bare, node: n.node, name: n.name }));
    }
    return query;
  },
});

// XEP-0045 §9-10: room configuration, destruction, affiliation and role lists (muc-admin.ts).
on(NS.mucOwner, 'query', { targets: ['room'], get: ownerGet, set: ownerSet });
on(NS.mucAdmin, 'query', { targets: ['room'], get: adminGet, set: adminSet });

// XEP-0199 ping: answered by the server for itself and for the user's own account.
on(NS.ping, 'ping', { targets: ['server', 'self', 'rooms'], get: async () => null });

// XEP-0092 software version.
on(NS.version, 'query', {
  targets: ['server'],
  async get({ conn }) {
    return el('query', { xmlns: NS.version }, el('name', null, 'Parley'), el('version', null, conn.opts.version));
  },
});

// XEP-0202 entity time.
on(NS.time, 'time', {
  targets: ['server'],
  async get() {
    return el('time', { xmlns: NS.time }, el('tzo', null, 'Z'), el('utc', null, stamp(Date.now()).replace(/\.\d{3}Z$/, 'Z')));
  },
});

// RFC 3921 §3 session establishment: a no-op kept for older clients (RFC 6121 Appendix E).
on(NS.session, 'session', { targets: ['self', 'server'], set: async () => null });

// XEP-0077 after authentication: a password change (§3.3). Cancelling a registration is an administrator's job.
on(NS.register, 'query', {
  targets: ['self', 'server'],
  async get({ session }) {
    const local = session.user.slice(0, session.user.indexOf('@'));
    return el('query', { xmlns: NS.register }, el('registered', null), el('username', null, local), el('password', null));
  },
  async set({ conn, session, payload }) {
    if (payload.getChild('remove')) throw new ParleyError('not-allowed', 'accounts are removed by an administrator');
    const username = payload.getChild('username')?.text();
    const password = payload.getChild('password')?.text();
    if (username === undefined || password === undefined) throw new ParleyError('bad-request', 'a password change carries <username/> and <password/>');
    if (`${username.toLowerCase()}@${session.user.slice(session.user.indexOf('@') + 1)}` !== session.user && username !== session.user) {
      throw new ParleyError('not-authorized', 'you can only change your own password');
    }
    // The account's other sessions end (they may run on the old password); this one stays.
    await conn.engine.changePassword(session.user, password, session);
    return null;
  },
});

/** The core's handler table (modules may not take its keys). */
export const IQ_HANDLERS: ReadonlyMap<string, IqHandler> = handlers;

/** The bare address of a jid attribute (a roster item names an account, never a resource). */
function bareAddress(jid: string): string {
  const a = parseAddress(jid);
  if (a.local === null) throw new ParleyError('jid-malformed', `${jid} is not a user address`);
  return `${a.local}@${a.domain}`;
}
