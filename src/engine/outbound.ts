/** Events the server pushes to sessions, and the once-per-fan-out encoding cache. */
import type { LogRecord, ResourcePresence } from '../core/types.js';

/** Names of server-pushed events (documented in docs/protocol.md). */
export type EventName =
  | 'message'
  | 'message.edit'
  | 'message.retract'
  | 'message.receipt'
  /** A body-less message delivered live and never stored (XEP-0334 no-store payloads; MessageService.live). */
  | 'message.live'
  | 'typing'
  | 'presence'
  | 'presence.snapshot'
  | 'roster'
  | 'subscription'
  | 'room.member'
  | 'room.invite'
  | 'room.occupant'
  /** An owner changed the room's configuration (XEP-0045 §10.2.1), to the members' sessions. */
  | 'room.configured'
  /** A private message between two occupants of a room (XEP-0045 §7.5), to the recipient's sessions. */
  | 'room.private'
  | 'block'
  | 'unblock'
  | 'synced'
  | 'session.closing'
  /** A ready XMPP stanza (data.xml) relayed from one XMPP session to another; only XMPP sinks receive it. */
  | 'stanza'
  /** The last item of a presence entity's node (XEP-0163 notification; engine/entities.ts), to interested sessions. */
  | 'entity.item';

/**
 * The name of an event a module pushes to a session (ModuleApi.push): `<module>.<event>`, with the module's
 * own name first, so it never takes a core name. Only the JSON front door encodes these; XMPP sessions skip them.
 */
export type ModuleEventName = `${string}.${string}`;

/**
 * One server event; `seq` is set for events that come from the message log. Plain JSON values only (no Map,
 * Set, Date, class or undefined that matters): an event for a session on another node crosses the bus
 * serialised (engine/cluster.ts), and must mean the same there.
 */
export interface ServerEvent {
  ev: EventName | ModuleEventName;
  data: Record<string, unknown>;
  seq?: number;
  /** Set on log records sent by a replay (offline queue, resume) rather than live. */
  replay?: boolean;
  /**
   * On 'presence' and 'presence.snapshot': the resources the event concerns, by user (bare address), for front
   * doors that show presence per resource (XMPP sends each from its full address, RFC 6121 §4.2.2, §4.4.2,
   * §4.5.2); an empty list means the user has no available resource. Absent for presence entities and for
   * events that predate the resource. Not part of the JSON event, whose codec writes `ev` and `data` only.
   */
  resources?: Record<string, ResourcePresence[]>;
  /**
   * Only sinks that relay XMPP stanzas (Sink.relaysStanzas) take the event: a resource's presence changed but
   * the user's aggregate, which is all a JSON session sees, did not (Router.toSession).
   */
  stanzasOnly?: true;
}

/**
 * An event on its way to many sessions. Each front door encodes it at most once (per codec) however many
 * sessions receive it: a fan-out to 500 subscribers serialises one frame, not 500.
 */
export class Outbound {
  readonly event: ServerEvent;
  /** Epoch ms when the causing request arrived, for the delivery latency histogram. */
  readonly startedAt: number;
  private readonly encoded = new Map<string, unknown>();
  constructor(event: ServerEvent, startedAt = 0) {
    this.event = event;
    this.startedAt = startedAt;
  }
  /** The event encoded by `codec`, computed on first use and shared by every recipient. */
  encode<T>(codec: string, fn: (event: ServerEvent) => T): T {
    let v = this.encoded.get(codec) as T | undefined;
    if (v === undefined) {
      v = fn(this.event);
      this.encoded.set(codec, v);
    }
    return v;
  }
}

const RECORD_EVENTS = {
  message: 'message',
  edit: 'message.edit',
  retract: 'message.retract',
  receipt: 'message.receipt',
} as const;

/** The event for one log record: the same shape live and when replayed by sync (`replay` marks the latter). */
export function recordEvent(r: LogRecord, replay = false): ServerEvent {
  const data: Record<string, unknown> = {
    id: r.id,
    seq: r.seq,
    type: r.type,
    from: r.fromResource ? `${r.from}/${r.fromResource}` : r.from,
    to: r.toResource ? `${r.to}/${r.toResource}` : r.to,
    ts: r.ts,
  };
  if (r.clientId !== null) data.clientId = r.clientId;
  if (r.body !== null) data.body = r.body;
  if (r.ref !== null) data.ref = r.ref;
  if (r.receipt !== null) data.receipt = r.receipt;
  // The message's extension elements, as canonical XML text (docs/protocol.md `xml`).
  if (r.xml !== null) data.xml = r.xml;
  return replay ? { ev: RECORD_EVENTS[r.kind], data, seq: r.seq, replay } : { ev: RECORD_EVENTS[r.kind], data, seq: r.seq };
}
