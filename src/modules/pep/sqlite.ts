/**
 * The pep module's storage on SQLite (its memory twin opens the same code on an in-memory database): each
 * account's nodes with their configuration (JSON of NodeConfig), and their items in publication order. The
 * per-account limits (nodes, items, bytes) are checked in the writing transaction, so two publications at once
 * cannot both slip under them.
 */
import { ParleyError } from '../../core/errors.js';
import type { ModuleMigration, SqliteArea } from '../../ports/module-storage.js';

/** A node of an account: its name and configuration (JSON). */
export interface NodeRow {
  node: string;
  config: string;
}

/** A stored item. */
export interface ItemRow {
  id: string;
  xml: string;
}

/** An owner's last item of one node, with the node's configuration (for the last items a session is owed). */
export interface LastItemRow extends ItemRow {
  owner: string;
  node: string;
  config: string;
}

/** The account limits a write is checked against (the module's options). */
export interface AccountLimits {
  maxNodes: number;
  maxItems: number;
  maxBytes: number;
}

/**
 * A subscription's state (XEP-0060 §4.2): `subscribed`, or `pending` while the owner of a node with the
 * authorize access model has not decided (§6.1.5, §8.6).
 */
export type SubscriptionState = 'subscribed' | 'pending';

/**
 * An explicit subscription (XEP-0060 §6.1) to a node: the subscriber's address as it subscribed (bare or full),
 * its state and its subscription options (§6.3: JSON of SubscriptionOptions, null for the defaults).
 */
export interface SubscriptionRow {
  node: string;
  jid: string;
  state: SubscriptionState;
  options: string | null;
}

/** What the module stores. Methods are async and take and return clonable values (they cross threads). */
export interface PepArea {
  /** The configuration (JSON) of `owner`'s node, or null when there is no such node. */
  node(owner: string, node: string): Promise<string | null>;
  /** Every node of `owner`. */
  nodes(owner: string): Promise<NodeRow[]>;
  /**
   * Creates the node with `config`, or replaces its configuration, keeping its newest `keep` items; a new node
   * past `maxNodes` is refused (quota-exceeded: resource-constraint). Returns whether it was created.
   */
  saveNode(owner: string, node: string, config: string, keep: number, maxNodes: number): Promise<boolean>;
  /**
   * Stores an item (replacing one with its id, which becomes the newest) on the node, creating the node with
   * `create` when it does not exist, then keeps the newest `keep` items. Refused with quota-exceeded (resource-constraint) when the
   * account would exceed its limits.
   */
  publish(owner: string, node: string, create: string | null, item: ItemRow, keep: number, limits: AccountLimits): Promise<void>;
  /** Items of the node, oldest first: those with the ids given (null: all), at most the newest `max`. */
  items(owner: string, node: string, ids: string[] | null, max: number | null): Promise<ItemRow[]>;
  /** Removes an item; false when there was none. */
  retract(owner: string, node: string, id: string): Promise<boolean>;
  /** Removes a node and its items; false when there was none. */
  deleteNode(owner: string, node: string): Promise<boolean>;
  /** The newest item of each of `nodes` of each of `owners` that has one. */
  lastItems(owners: string[], nodes: string[]): Promise<LastItemRow[]>;
  /** Drops everything `owner` stored (its account was removed), and its subscriptions to others' nodes. */
  drop(owner: string): Promise<void>;
  /**
   * Subscribes `jid` to the node (XEP-0060 §6.1) in `state` with `options` (JSON, null: the defaults), refused
   * with quota-exceeded past `max` subscriptions (pending ones included) of the node. An existing subscription
   * keeps its state, and takes `options` when they are given; returns the state it is in now.
   */
  subscribe(owner: string, node: string, jid: string, max: number, state?: SubscriptionState, options?: string | null): Promise<SubscriptionState>;
  /** Sets the state of an existing subscription (the owner approved a pending one, §8.6); false when there is none. */
  setState(owner: string, node: string, jid: string, state: SubscriptionState): Promise<boolean>;
  /** Replaces the options (JSON) of an existing subscription (§6.3.5); false when there is none. */
  setOptions(owner: string, node: string, jid: string, options: string | null): Promise<boolean>;
  /** Ends the subscriptions of these addresses to the node; how many ended. */
  unsubscribe(owner: string, node: string, jids: string[]): Promise<number>;
  /** Subscriptions to `owner`'s nodes: of one node (null: all), of one subscriber's bare address (null: anyone's). */
  subscriptions(owner: string, node: string | null, bare: string | null): Promise<SubscriptionRow[]>;
}

