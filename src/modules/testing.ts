/**
 * Fixtures for the modules' unit tests: a ModuleHost with the given modules over the test engine
 * (engine/test-engine.ts), and an XMPP client over an in-memory transport that logs in (RFC 6120 §6 SASL PLAIN,
 * §7 bind) and exchanges iqs with an XmppConnection that serves what the modules added.
 */
import { createServer } from 'node:net';
import { ParleyError } from '../core/errors.js';
import type { Logger } from '../engine/context.js';
import type { Engine } from '../engine/engine.js';
import type { Outbound } from '../engine/outbound.js';
import type { Session } from '../engine/session.js';
import { LocalBus } from '../engine/local-bus.js';
import { silentLog, testEngine, testPresence } from '../engine/test-engine.js';
import type { TestCluster, TestNode } from '../engine/test-cluster.js';
import { compiledUrl, importSqliteArea, type SqliteModule } from '../storage/sqlite/module-areas.js';
import type { AreaContext } from '../ports/module-storage.js';
import type { Store } from '../ports/store.js';
import { opOf } from '../protocols/json-ws/ops.js';
import { parseParams } from '../protocols/params.js';
import { XmppConnection } from '../protocols/xmpp/c2s/connection.js';
import { MemoryTransport, testXmppOptions } from '../protocols/xmpp/c2s/memory-transport.js';

export { testXmppOptions };
import type { XmppExtensions } from '../protocols/xmpp/c2s/types.js';
import { createMemoryStore } from '../storage/memory/index.js';
import { ModuleHost, type AnyModule, type ModuleOptions } from './host.js';
import type { CliContext } from './api.js';

/** The context of an area opened on its own, with no store around it: no appends reach it, and no log. */
export function detachedAreaContext(now: () => number = Date.now): AreaContext {
  return { onAppend: () => undefined, logRecord: () => undefined, logRecords: () => [], now };
}

/** A logger that drops everything, with the `child` the host asks for. */
export const silentHostLog: Logger & { child(b: object): Logger } = { ...silentLog, child: () => silentLog };

/** What `moduleFixture` returns. */
export interface ModuleFixture {
  engine: Engine;
  store: Store;
  host: ModuleHost;
}

/**
 * Sets up `modules` on a fresh test engine holding `users`. Each module's options are its schema's defaults
 * overlaid with `options[name]`, parsed as the configuration would be (so `{ enabled: false }` leaves it out).
 */
export async function moduleFixture(
  modules: readonly AnyModule[],
  opts: { users?: string[]; options?: Record<string, Record<string, unknown>> } = {},
): Promise<ModuleFixture> {
  // The memory store opens the storage areas of the modules given (their in-memory twins).
  const areas = modules.flatMap((m) => (m.storage ? [{ name: m.name, memory: m.storage.memory }] : []));
  const { engine, store } = await testEngine(opts.users ?? ['a@example.com', 'b@example.com'], {
    password: 'secret-pw',
    store: createMemoryStore({ modules: areas }),
  });
  const host = await setupModules(modules, { engine, store }, opts.options ?? {});
  return { engine, store, host };
}

/** Sets up `modules` on an existing engine (options as in moduleFixture). */
export async function setupModules(
  modules: readonly AnyModule[],
  { engine, store }: { engine: Engine; store: Store },
  options: Record<string, Record<string, unknown>> = {},
): Promise<ModuleHost> {
  const parsed: ModuleOptions = Object.fromEntries(
    modules.map((m) => [m.name, m.options.parse(options[m.name] ?? {}) as ModuleOptions[string]]),
  );
  return ModuleHost.setup(modules, parsed, { engine, store, bus: new LocalBus(silentLog), log: silentHostLog });
}

/** A node of an in-process cluster (engine/test-cluster.ts) with modules set up on it, as a Parley process has. */
export interface ModuleNode extends TestNode {
  host: ModuleHost;
}

/**
 * Starts a node of `cluster` whose store opens the SQLite areas of `modules` (built under dist/, like the
 * server's worker loads them: run `npm run build` first) and sets `modules` up on its engine, started (their log
 * consumers run). Options as in moduleFixture.
 */
export async function moduleNode(cluster: TestCluster, modules: readonly AnyModule[], options: Record<string, Record<string, unknown>> = {}): Promise<ModuleNode> {
  const areas: SqliteModule[] = [];
  for (const m of modules) if (m.storage) areas.push({ name: m.name, area: await importSqliteArea(m.name, compiledUrl(m.storage.sqlite)) });
  const node = await cluster.node({ areas });
  const host = await setupModules(modules, node, options);
  host.start();
  return { ...node, host };
}

/**
 * Runs JSON operation `name` for `user` as the JSON front door does: the core's table, else the modules' (an
 * unknown name is `unknown-op`), parameters checked by the operation's schema.
 */
export async function runOp(host: ModuleHost, engine: Engine, user: string, name: string, params: unknown): Promise<unknown> {
  const def = opOf(name, host.jsonOps);
  if (def === undefined) throw new ParleyError('unknown-op', `unknown op "${name}"`);
  const { session } = await engine.openSession(user, `op-${Math.random().toString(36).slice(2)}`, { send: () => undefined, close: () => undefined }, testPresence);
  try {
    return await def.run({ engine, session, startedAt: Date.now() }, parseParams(def.schema, params));
  } finally {
    await engine.closeSession(session);
  }
}


