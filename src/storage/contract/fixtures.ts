/** Builders of test data for the store contract; plain values, no store access. */
import { conversationKey, type LogRecord, type NewRecord, type RosterItem } from '../../core/types.js';
import type { Account, Credentials, Store } from '../../ports/store.js';

/** Distinct, well-formed SCRAM credentials (values are opaque to the store). */
export function credentials(seed = 'x'): Credentials {
  const c = { salt: `salt-${seed}`, iterations: 4096, storedKey: `stored-${seed}`, serverKey: `server-${seed}` };
  return { 'SCRAM-SHA-1': { ...c, iterations: 4096 }, 'SCRAM-SHA-256': { ...c, iterations: 8192 } };
}

/** An account with defaults; createdSeq 0 is what the store assigns while the log is empty. */
export function account(address: string, extra: Partial<Account> = {}): Account {
  return { address, credentials: credentials(address), admin: false, kind: 'person', disabled: false, createdAt: 1000, lastSeen: null, lastStatus: null, createdSeq: 0, ...extra };
}

/** A 1:1 chat message. */
export function dm(from: string, to: string, body: string, extra: Partial<NewRecord> = {}): NewRecord {
  return {
    kind: 'message',
    type: 'chat',
    conv: conversationKey('chat', from, to),
    from,
    fromResource: 'laptop',
    to,
    toResource: null,
    clientId: null,
    body,
    ref: null,
    receipt: null,
    ts: 1_700_000_000_000,
    xml: null,
    offlineFor: [],
    ...extra,
  };
}

/** A room message. */
export function roomMessage(from: string, room: string, body: string, extra: Partial<NewRecord> = {}): NewRecord {
  return dm(from, room, body, { type: 'groupchat', conv: conversationKey('groupchat', from, room), ...extra });
}

/** An edit, retraction or receipt that refers to `target`, as the message path builds them. */
export function follow(kind: 'edit' | 'retract' | 'receipt', from: string, target: LogRecord, extra: Partial<NewRecord> = {}): NewRecord {
  return {
    ...dm(from, target.to, kind === 'edit' ? 'edited' : '', { type: target.type, conv: target.conv }),
    kind,
    body: kind === 'edit' ? 'edited' : null,
    ref: target.id,
    receipt: kind === 'receipt' ? 'read' : null,
    ...extra,
  };
}

/** The LogRecord the store must return for `r` stored at `seq` with `id`. */
export function stored(r: NewRecord, seq: number, id: string): LogRecord {
  const { offlineFor: _dropped, xml, ...rest } = r;
  return { ...rest, xml: xml ?? null, seq, id };
}

/** A roster item with defaults. */
export function rosterItem(owner: string, contact: string, extra: Partial<RosterItem> = {}): RosterItem {
  return { owner, contact, name: null, groups: [], subscription: 'none', pendingOut: false, pendingIn: false, ...extra };
}

/** Appends one record and returns the stored version (asserting it was new). */
export async function appendOne(store: Store, r: NewRecord): Promise<LogRecord> {
  const [res] = await store.messages.append([r]);
  if (!res || res.duplicate) throw new Error('expected a new record');
  return res.record;
}

