/**
 * Explicit subscriptions to users' PEP nodes (XEP-0060 §6.1 subscribe, §6.2 unsubscribe, §5.6 retrieve one's
 * subscriptions, §6.3 subscription options, §8.8 the owner's management). A subscriber gets the node's
 * notifications whether or not its sessions advertise `+notify` (XEP-0163 §4: explicit subscriptions beside the
 * implicit, presence-based ones), as its options say (§6.3: deliver, show-values). Under the authorize access
 * model a request is pending until the owner approves or denies it (§6.1.5, §8.6), stored like a subscription.
 * Access is checked when a subscription is made and again whenever it matters: a subscriber the access model no
 * longer admits (its roster item or group gone, the node made whitelist, a block) loses the subscription
 * (XEP-0060 §4.5: access is the model's to decide at every delivery).
 */
import { bareOf, parseAddress } from '../../core/address.js';
import { ParleyError } from '../../core/errors.js';
import type { Logger } from '../../engine/context.js';
import type { PepItem, PepShow, PepSubscriber } from '../../engine/pep.js';
import type { NodeConfig } from './config.js';
import { refusal, type PepNodes } from './nodes.js';
import type { PepOptions } from './options.js';
import type { PepArea, SubscriptionRow, SubscriptionState } from './sqlite.js';
import { parseOptions, storedOptions, type SubscriptionOptions } from './sub-options.js';

/** XEP-0060 §8.8.2: a subscription state the owner sets (subscribed approves a pending request, none denies it). */
export type SetState = 'subscribed' | 'none';

