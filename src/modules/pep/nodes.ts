/**
 * Users' PEP nodes (XEP-0163) on their bare addresses: publication with auto-creation (§3) and publish-options
 * (XEP-0060 §7.1.5), retrieval with the access models (XEP-0060 §4.5, §6.5), retraction, configuration and
 * deletion by the owner, the account limits, the notifications (handed to the engine, which delivers them through
 * the Router), and the last items a session coming online is owed (§4.3.2). Other parts of the module (bookmarks,
 * avatars) hear each change of a node they watch.
 */
import { randomUUID } from 'node:crypto';
import { ParleyError } from '../../core/errors.js';
import type { Engine } from '../../engine/engine.js';
import type { OwnedItem, PepAudience, PepItem, PepSource } from '../../engine/pep.js';
import { applyConfig, checkPreconditions, defaultConfig, keepOf, parseConfig, type NodeConfig } from './config.js';
import type { PepOptions } from './options.js';
import type { ItemRow, PepArea } from './sqlite.js';

/** A change of a node: an item published (xml) or retracted (null). */
export interface NodeChange {
  owner: string;
  node: string;
  id: string;
  xml: string | null;
  /** Who made it: a protocol (`xmpp`) or a part of the module converting another store (`private`, `vcard`). */
  origin: string;
}

/** Hears the changes of one node. */
export type NodeListener = (change: NodeChange) => Promise<void>;

/** How a publication goes. */
export interface PublishOptions {
  /** XEP-0060 §7.1.5 fields: preconditions on an existing node, the configuration of a new one. */
  options?: Map<string, string[]> | null;
  /** The configuration a node created by this publication starts from (defaults: defaultConfig()). */
  create?: NodeConfig;
  /** Who publishes (NodeChange.origin). */
  origin: string;
}

/** Checks an item before it is published on one node (its id as given, its payload, its owner); throws to refuse it. */
export type NodeValidator = (id: string | undefined, xml: string, owner: string) => void | Promise<void>;

/** The module's nodes, over its storage area. */
export class PepNodes implements PepSource {
  private readonly listeners = new Map<string, NodeListener[]>();
  private readonly validators = new Map<string, NodeValidator>();

  constructor(
    private readonly area: PepArea,
    private readonly engine: Engine,
    private readonly notify: (owner: string, item: PepItem, audience: PepAudience) => Promise<void>,
    private readonly opts: PepOptions,
  ) {}

  /** Calls `fn` after each change of `node` (of any owner). */
  watch(node: string, fn: NodeListener): void {
    const list = this.listeners.get(node) ?? [];
    list.push(fn);
    this.listeners.set(node, list);
  }

  /** Checks every item published on `node` (of any owner) with `fn`, e.g. XEP-0084 §4.1's hash as the id. */
  validate(node: string, fn: NodeValidator): void {
    this.validators.set(node, fn);
  }

  /** The node's configuration, or null when `owner` has no such node. */
  async config(owner: string, node: string): Promise<NodeConfig | null> {
    const json = await this.area.node(owner, node);
    return json === null ? null : parseConfig(json);
  }

  /** Publishes one item (`xml`: its payload element); returns its id (the one given, or a new one, §7.1.4). */
  async publish(owner: string, node: string, id: string | undefined, xml: string, how: PublishOptions): Promise<string> {
    const { maxPayloadBytes, maxItemsPerNode } = this.opts;
    if (Buffer.byteLength(xml, 'utf8') > maxPayloadBytes) {
      throw new ParleyError('not-acceptable', `an item's payload holds at most ${maxPayloadBytes} bytes (modules.pep.maxPayloadBytes)`, { pubsub: 'payload-too-big' });
    }
    await this.validators.get(node)?.(id, xml, owner);
    const existing = await this.config(owner, node);
    let config: NodeConfig;
    if (existing !== null) {
      config = existing;
      if (how.options) checkPreconditions(config, how.options, maxItemsPerNode);
    } else {
      // XEP-0163 §3: the node is created by the first publication; publish-options configure it (XEP-0223 §3).
      config = applyConfig(how.create ?? defaultConfig(), how.options ?? new Map(), maxItemsPerNode);
    }
    const itemId = id ?? randomUUID();
    await this.area.publish(owner, node, existing === null ? JSON.stringify(config) : null, { id: itemId, xml }, keepOf(config), this.limits());
    await this.notify(owner, { node, id: itemId, data: {}, xml }, this.audienceOf(config));
    await this.changed({ owner, node, id: itemId, xml, origin: how.origin });
    return itemId;
  }

