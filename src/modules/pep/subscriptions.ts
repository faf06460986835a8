/**
 * Explicit subscriptions to users' PEP nodes (XEP-0060 §6.1 subscribe, §6.2 unsubscribe, §5.6 retrieve one's
 * subscriptions, §8.8 the owner's management). A subscriber gets the node's notifications whether or not its
 * sessions advertise `+notify` (XEP-0163 §4: explicit subscriptions beside the implicit, presence-based ones).
 * Access is checked when a subscription is made and again whenever it matters: a subscriber the access model no
 * longer admits (its roster item or group gone, the node made whitelist, a block) loses the subscription
 * (XEP-0060 §4.5: access is the model's to decide at every delivery).
 */
import { bareOf, parseAddress } from '../../core/address.js';
import { ParleyError } from '../../core/errors.js';
import type { Logger } from '../../engine/context.js';
import type { PepItem, PepSubscriber } from '../../engine/pep.js';
import type { NodeConfig } from './config.js';
import { refusal, type PepNodes } from './nodes.js';
import type { PepOptions } from './options.js';
import type { PepArea, SubscriptionRow } from './sqlite.js';

/** XEP-0060 §8.8.2: a subscription state the owner sets (pending and unconfigured do not arise here). */
export type SetState = 'subscribed' | 'none';

/** A subscriber address parsed (XEP-0060 §6.1.3.1, §8.8.2: invalid ones are bad-request + invalid-jid). */
export function subscriberJid(jid: string | undefined): string {
  if (jid === undefined || jid === '') throw new ParleyError('bad-request', 'a subscription names a jid', { pubsub: 'invalid-jid' });
  try {
    const a = parseAddress(jid);
    if (a.local === null) throw new ParleyError('bad-request', 'a subscriber is an account (local@domain)', { pubsub: 'invalid-jid' });
    return a.resource === null ? bareOf(a) : `${bareOf(a)}/${a.resource}`;
  } catch (e) {
    if (e instanceof ParleyError && e.code === 'bad-request') throw e;
    throw new ParleyError('bad-request', `the jid ${jid} is not a valid address`, { pubsub: 'invalid-jid' });
  }
}

/** The explicit subscriptions of accounts' nodes, over the module's storage area. */
export class PepSubscriptions {
  constructor(
    private readonly area: PepArea,
    private readonly nodes: PepNodes,
    /** ModuleApi.pepToSubscribers. */
    private readonly toSubscribers: (owner: string, item: PepItem, subscribers: readonly PepSubscriber[]) => Promise<void>,
    private readonly opts: PepOptions,
    private readonly log: Logger,
  ) {}

  /**
   * `asker` subscribes `jid` (its bare address or one of its full addresses) to `owner`'s node (§6.1), as the
   * access model allows (§6.1.3: presence-subscription-required, not-in-roster-group, closed-node). Subscribing
   * again keeps the one subscription (§6.1.6). The last item follows unless the node says never (§6.1.7).
   */
  async subscribe(owner: string, node: string, asker: string, jid: string): Promise<void> {
    // §6.1.3.1: only one's own address may be subscribed.
    if (bareOf(jid) !== asker) throw new ParleyError('bad-request', 'you may subscribe your own address only', { pubsub: 'invalid-jid' });
    const config = await this.configOf(owner, node);
    if (!(await this.nodes.mayAccess(owner, asker, config))) throw refusal(config);
    await this.area.subscribe(owner, node, jid, this.opts.maxSubscriptionsPerNode);
    if (config.send_last_published_item === 'never') return;
    const [last] = await this.area.items(owner, node, null, 1);
    if (last === undefined) return;
    const item: PepItem = { node, id: last.id, data: {}, xml: last.xml };
    // After the iq's result (§6.1.7 shows the result first): the Router sends in order from here on.
    setImmediate(() => {
      this.toSubscribers(owner, item, [toSubscriber(jid)]).catch((err: unknown) => this.log.error({ err, owner, node }, 'sending the last item to a new subscriber failed'));
    });
  }

  /** `asker` ends the subscription of `jid` (§6.2): forbidden for another's address, not-subscribed when none. */
  async unsubscribe(owner: string, node: string, asker: string, jid: string): Promise<void> {
    if (bareOf(jid) !== asker) throw new ParleyError('forbidden', 'you may unsubscribe your own address only');
    await this.configOf(owner, node);
    if ((await this.area.unsubscribe(owner, node, [jid])) === 0) {
      throw new ParleyError('unexpected-request', `${jid} is not subscribed to ${node}`, { pubsub: 'not-subscribed' });
    }
  }

