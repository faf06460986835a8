/**
 * What a client session wants to be notified of, from its entity capabilities (XEP-0115): a presence carrying
 * `<c hash node ver/>` names a disco#info result, which the server asks the client for (XEP-0115 §6.3) unless it
 * already knows the ver. Features `<node>+notify` are the publish-subscribe nodes the client wants notifications
 * of (XEP-0163 §4.3, "filtered notifications"); the session records them as its interests (Engine.setInterests),
 * protocol-neutrally.
 *
 * A result is cached by ver for every session only once verified: its SHA-1 verification string (§5.1) equals
 * the ver, and it passes the checks of §5.4 (no duplicate identity, feature or form type). A ver with another
 * hash, or one that does not verify, serves only the session that sent it (§5.4: never trusted for others).
 */
import { createHash } from 'node:crypto';
import { el, type Element } from '../xml/element.js';
import { NS } from './ns.js';
import type { XmppStream } from './types.js';

/** How long the client has to answer the disco#info query. */
const QUERY_TIMEOUT_MS = 15_000;
/** Most verified vers kept (a client population has few). */
const CACHE_MAX = 10_000;
const NOTIFY = '+notify';

/** Verified vers → the nodes their features ask notifications of. */
const verified = new Map<string, ReadonlySet<string>>();

/** The nodes a disco#info result asks notifications of (features `<node>+notify`). */
export function notifyNodes(query: Element): Set<string> {
  const nodes = new Set<string>();
  for (const f of query.getChildren('feature')) {
    const v = f.attr('var');
    if (v !== undefined && v.endsWith(NOTIFY) && v.length > NOTIFY.length) nodes.add(v.slice(0, -NOTIFY.length));
  }
  return nodes;
}

const octets = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/**
 * The XEP-0115 §5.1 verification string of a disco#info result, or null when §5.4 says it must not be used (a
 * duplicate identity, feature or form type, or a form whose FORM_TYPE is not a hidden field).
 */
export function verificationString(query: Element): string | null {
  const identities = query.getChildren('identity').map((i) => `${i.attr('category') ?? ''}/${i.attr('type') ?? ''}/${i.attr('xml:lang') ?? ''}/${i.attr('name') ?? ''}`);
  const features = query.getChildren('feature').map((f) => f.attr('var') ?? '');
  if (new Set(identities).size !== identities.length || new Set(features).size !== features.length) return null;
  let s = identities.sort(octets).map((i) => `${i}<`).join('') + features.sort(octets).map((f) => `${f}<`).join('');
  // §5.1 step 7: extended information (XEP-0128) forms, by FORM_TYPE.
  const forms: Array<{ type: string; text: string }> = [];
  for (const x of query.getChildren('x', NS.dataForms)) {
    const fields = x.getChildren('field');
    const formType = fields.find((f) => f.attr('var') === 'FORM_TYPE');
    if (!formType) continue; // §5.4 3.6: a form without FORM_TYPE is ignored
    if (formType.attr('type') !== 'hidden') return null;
    const type = formType.getChild('value')?.text() ?? '';
    const rest = fields
      .filter((f) => f !== formType)
      .map((f) => ({ v: f.attr('var') ?? '', values: f.getChildren('value').map((x) => x.text()).sort(octets) }))
      .sort((a, b) => octets(a.v, b.v));
    forms.push({ type, text: `${type}<` + rest.map((f) => `${f.v}<` + f.values.map((x) => `${x}<`).join('')).join('') });
  }
  if (new Set(forms.map((f) => f.type)).size !== forms.length) return null;
  s += forms.sort((a, b) => octets(a.type, b.type)).map((f) => f.text).join('');
  return s;
}

/** Whether a disco#info result verifies against a SHA-1 ver (XEP-0115 §5.4 step 3.7). */
export function verifies(query: Element, ver: string): boolean {
  const s = verificationString(query);
  return s !== null && createHash('sha1').update(s, 'utf8').digest('base64') === ver;
}

/** Forgets every verified ver (tests). */
export function clearCapsCache(): void {
  verified.clear();
}

/** The capabilities of one stream's session: its queries to the client and what they taught. */
export class CapsLearner {
  private seq = 0;
  private readonly waiting = new Map<string, (iq: Element | null) => void>();
  /** The ver the session's interests come from (a presence repeating it changes nothing). */
  private current: string | null = null;

  constructor(private readonly conn: XmppStream) {}

  /**
   * A presence broadcast of the session: learns its interests from its caps (now, when the ver is known, else
   * after asking the client). Resolves once interests from a known ver are recorded; a query runs on alone.
   */
  async heard(presence: Element): Promise<void> {
    const c = presence.getChild('c', NS.caps);
    const ver = c?.attr('ver');
    const node = c?.attr('node');
    if (!c || ver === undefined || ver === '' || node === undefined) return;
    const hash = c.attr('hash');
    const key = `${hash ?? ''} ${ver}`;
    if (key === this.current) return;
    this.current = key;
    const known = hash === 'sha-1' ? verified.get(ver) : undefined;
    if (known) return this.record(known);
    this.ask(`${node}#${ver}`).then(
      (query) => {
        if (!query || this.current !== key) return;
        const nodes = notifyNodes(query);
        if (hash === 'sha-1' && verifies(query, ver)) {
          if (verified.size >= CACHE_MAX) verified.delete(verified.keys().next().value!);
          verified.set(ver, nodes);
        }
        return this.record(nodes);
      },
      () => undefined,
    ).catch(() => undefined);
  }

  /** An iq result or error from the client: true when it answers one of our queries. */
  settle(iq: Element): boolean {
    const id = iq.attr('id');
    const done = id === undefined ? undefined : this.waiting.get(id);
    if (!done) return false;
    this.waiting.delete(id!);
    done(iq.attr('type') === 'result' ? (iq.getChild('query', NS.discoInfo) ?? null) : null);
    return true;
  }

  private async record(nodes: ReadonlySet<string>): Promise<void> {
    const session = this.conn.session;
    if (session && !session.closed) await this.conn.engine.setInterests(session, nodes);
  }

  /** XEP-0115 §6.3: asks the client's disco#info of `node` (node#ver); null on error or timeout. */
  private ask(node: string): Promise<Element | null> {
    // One query at a time per session: a newer ver makes the older answer moot, and a client changing its caps
    // on every presence cannot make the server hold more than one waiting query for it.
    for (const done of this.waiting.values()) done(null);
    this.waiting.clear();
    const id = `caps-${++this.seq}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(null);
      }, QUERY_TIMEOUT_MS);
      timer.unref?.();
      this.waiting.set(id, (q) => {
        clearTimeout(timer);
        resolve(q);
      });
      this.conn.sendElement(el('iq', { xmlns: NS.client, type: 'get', id, from: this.conn.domain, to: this.conn.full }, el('query', { xmlns: NS.discoInfo, node })));
    });
  }
}
