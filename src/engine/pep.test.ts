/**
 * PEP delivery (pep.ts): notifications by audience and interest, explicit subscribers with their show-values
 * (XEP-0060 §6.3), and the last items a session is owed.
 */
import { describe, expect, it } from 'vitest';
import type { Engine } from './engine.js';
import type { ServerEvent } from './outbound.js';
import type { PepItem } from './pep.js';
import type { Session, Sink } from './session.js';
import { testEngine, testPresence } from './test-engine.js';

const A = 'a@example.com';
const B = 'b@example.com';
const C = 'c@example.com';
const NODE = 'urn:example:mood';
const item = (id: string): PepItem => ({ node: NODE, id, data: { id }, xml: `<mood xmlns='${NODE}'>${id}</mood>` });

/** An available session of `user` (resource `r`) interested in `nodes`, whose events are recorded. */
async function open(engine: Engine, user: string, nodes: string[], r = 'r'): Promise<{ session: Session; events: ServerEvent[] }> {
  const events: ServerEvent[] = [];
  const sink: Sink = { send: (o) => events.push(o.event), close: () => undefined };
  const { session, position } = await engine.openSession(user, r, sink, { ...testPresence });
  await engine.catchUp(session, null, position);
  await engine.setInterests(session, new Set(nodes));
  events.length = 0;
  return { session, events };
}

const items = (events: ServerEvent[]): string[] => events.filter((e) => e.ev === 'entity.item').map((e) => `${String(e.data.from)} ${String(e.data.id)}`);

describe('PEP delivery', () => {
  it('notifies the owner and the contacts the audience admits, only sessions interested in the node', async () => {
    const { engine } = await testEngine([A, B, C]);
    await engine.rosters.act(B, A, 'subscribe');
    await engine.rosters.act(A, B, 'subscribed'); // A's item for B: from
    await engine.rosters.act(C, A, 'subscribe');
    await engine.rosters.act(A, C, 'subscribed');
    const a = await open(engine, A, [NODE]);
    const b = await open(engine, B, [NODE]);
    const bQuiet = await open(engine, B, [], 'quiet');
    const c = await open(engine, C, [NODE]);
    await engine.pepNotify(A, item('1'), (contact) => contact.contact === B);
    expect(items(a.events)).toEqual([`${A} 1`]);
    expect(items(b.events)).toEqual([`${A} 1`]);
    expect(items(bQuiet.events)).toEqual([]);
    expect(items(c.events)).toEqual([]);
    // No audience: the owner's sessions only.
    await engine.pepNotify(A, item('2'), null);
    expect(items(b.events)).toEqual([`${A} 1`]);
    expect(items(a.events)).toEqual([`${A} 1`, `${A} 2`]);
  });

  it('asks the sources for the last items of the user and of the contacts it sees, and sends those it is interested in', async () => {
    const { engine } = await testEngine([A, B]);
    await engine.rosters.act(B, A, 'subscribe');
    await engine.rosters.act(A, B, 'subscribed');
    const asked: string[][] = [];
    engine.pepSource({
      async lastItems(viewer, owners, nodes) {
        asked.push([viewer, ...owners]);
        return owners.filter((o) => o === A).flatMap((owner) => nodes.map(() => ({ owner, item: item('last') })));
      },
    });
    const b = await open(engine, B, []);
    await engine.setInterests(b.session, new Set([NODE]));
    expect(items(b.events)).toEqual([`${A} last`]);
    expect(asked.at(-1)).toEqual([B, B, A]);
  });

  it('sends to explicit subscribers only the sessions whose show is among their show-values, once per session', async () => {
    const { engine } = await testEngine([A, B]);
    const away = await open(engine, B, [], 'away');
    await engine.setPresence(away.session, { ...testPresence, availability: 'away' });
    const online = await open(engine, B, [], 'online');
    const busy = await open(engine, B, [NODE], 'busy');
    await engine.setPresence(busy.session, { ...testPresence, availability: 'available', activity: 'in-meeting' });
    for (const s of [away, online, busy]) s.events.length = 0;
    // Busy (an activity) shows as dnd; online is no show at all (XEP-0060 §16.4.2).
    await engine.pep.toSubscribers(A, item('1'), [{ user: B, resource: null, show: new Set(['online', 'dnd'] as const) }]);
    expect([items(away.events), items(online.events), items(busy.events)]).toEqual([[], [`${A} 1`], [`${A} 1`]]);
    // Subscribed twice (bare and full address): each session once; no show-values: any state.
    await engine.pep.toSubscribers(A, item('2'), [{ user: B, resource: null }, { user: B, resource: 'away' }]);
    expect([items(away.events), items(online.events), items(busy.events)]).toEqual([[`${A} 2`], [`${A} 1`, `${A} 2`], [`${A} 1`, `${A} 2`]]);
    // A session that took the item for its +notify interest is not sent it again as a subscriber.
    await engine.pepNotify(A, item('3'), null, [{ user: B, resource: null }]);
    expect(items(busy.events)).toEqual([`${A} 1`, `${A} 2`, `${A} 3`]);
  });
});