/** How the module speaks to the owner and the subscribers about requests (xmpp.ts builds the stanzas). */
export interface RequestMessages {
  /** XEP-0060 §8.6.1: asks the owner to approve `jid`'s request for `node`. */
  ask(owner: string, node: string, jid: string): void;
  /** §8.6.2: tells the subscriber `jid` the owner's decision (its subscription's state now). */
  tell(owner: string, node: string, jid: string, state: 'subscribed' | 'none'): void;
}

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
    private readonly messages: RequestMessages,
  ) {}

  /**
   * `asker` subscribes `jid` (its bare address or one of its full addresses) to `owner`'s node (§6.1), as the
   * access model allows (§6.1.3: presence-subscription-required, not-in-roster-group, closed-node), with
   * `options` when given (§6.3.7). Under authorize the request is pending and the owner is asked (§6.1.5,
   * §8.6.1). Subscribing again keeps the one subscription (§6.1.6). The last item follows unless the node says
   * never (§6.1.7). Returns the subscription's state.
   */
  async subscribe(owner: string, node: string, asker: string, jid: string, options: SubscriptionOptions | null = null): Promise<SubscriptionState> {
    // §6.1.3.1: only one's own address may be subscribed.
    if (bareOf(jid) !== asker) throw new ParleyError('bad-request', 'you may subscribe your own address only', { pubsub: 'invalid-jid' });
    const config = await this.configOf(owner, node);
    if (!(await this.nodes.mayRequest(owner, asker, config))) throw refusal(config);
    const wanted: SubscriptionState = config.access_model === 'authorize' && asker !== owner ? 'pending' : 'subscribed';
    const state = await this.area.subscribe(owner, node, jid, this.opts.maxSubscriptionsPerNode, wanted, options === null ? undefined : storedOptions(options));
    // §8.6.1: the owner is asked (again, when the subscriber asks again).
    if (state === 'pending') this.messages.ask(owner, node, jid);
    else await this.sendLast(owner, node, config, jid);
    return state;
  }

  /** `asker` ends the subscription of `jid` (§6.2), or withdraws its request: forbidden for another's address, not-subscribed when none. */
  async unsubscribe(owner: string, node: string, asker: string, jid: string): Promise<void> {
    if (bareOf(jid) !== asker) throw new ParleyError('forbidden', 'you may unsubscribe your own address only');
    await this.configOf(owner, node);
    if ((await this.area.unsubscribe(owner, node, [jid])) === 0) throw notSubscribed(jid, node);
  }

  /**
   * The options of `jid`'s subscription to the node (§6.3.2), asked by `asker`: forbidden for another's address
   * (§6.3.4.1), not-subscribed when there is none (§6.3.4.2), item-not-found for no node (§6.3.4.7).
   */
  async options(owner: string, node: string, asker: string, jid: string): Promise<SubscriptionOptions> {
    return parseOptions((await this.own(owner, node, asker, jid)).options);
  }

  /** Sets the options of `jid`'s subscription (§6.3.5), with the checks of options(). */
  async setOptions(owner: string, node: string, asker: string, jid: string, change: (current: SubscriptionOptions) => SubscriptionOptions): Promise<void> {
    const row = await this.own(owner, node, asker, jid);
    const next = change(parseOptions(row.options));
    if (!(await this.area.setOptions(owner, node, jid, storedOptions(next)))) throw notSubscribed(jid, node);
  }

  /** `asker`'s own subscriptions to `owner`'s nodes (§5.6), of one node or all. */
  async mine(owner: string, asker: string, node: string | null): Promise<SubscriptionRow[]> {
    if (node !== null) await this.configOf(owner, node);
    await this.revalidate(owner, asker);
    return this.area.subscriptions(owner, node, asker);
  }

  /** Every subscription of one of the owner's nodes (§8.8.1), pending requests included (§8.7). */
  async ofNode(owner: string, node: string): Promise<SubscriptionRow[]> {
    await this.configOf(owner, node);
    await this.revalidate(owner, null);
    return this.area.subscriptions(owner, node, null);
  }

  /**
   * The owner sets subscriptions (§8.8.2): `subscribed` for an address the access model admits (else
   * not-acceptable: a subscriber must be able to see the node; under authorize this approves a pending request),
   * `none` to end one (or deny a request). All are checked before any is applied, so a refused request changes
   * nothing. Subscribers whose request was decided are told (§8.6.2).
   */
  async manage(owner: string, node: string, changes: ReadonlyArray<{ jid: string; state: SetState }>): Promise<void> {
    const config = await this.configOf(owner, node);
    const rows = await this.area.subscriptions(owner, node, null);
    const have = new Map(rows.map((r) => [r.jid, r.state]));
    for (const c of changes) {
      // Under authorize the owner's word is the approval; under the other models the subscriber must see the node.
      const admitted = config.access_model === 'authorize' ? this.nodes.mayRequest(owner, bareOf(c.jid), config) : this.nodes.mayAccess(owner, bareOf(c.jid), config, node);
      if (c.state === 'subscribed' && !(await admitted)) {
        throw new ParleyError('not-acceptable', `${c.jid} may not see ${node} under its access model (${config.access_model})`);
      }
    }
    const added = new Set(changes.filter((c) => c.state === 'subscribed' && !have.has(c.jid)).map((c) => c.jid));
    const ended = new Set(changes.filter((c) => c.state === 'none' && have.has(c.jid)).map((c) => c.jid));
    const max = this.opts.maxSubscriptionsPerNode;
    if (have.size - ended.size + added.size > max) throw new ParleyError('quota-exceeded', `a node has at most ${max} subscriptions (modules.pep.maxSubscriptionsPerNode)`);
    // Ends first, so the count stays under the limit checked above.
    for (const c of changes) {
      if (c.state !== 'none') continue;
      await this.area.unsubscribe(owner, node, [c.jid]);
      if (have.get(c.jid) === 'pending') this.messages.tell(owner, node, c.jid, 'none');
    }
    for (const c of changes) {
      if (c.state !== 'subscribed') continue;
      if (have.get(c.jid) === 'pending') await this.approve(owner, node, config, c.jid);
      else await this.area.subscribe(owner, node, c.jid, max);
    }
  }

  /**
   * The owner's answer to a request (§8.6.2): `allow` approves `jid`'s pending subscription (it is told, and
   * gets the last item, §6.1.7), else denies it (the request ends, it is told). item-not-found when there is no
   * such node or no request of that address is pending.
   */
  async answer(owner: string, node: string, jid: string, allow: boolean): Promise<void> {
    const config = await this.configOf(owner, node);
    const row = (await this.area.subscriptions(owner, node, bareOf(jid))).find((r) => r.jid === jid);
    if (row?.state !== 'pending') throw new ParleyError('item-not-found', `no subscription request of ${jid} to ${node} waits`);
    if (allow) {
      await this.approve(owner, node, config, jid);
      return;
    }
    await this.area.unsubscribe(owner, node, [jid]);
    this.messages.tell(owner, node, jid, 'none');
  }

  /** The owner's nodes with requests waiting for its decision (§8.7.1). */
  async pendingNodes(owner: string): Promise<string[]> {
    await this.revalidate(owner, null);
    return [...new Set((await this.area.subscriptions(owner, null, null)).filter((r) => r.state === 'pending').map((r) => r.node))];
  }

  /** Asks the owner again about every request pending on `node` (§8.7.2: one authorization form each); how many. */
  async askAgain(owner: string, node: string): Promise<number> {
    const rows = (await this.ofNode(owner, node)).filter((r) => r.state === 'pending');
    for (const r of rows) this.messages.ask(owner, node, r.jid);
    return rows.length;
  }

  /**
   * The subscribers a notification of `owner`'s node goes to now: those the access model still admits (the
   * others lose their subscription), approved, with delivery on, with their show-values (§6.3).
   */
  async current(owner: string, node: string): Promise<PepSubscriber[]> {
    const rows = await this.area.subscriptions(owner, node, null);
    if (rows.length === 0) return [];
    const config = await this.nodes.config(owner, node);
    if (config === null) return [];
    const out: PepSubscriber[] = [];
    for (const r of await this.keep(owner, rows, new Map([[node, config]]))) {
      const sub = r.state === 'subscribed' ? toSubscriber(r) : null;
      if (sub !== null) out.push(sub);
    }
    return out;
  }

  /**
   * Ends the subscriptions to `owner`'s nodes the access models no longer admit: of `bare` (null: of everyone).
   * Called when the owner's roster item of a contact, a block or a node's configuration changed.
   */
  async revalidate(owner: string, bare: string | null): Promise<void> {
    const rows = await this.area.subscriptions(owner, null, bare);
    if (rows.length > 0) await this.keep(owner, rows, new Map());
  }

  /** Approves a pending request: the subscriber is told (§8.6.2) and gets the last item (§6.1.7). */
  private async approve(owner: string, node: string, config: NodeConfig, jid: string): Promise<void> {
    await this.area.setState(owner, node, jid, 'subscribed');
    this.messages.tell(owner, node, jid, 'subscribed');
    await this.sendLast(owner, node, config, jid);
  }

  /** §6.1.7: the node's last item to a new subscriber, unless the node says never or its options turn delivery off. */
  private async sendLast(owner: string, node: string, config: NodeConfig, jid: string): Promise<void> {
    if (config.send_last_published_item === 'never') return;
    const row = (await this.area.subscriptions(owner, node, bareOf(jid))).find((r) => r.jid === jid);
    const sub = row === undefined ? null : toSubscriber(row);
    if (sub === null) return;
    const [last] = await this.area.items(owner, node, null, 1);
    if (last === undefined) return;
    const item: PepItem = { node, id: last.id, data: {}, xml: last.xml };
    // After the iq's result (§6.1.7 shows the result first): the Router sends in order from here on.
    setImmediate(() => {
      this.toSubscribers(owner, item, [sub]).catch((err: unknown) => this.log.error({ err, owner, node }, 'sending the last item to a new subscriber failed'));
    });
  }

  /** `asker`'s own subscription row of `jid` (the checks of §6.3.4). */
  private async own(owner: string, node: string, asker: string, jid: string): Promise<SubscriptionRow> {
    if (bareOf(jid) !== asker) throw new ParleyError('forbidden', 'you may see and change the options of your own subscriptions only');
    await this.configOf(owner, node);
    const row = (await this.area.subscriptions(owner, node, asker)).find((r) => r.jid === jid);
    if (row === undefined) throw notSubscribed(jid, node);
    return row;
  }

  /**
   * The rows whose subscriber may still see the node (a pending request: may still ask); the others are ended.
   * A request still pending on a node that is not authorize any more ends too: the model that made it is gone.
   */
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
        // Under authorize the owner's approval is the row itself: the subscriber need only not be blocked.
        ok = config !== null && (config.access_model === 'authorize' ? await this.nodes.mayRequest(owner, bareOf(row.jid), config) : await this.nodes.mayAccess(owner, bareOf(row.jid), config, row.node));
        verdicts.set(key, ok);
      }
      if (ok && row.state === 'pending' && config?.access_model !== 'authorize') ok = false;
      if (ok) {
        kept.push(row);
        continue;
      }
      const list = gone.get(row.node);
      if (list === undefined) gone.set(row.node, [row.jid]);
      else list.push(row.jid);
    }
    for (const [node, jids] of gone) await this.area.unsubscribe(owner, node, jids);
    return kept;
  }

  private async configOf(owner: string, node: string): Promise<NodeConfig> {
    const config = await this.nodes.config(owner, node);
    // §6.1.3.12, §6.2.3.4, §6.3.4.7, §8.8.1.3: no such node.
    if (config === null) throw new ParleyError('item-not-found', `no node ${node}`);
    return config;
  }
}

/** §6.2.3.2, §6.3.4.2: no such subscription (unexpected-request + not-subscribed). */
const notSubscribed = (jid: string, node: string): ParleyError => new ParleyError('unexpected-request', `${jid} is not subscribed to ${node}`, { pubsub: 'not-subscribed' });

/**
 * A stored subscription as the engine's delivery takes it, with its show-values; null when its options turn
 * delivery off (§6.3, pubsub#deliver false). The options are this subscription's only: the subscriber's +notify
 * sessions still get items through presence (XEP-0163 §4, engine/pep.ts notify).
 */
function toSubscriber(row: SubscriptionRow): PepSubscriber | null {
  const options = parseOptions(row.options);
  if (!options.deliver) return null;
  const show: ReadonlySet<PepShow> | null = options.show === null ? null : new Set(options.show);
  const slash = row.jid.indexOf('/');
  return slash === -1 ? { user: row.jid, resource: null, show } : { user: row.jid.slice(0, slash), resource: row.jid.slice(slash + 1), show };
}