export const MIGRATIONS: readonly ModuleMigration[] = [
  {
    version: 1,
    name: 'PEP nodes and items',
    sql: `
      CREATE TABLE pep_nodes (
        owner      TEXT NOT NULL,
        node       TEXT NOT NULL,
        config     TEXT NOT NULL,   -- NodeConfig as JSON
        created_at INTEGER NOT NULL,
        PRIMARY KEY (owner, node)
      ) WITHOUT ROWID;
      CREATE TABLE pep_items (
        owner        TEXT NOT NULL,
        node         TEXT NOT NULL,
        id           TEXT NOT NULL,
        seq          INTEGER NOT NULL,   -- publication order within the node
        xml          TEXT NOT NULL,
        bytes        INTEGER NOT NULL,
        published_at INTEGER NOT NULL,
        PRIMARY KEY (owner, node, id)
      ) WITHOUT ROWID;
      CREATE INDEX pep_items_order ON pep_items (owner, node, seq);
    `,
  },
  {
    version: 2,
    name: 'PEP explicit subscriptions',
    // XEP-0060 §6.1: one subscription per node and address (so no subid); `bare` finds a user's subscriptions.
    sql: `
      CREATE TABLE pep_subscriptions (
        owner      TEXT NOT NULL,
        node       TEXT NOT NULL,
        jid        TEXT NOT NULL,   -- as subscribed: bare or full
        bare       TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (owner, node, jid)
      ) WITHOUT ROWID;
      CREATE INDEX pep_subscriptions_bare ON pep_subscriptions (bare);
    `,
  },
  {
    version: 3,
    name: 'PEP subscription states and options',
    // XEP-0060 §6.1.5 and §8.6: a request to a node with the authorize access model waits, stored, for the
    // owner's decision (pending); §6.3: each subscription's options, as JSON (NULL: the defaults).
    sql: `
      ALTER TABLE pep_subscriptions ADD COLUMN state TEXT NOT NULL DEFAULT 'subscribed';
      ALTER TABLE pep_subscriptions ADD COLUMN options TEXT;
    `,
  },
];