const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`;

/** An event a session's sink received: its name and data. */
export interface SinkEvent {
  ev: string;
  data: Record<string, unknown>;
}

/** A session and what its sink kept. */
export interface Recording<T = SinkEvent> {
  session: Session;
  events: T[];
}

/**
 * Opens a live session of `user` on `engine` (as a JSON client's) whose sink keeps what `keep` makes of each event
 * it receives (undefined: not kept); by default every event, as a SinkEvent.
 */
export async function recordingSession<T = SinkEvent>(
  engine: Engine,
  user: string,
  resource: string,
  keep: (e: SinkEvent) => T | undefined = (e) => e as T,
): Promise<Recording<T>> {
  const events: T[] = [];
  const sink = {
    send: (o: Outbound) => {
      const kept = keep({ ev: o.event.ev, data: o.event.data as Record<string, unknown> });
      if (kept !== undefined) events.push(kept);
    },
    close: () => undefined,
  };
  const { session } = await engine.openSession(user, resource, sink, testPresence);
  engine.goLive(session);
  return { session, events };
}

/** Waits until the log consumer `consumer` (its stored position) has applied everything in the log; throws after about 3 s. */
export async function consumerCaughtUp(store: Store, consumer: string): Promise<void> {
  const last = await store.messages.lastSeq();
  for (let i = 0; i < 300; i++) {
    if ((await store.positions.get(consumer)) >= last) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the consumer ${consumer} did not catch up`);
}

/** A logged-in XMPP client of an XmppConnection over memory. */
export class TestXmppClient {
  private readonly t = new MemoryTransport(true);
  private seq = 0;
  /** The server side of the stream. */
  readonly conn: XmppConnection;

  private constructor(engine: Engine, extensions: XmppExtensions) {
    this.conn = new XmppConnection(this.t, engine, testXmppOptions(extensions), { opened: () => undefined, closed: () => undefined });
  }

  /** Opens a stream for `local`@example.com (password `secret-pw`) and binds `resource`. */
  static async login(engine: Engine, extensions: XmppExtensions, local = 'a', resource = 'phone'): Promise<TestXmppClient> {
    const c = new TestXmppClient(engine, extensions);
    c.t.push(HEADER);
    await c.waitFor(/<\/stream:features>/);
    let mark = c.t.out.length;
    c.t.push(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\u0000${local}\u0000secret-pw`).toString('base64')}</auth>`);
    await c.waitFor(/<success /, mark);
    mark = c.t.out.length;
    c.t.push(HEADER);
    await c.waitFor(/<\/stream:features>/, mark);
    mark = c.t.out.length;
    c.t.push(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    await c.waitFor(/<\/bind><\/iq>/, mark);
    return c;
  }

  /** Output so far (its length marks a point to read from). */
  get mark(): number {
    return this.t.out.length;
  }

  /** Sends raw XML. */
  send(xml: string): void {
    this.t.push(xml);
  }

  /** Waits (a few ms at a time) until the output since `from` matches `re`; returns that output. */
  async waitFor(re: RegExp, from = 0): Promise<string> {
    for (let i = 0; i < 400; i++) {
      const text = this.t.text(from);
      if (re.test(text)) return text;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error(`timed out waiting for ${re}; got: ${this.t.text(from)}`);
  }

  /**
   * Sends `<iq type=type to=to>payload</iq>` and returns the whole reply stanza (with what was sent before it,
   * e.g. MAM results, in `before`).
   */
  async iq(type: 'get' | 'set', payload: string, to?: string): Promise<{ reply: string; before: string }> {
    const id = `q${++this.seq}`;
    const mark = this.t.out.length;
    this.send(`<iq type='${type}' id='${id}'${to === undefined ? '' : ` to='${to}'`}>${payload}</iq>`);
    const re = new RegExp(`<iq [^>]*id="${id}"[^>]*(?:/>|>[\\s\\S]*?</iq>)`);
    const text = await this.waitFor(re, mark);
    const m = re.exec(text)!;
    return { reply: m[0], before: text.slice(0, m.index) };
  }

  /** Ends the connection. */
  close(): void {
    this.t.close();
  }
}

/**
 * A CLI command's context for tests: output to the given functions, changes written with no gate (a test of a
 * command's own work; test/cli.test.ts covers the gate), the actor `cli:test`.
 */
export function cliContext<O>(options: O, store: Store, io: Partial<Pick<CliContext<O>, 'out' | 'err' | 'progress'>> = {}): CliContext<O> {
  return {
    options,
    store,
    out: io.out ?? (() => undefined),
    err: io.err ?? (() => undefined),
    progress: io.progress ?? (() => undefined),
    actor: 'cli:test',
    change: (_kind, _about, write) => write(),
  };
}

/**
 * A TCP port free on 127.0.0.1 now (bound and let go): for servers that must know each other's ports before they
 * start. Another process may take it meanwhile, so a test that needs a port nothing listens on uses port 1.
 */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}