  /** `asker`'s own subscriptions to `owner`'s nodes (§5.6), of one node or all. */
  async mine(owner: string, asker: string, node: string | null): Promise<SubscriptionRow[]> {
    if (node !== null) await this.configOf(owner, node);
    await this.revalidate(owner, asker);
    return this.area.subscriptions(owner, node, asker);
  }

  /** Every subscription of one of the owner's nodes (§8.8.1). */
  async ofNode(owner: string, node: string): Promise<SubscriptionRow[]> {
    await this.configOf(owner, node);
    await this.revalidate(owner, null);
    return this.area.subscriptions(owner, node, null);
  }

  /**
   * The owner sets subscriptions (§8.8.2): `subscribed` for an address the access model admits (else
   * not-acceptable: a subscriber must be able to see the node), `none` to end one. All are checked before any
   * is applied, so a refused request changes nothing.
   */
  async manage(owner: string, node: string, changes: ReadonlyArray<{ jid: string; state: SetState }>): Promise<void> {
    const config = await this.configOf(owner, node);
    const have = new Set((await this.area.subscriptions(owner, node, null)).map((r) => r.jid));
    for (const c of changes) {
      if (c.state === 'subscribed' && !(await this.nodes.mayAccess(owner, bareOf(c.jid), config))) {
        throw new ParleyError('not-acceptable', `${c.jid} may not see ${node} under its access model (${config.access_model})`);
      }
    }
    const added = new Set(changes.filter((c) => c.state === 'subscribed' && !have.has(c.jid)).map((c) => c.jid));
    const ended = new Set(changes.filter((c) => c.state === 'none' && have.has(c.jid)).map((c) => c.jid));
    const max = this.opts.maxSubscriptionsPerNode;
    if (have.size - ended.size + added.size > max) throw new ParleyError('quota-exceeded', `a node has at most ${max} subscriptions (modules.pep.maxSubscriptionsPerNode)`);
    // Ends first, so the count stays under the limit checked above.
    for (const c of changes) if (c.state === 'none') await this.area.unsubscribe(owner, node, [c.jid]);
    for (const c of changes) if (c.state === 'subscribed') await this.area.subscribe(owner, node, c.jid, max);
  }

  /**
   * The subscribers a notification of `owner`'s node goes to now: those the access model still admits (the
   * others lose their subscription).
   */
  async current(owner: string, node: string): Promise<PepSubscriber[]> {
    const rows = await this.area.subscriptions(owner, node, null);
    if (rows.length === 0) return [];
    const config = await this.nodes.config(owner, node);
    if (config === null) return [];
    const kept = await this.keep(owner, rows, new Map([[node, config]]));
    return kept.map((r) => toSubscriber(r.jid));
  }

  /**
   * Ends the subscriptions to `owner`'s nodes the access models no longer admit: of `bare` (null: of everyone).
   * Called when the owner's roster item of a contact, a block or a node's configuration changed.
   */
  async revalidate(owner: string, bare: string | null): Promise<void> {
    const rows = await this.area.subscriptions(owner, null, bare);
    if (rows.length > 0) await this.keep(owner, rows, new Map());
  }

  /** The rows whose subscriber may still see the node; the others are ended. */
  private async keep(owner: string, rows: SubscriptionRow[], configs: Map<string, NodeConfig | null>): Promise<SubscriptionRow[]> {
    const kept: SubscriptionRow[] = [];
    const gone = new Map<string, string[]>();
    const verdicts = new Map<string, boolean>();
    for (const row of rows) {
      if (!configs.has(row.node)) configs.set(row.node, await this.nodes.config(owner, row.node));
      const config = configs.get(row.node) ?? null;
      const key = `${row.node}\n${bareOf(row.jid)}`;
      let ok = verdicts.get(key);
      if (ok === undefined) {
        ok = config !== null && (await this.nodes.mayAccess(owner, bareOf(row.jid), config));
        verdicts.set(key, ok);
      }
      if (ok) kept.push(row);
      else gone.set(row.node, [...(gone.get(row.node) ?? []), row.jid]);
    }
    for (const [node, jids] of gone) await this.area.unsubscribe(owner, node, jids);
    return kept;
  }

  private async configOf(owner: string, node: string): Promise<NodeConfig> {
    const config = await this.nodes.config(owner, node);
    // §6.1.3.12, §6.2.3.4, §8.8.1.3: no such node.
    if (config === null) throw new ParleyError('item-not-found', `no node ${node}`);
    return config;
  }
}

/** A stored subscriber address as the engine's delivery takes it. */
function toSubscriber(jid: string): PepSubscriber {
  const slash = jid.indexOf('/');
  return slash === -1 ? { user: jid, resource: null } : { user: jid.slice(0, slash), resource: jid.slice(slash + 1) };
}