  /** Removes an item (XEP-0060 §7.2), notifying the retraction when asked and the node says so. */
  async retract(owner: string, node: string, id: string, notify: boolean, origin: string): Promise<void> {
    const config = await this.config(owner, node);
    if (config === null) throw new ParleyError('item-not-found', `no node ${node}`);
    if (!(await this.area.retract(owner, node, id))) throw new ParleyError('item-not-found', `no item ${id} on ${node}`);
    if (notify && config.notify_retract) await this.notify(owner, { node, id, data: {}, xml: '', retract: true }, this.audienceOf(config));
    await this.changed({ owner, node, id, xml: null, origin });
  }

  /**
   * The items of a node `viewer` may see (XEP-0060 §6.5): those with the ids given (null: all), at most the
   * newest `max`, oldest first. A node the viewer may not see is refused as §6.5.9 says for its access model.
   */
  async items(owner: string, viewer: string, node: string, ids: string[] | null, max: number | null): Promise<ItemRow[]> {
    const config = await this.config(owner, node);
    if (config === null) throw new ParleyError('item-not-found', `no node ${node}`);
    if (!(await this.mayAccess(owner, viewer, config, node))) throw await this.refusalFor(owner, viewer, node, config);
    return this.area.items(owner, node, ids, max);
  }

  /** Creates a node (XEP-0060 §8.1) with a configuration; conflict when it exists. */
  async create(owner: string, node: string, fields: Map<string, string[]> | null): Promise<void> {
    if ((await this.area.node(owner, node)) !== null) throw new ParleyError('conflict', `the node ${node} exists`);
    const config = applyConfig(defaultConfig(), fields ?? new Map(), this.opts.maxItemsPerNode);
    await this.area.saveNode(owner, node, JSON.stringify(config), keepOf(config), this.opts.maxNodes);
  }

  /** Changes a node's configuration (XEP-0060 §8.2.4); items past the new max_items go. */
  async configure(owner: string, node: string, fields: Map<string, string[]>): Promise<void> {
    const config = await this.config(owner, node);
    if (config === null) throw new ParleyError('item-not-found', `no node ${node}`);
    const next = applyConfig(config, fields, this.opts.maxItemsPerNode);
    await this.area.saveNode(owner, node, JSON.stringify(next), keepOf(next), this.opts.maxNodes);
  }

  /** Deletes a node and its items (XEP-0060 §8.4). */
  async deleteNode(owner: string, node: string): Promise<void> {
    if (!(await this.area.deleteNode(owner, node))) throw new ParleyError('item-not-found', `no node ${node}`);
  }

  /** The nodes of `owner` that `viewer` may see (XEP-0163 §9 disco#items). */
  async visibleNodes(owner: string, viewer: string): Promise<Array<{ node: string; config: NodeConfig }>> {
    const out: Array<{ node: string; config: NodeConfig }> = [];
    for (const row of await this.area.nodes(owner)) {
      const config = parseConfig(row.config);
      if (await this.mayAccess(owner, viewer, config, row.node)) out.push({ node: row.node, config });
    }
    return out;
  }

  /**
   * Whether `viewer` may see the items of `owner`'s node `node` with this configuration (XEP-0060 §4.5): under
   * authorize, only the subscribers the owner approved.
   */
  async mayAccess(owner: string, viewer: string, config: NodeConfig, node: string): Promise<boolean> {
    if (owner === viewer) return true;
    if (!(await this.mayRequest(owner, viewer, config))) return false;
    if (config.access_model === 'authorize') return (await this.area.subscriptions(owner, node, viewer)).some((r) => r.state === 'subscribed');
    return true;
  }

