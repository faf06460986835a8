/**
 * Several engines in one process as several Parley processes, for unit tests: each its own SQLite store on one
 * database file (the log's seq is its rowid, so every store numbers records alike), all on one bus that passes
 * every message through JSON, as a networked bus would, so nothing crosses nodes by reference.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { Bus, BusHandler } from '../ports/bus.js';
import type { Store } from '../ports/store.js';
import { createSqliteStore, type SqliteModule } from '../storage/sqlite/index.js';
import type { Engine } from './engine.js';
import { LocalBus } from './local-bus.js';
import { silentLog, testEngine } from './test-engine.js';

/** One node's connection to the shared bus: messages cross as JSON; `down` makes the node fall silent. */
export class NodeBus implements Bus {
  /** Other nodes hear it, as over a networked bus. */
  readonly shared = true;
  down = false;
  readonly published: Array<{ subject: string; message: unknown }> = [];
  constructor(private readonly hub: LocalBus) {}
  publish(subject: string, message: unknown): void {
    if (this.down) return;
    this.published.push({ subject, message });
    this.hub.publish(subject, JSON.parse(JSON.stringify(message)));
  }
  subscribe(subject: string, handler: BusHandler): () => void {
    return this.hub.subscribe(subject, (m, s) => (this.down ? undefined : handler(m, s)));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** One engine of the cluster. */
export interface TestNode {
  engine: Engine;
  store: Store;
  bus: NodeBus;
}

/** Lets bus messages and what they start run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 5));
}

/** A database file and a bus that nodes join; close() stops them all and removes the file. */
export class TestCluster {
  private readonly dir = mkdtempSync(join(tmpdir(), 'parley-cluster-'));
  private readonly shared = new LocalBus(silentLog);
  private readonly nodes: TestNode[] = [];
  /** Added to every node's clock: advance() makes time pass for heartbeats. */
  private skew = 0;

  constructor(
    private readonly users: string[],
    private readonly password?: string,
    /** Modules' storage areas every node's store opens (for modules set up on the nodes, modules/testing.ts). */
    private readonly modules: readonly SqliteModule[] = [],
  ) {}

  /**
   * Starts a node on the shared database file and bus, and lets the others learn of it. `areas`: modules' storage
   * areas its store opens, if not the cluster's (every node of a cluster opens the same ones; src/modules/testing.ts
   * moduleNode).
   */
  async node(opts: { areas?: readonly SqliteModule[] } = {}): Promise<TestNode> {
    const store = createSqliteStore({ path: join(this.dir, 'parley.db'), modules: opts.areas ?? this.modules });
    const bus = new NodeBus(this.shared);
    const now = (): number => Date.now() + this.skew;
    const { engine } = await testEngine(this.users, { store, bus, now, ...(this.password !== undefined ? { password: this.password } : {}) });
    const n = { engine, store, bus };
    this.nodes.push(n);
    await settle();
    return n;
  }

  /** Starts two nodes, one after the other (what most cluster tests need). */
  async pair(): Promise<[TestNode, TestNode]> {
    const one = await this.node();
    return [one, await this.node()];
  }

  /** Moves every node's clock `ms` ahead. */
  advance(ms: number): void {
    this.skew += ms;
  }

  async close(): Promise<void> {
    for (const n of this.nodes) {
      await n.engine.closeAll('test over').catch(() => undefined);
      await n.store.close();
    }
    await this.shared.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * For a test file whose tests each start their own cluster: registers an afterEach that closes the one the test
 * started, and returns what starts it (with TestCluster's arguments).
 */
export function clusterPerTest(): (...args: ConstructorParameters<typeof TestCluster>) => TestCluster {
  let current: TestCluster | null = null;
  afterEach(async () => {
    await current?.close();
    current = null;
  });
  return (...args) => {
    current = new TestCluster(...args);
    return current;
  };
}