/** The pep SQLite area. */
export const area: SqliteArea<PepArea> = {
  migrations: MIGRATIONS,
  open(db, ctx) {
    const node = db.prepare<[string, string], string>('SELECT config FROM pep_nodes WHERE owner = ? AND node = ?').pluck();
    const nodes = db.prepare<[string], NodeRow>('SELECT node, config FROM pep_nodes WHERE owner = ? ORDER BY node');
    const nodeCount = db.prepare<[string], number>('SELECT COUNT(*) FROM pep_nodes WHERE owner = ?').pluck();
    const insertNode = db.prepare<[string, string, string, number]>('INSERT INTO pep_nodes (owner, node, config, created_at) VALUES (?, ?, ?, ?)');
    const updateNode = db.prepare<[string, string, string]>('UPDATE pep_nodes SET config = ? WHERE owner = ? AND node = ?');
    const nextSeq = db.prepare<[string, string], number>('SELECT COALESCE(MAX(seq), 0) + 1 FROM pep_items WHERE owner = ? AND node = ?').pluck();
    const upsert = db.prepare<[string, string, string, number, string, number, number]>(
      'INSERT INTO pep_items (owner, node, id, seq, xml, bytes, published_at) VALUES (?, ?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT (owner, node, id) DO UPDATE SET seq = excluded.seq, xml = excluded.xml, bytes = excluded.bytes, published_at = excluded.published_at',
    );
    const trim = db.prepare<[string, string, string, string, number]>(
      'DELETE FROM pep_items WHERE owner = ? AND node = ? AND seq <= COALESCE((SELECT seq FROM pep_items WHERE owner = ? AND node = ? ORDER BY seq DESC LIMIT 1 OFFSET ?), -1)',
    );
    const totals = db.prepare<[string], { n: number; bytes: number | null }>('SELECT COUNT(*) AS n, SUM(bytes) AS bytes FROM pep_items WHERE owner = ?');
    const all = db.prepare<[string, string], ItemRow>('SELECT id, xml FROM pep_items WHERE owner = ? AND node = ? ORDER BY seq');
    const newest = db.prepare<[string, string, number], ItemRow>('SELECT id, xml FROM (SELECT id, xml, seq FROM pep_items WHERE owner = ? AND node = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq');
    const one = db.prepare<[string, string, string], ItemRow & { seq: number }>('SELECT id, xml, seq FROM pep_items WHERE owner = ? AND node = ? AND id = ?');
    const last = db.prepare<[string, string], ItemRow>('SELECT id, xml FROM pep_items WHERE owner = ? AND node = ? ORDER BY seq DESC LIMIT 1');
    const retract = db.prepare<[string, string, string]>('DELETE FROM pep_items WHERE owner = ? AND node = ? AND id = ?');
    const dropItems = db.prepare<[string, string]>('DELETE FROM pep_items WHERE owner = ? AND node = ?');
    const dropNode = db.prepare<[string, string]>('DELETE FROM pep_nodes WHERE owner = ? AND node = ?');
    const dropAllItems = db.prepare<[string]>('DELETE FROM pep_items WHERE owner = ?');
    const dropAllNodes = db.prepare<[string]>('DELETE FROM pep_nodes WHERE owner = ?');
    const dropNodeSubs = db.prepare<[string, string]>('DELETE FROM pep_subscriptions WHERE owner = ? AND node = ?');
    const dropAllSubs = db.prepare<[string, string]>('DELETE FROM pep_subscriptions WHERE owner = ? OR bare = ?');
    const subCount = db.prepare<[string, string], number>('SELECT COUNT(*) FROM pep_subscriptions WHERE owner = ? AND node = ?').pluck();
    const insertSub = db.prepare<[string, string, string, string, number, string, string | null]>(
      'INSERT INTO pep_subscriptions (owner, node, jid, bare, created_at, state, options) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (owner, node, jid) DO NOTHING',
    );
    const stateOf = db.prepare<[string, string, string], SubscriptionState>('SELECT state FROM pep_subscriptions WHERE owner = ? AND node = ? AND jid = ?').pluck();
    const updateState = db.prepare<[SubscriptionState, string, string, string]>('UPDATE pep_subscriptions SET state = ? WHERE owner = ? AND node = ? AND jid = ?');
    const updateOptions = db.prepare<[string | null, string, string, string]>('UPDATE pep_subscriptions SET options = ? WHERE owner = ? AND node = ? AND jid = ?');
    const deleteSub = db.prepare<[string, string, string]>('DELETE FROM pep_subscriptions WHERE owner = ? AND node = ? AND jid = ?');
    const subs = db.prepare<[string, string | null, string | null, string | null, string | null], SubscriptionRow>(
      'SELECT node, jid, state, options FROM pep_subscriptions WHERE owner = ? AND (? IS NULL OR node = ?) AND (? IS NULL OR bare = ?) ORDER BY node, created_at, jid',
    );

    const create = (owner: string, name: string, config: string, maxNodes: number): void => {
      if ((nodeCount.get(owner) ?? 0) >= maxNodes) throw new ParleyError('quota-exceeded', `an account holds at most ${maxNodes} nodes (modules.pep.maxNodes)`);
      insertNode.run(owner, name, config, ctx.now());
    };
    return {
      async node(owner, name) {
        return node.get(owner, name) ?? null;
      },
      async nodes(owner) {
        return nodes.all(owner);
      },
      async saveNode(owner, name, config, keep, maxNodes) {
        return ctx.write(() => {
          const exists = node.get(owner, name) !== undefined;
          if (exists) updateNode.run(config, owner, name);
          else create(owner, name, config, maxNodes);
          trim.run(owner, name, owner, name, keep);
          return !exists;
        });
      },
      async publish(owner, name, createWith, item, keep, limits) {
        const now = ctx.now();
        ctx.write(() => {
          if (node.get(owner, name) === undefined) {
            if (createWith === null) throw new ParleyError('item-not-found', `no node ${name}`);
            create(owner, name, createWith, limits.maxNodes);
          }
          upsert.run(owner, name, item.id, nextSeq.get(owner, name) ?? 1, item.xml, Buffer.byteLength(item.xml, 'utf8'), now);
          trim.run(owner, name, owner, name, keep);
          const t = totals.get(owner) ?? { n: 0, bytes: 0 };
          if (t.n > limits.maxItems) throw new ParleyError('quota-exceeded', `an account keeps at most ${limits.maxItems} items (modules.pep.maxItems)`);
          if ((t.bytes ?? 0) > limits.maxBytes) throw new ParleyError('quota-exceeded', `an account keeps at most ${limits.maxBytes} bytes of items (modules.pep.maxBytes)`);
        });
      },
      async items(owner, name, ids, max) {
        if (ids !== null) {
          const found = ids.map((id) => one.get(owner, name, id)).filter((r) => r !== undefined);
          return found.sort((a, b) => a.seq - b.seq).map(({ id, xml }) => ({ id, xml }));
        }
        return max === null ? all.all(owner, name) : newest.all(owner, name, max);
      },
      async retract(owner, name, id) {
        return ctx.write(() => retract.run(owner, name, id).changes > 0);
      },
      async deleteNode(owner, name) {
        return ctx.write(() => {
          dropItems.run(owner, name);
          dropNodeSubs.run(owner, name);
          return dropNode.run(owner, name).changes > 0;
        });
      },
      async lastItems(owners, wanted) {
        const want = new Set(wanted);
        const out: LastItemRow[] = [];
        for (const owner of owners) {
          for (const n of nodes.all(owner)) {
            if (!want.has(n.node)) continue;
            const it = last.get(owner, n.node);
            if (it) out.push({ owner, node: n.node, config: n.config, ...it });
          }
        }
        return out;
      },
      async drop(owner) {
        ctx.write(() => {
          dropAllItems.run(owner);
          dropAllNodes.run(owner);
          dropAllSubs.run(owner, owner);
        });
      },
      async subscribe(owner, name, jid, max, state = 'subscribed', options) {
        return ctx.write(() => {
          const have = stateOf.get(owner, name, jid);
          if (have !== undefined) {
            if (options !== undefined) updateOptions.run(options, owner, name, jid);
            return have;
          }
          if ((subCount.get(owner, name) ?? 0) >= max) throw new ParleyError('quota-exceeded', `a node has at most ${max} subscriptions (modules.pep.maxSubscriptionsPerNode)`);
          insertSub.run(owner, name, jid, jid.split('/')[0]!, ctx.now(), state, options ?? null);
          return state;
        });
      },
      async setState(owner, name, jid, state) {
        return ctx.write(() => updateState.run(state, owner, name, jid).changes > 0);
      },
      async setOptions(owner, name, jid, options) {
        return ctx.write(() => updateOptions.run(options, owner, name, jid).changes > 0);
      },
      async unsubscribe(owner, name, jids) {
        return ctx.write(() => jids.reduce((n, jid) => n + deleteSub.run(owner, name, jid).changes, 0));
      },
      async subscriptions(owner, name, bare) {
        return subs.all(owner, name, name, bare, bare);
      },
    };
  },
};