  /**
   * Whether `viewer` may ask for a subscription to a node with this configuration: under authorize anyone the
   * owner does not block (nor blocks the owner) may ask, and the owner decides (§4.5, §6.1.5); under the other
   * models, whoever may see the items.
   */
  async mayRequest(owner: string, viewer: string, config: NodeConfig): Promise<boolean> {
    if (owner === viewer) return true;
    if (config.access_model === 'whitelist') return false;
    const { blocks, rosters } = this.engine;
    if ((await blocks.blocks(owner, viewer)) || (await blocks.blocks(viewer, owner))) return false;
    if (config.access_model === 'open' || config.access_model === 'authorize') return true;
    const item = (await rosters.list(owner)).find((i) => i.contact === viewer);
    if (config.access_model === 'presence') return item !== undefined && (item.subscription === 'from' || item.subscription === 'both');
    return item !== undefined && item.groups.some((g) => config.roster_groups_allowed.includes(g));
  }

  /** Why `viewer` may not see the node (§6.5.9): under authorize, whether its request is pending. */
  async refusalFor(owner: string, viewer: string, node: string, config: NodeConfig): Promise<ParleyError> {
    if (config.access_model !== 'authorize' || !(await this.mayRequest(owner, viewer, config))) return refusal(config);
    const pending = (await this.area.subscriptions(owner, node, viewer)).some((r) => r.state === 'pending');
    return pending
      ? new ParleyError('not-authorized', 'your subscription request waits for the owner\'s approval', { pubsub: 'pending-subscription' })
      : new ParleyError('not-authorized', 'only the subscribers the owner approved see this node', { pubsub: 'not-subscribed' });
  }

  /** Who of the owner's contacts gets notifications of a node with this configuration. */
  audienceOf(config: NodeConfig): PepAudience {
    switch (config.access_model) {
      // Under authorize, only the approved subscribers are notified, as explicit subscribers.
      case 'authorize':
      case 'whitelist':
        return null;
      case 'roster':
        return (c) => c.groups.some((g) => config.roster_groups_allowed.includes(g));
      default:
        return () => true;
    }
  }

  /** As a PepSource (engine/pep.ts): the last items `viewer` is owed when a session comes online (§4.3.2). */
  async lastItems(viewer: string, owners: readonly string[], nodes: readonly string[]): Promise<OwnedItem[]> {
    const out: OwnedItem[] = [];
    for (const row of await this.area.lastItems([...owners], [...nodes])) {
      const config = parseConfig(row.config);
      if (config.send_last_published_item === 'never' || (config.access_model === 'whitelist' && row.owner !== viewer)) continue;
      // The engine names the viewer and the contacts whose presence it receives, which the presence and open
      // models admit as they are (blocks are the engine's to check); the roster model asks the owner's groups,
      // authorize the owner's approval.
      if ((config.access_model === 'roster' || config.access_model === 'authorize') && !(await this.mayAccess(row.owner, viewer, config, row.node))) continue;
      out.push({ owner: row.owner, item: { node: row.node, id: row.id, data: {}, xml: row.xml } });
    }
    return out;
  }

  /** Forgets what an account kept (it was removed). */
  drop(owner: string): Promise<void> {
    return this.area.drop(owner);
  }

  private limits(): { maxNodes: number; maxItems: number; maxBytes: number } {
    const { maxNodes, maxItems, maxBytes } = this.opts;
    return { maxNodes, maxItems, maxBytes };
  }

  private async changed(change: NodeChange): Promise<void> {
    for (const fn of this.listeners.get(change.node) ?? []) await fn(change);
  }
}

/** XEP-0060 §6.5.9 (and §6.1.3 for subscriptions): why a node is refused, by access model. */
export function refusal(config: NodeConfig): ParleyError {
  switch (config.access_model) {
    case 'presence':
      return new ParleyError('not-authorized', 'the owner does not share its presence with you', { pubsub: 'presence-subscription-required' });
    case 'roster':
      return new ParleyError('not-authorized', 'you are not in a roster group allowed to see this node', { pubsub: 'not-in-roster-group' });
    case 'authorize':
      // §6.1.3: a blocked user may not even ask.
      return new ParleyError('not-authorized', 'the owner does not take subscription requests from you', { pubsub: 'not-subscribed' });
    default:
      return new ParleyError('not-allowed', 'the node is its owner\'s alone', { pubsub: 'closed-node' });
  }
}
