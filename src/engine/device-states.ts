/**
 * Whether a session's device is reachable live, as its front door knows it: a session may stay registered while
 * its connection is gone and it waits to be resumed (XEP-0198 §5 hibernation), or while the client told the
 * server its user is not looking (XEP-0352 §4 `<inactive/>`). Such a session still receives stanzas, but the
 * person does not see them: XEP-0357 §7 push wakes the device. Protocol-neutral: the XMPP front door sets the
 * state, modules (push) read it and hear its changes. Only this node's sessions are known here.
 */
import type { Session, SessionRegistry } from './session.js';

/** A session's device: `live` (connected and active), `hibernating` (connection lost, resumable), `inactive` (CSI). */
export type DeviceState = 'live' | 'hibernating' | 'inactive';

/** Told when a session's device state changed. */
export type DeviceStateListener = (session: Session, state: DeviceState) => void;

/** The device states of this node's sessions (absent: live). */
export class DeviceStates {
  private readonly states = new WeakMap<Session, DeviceState>();
  private readonly listeners: DeviceStateListener[] = [];

  constructor(private readonly sessions: SessionRegistry) {}

  /** Records a session's state (its front door calls it); listeners hear actual changes only. */
  set(session: Session, state: DeviceState): void {
    if (this.of(session) === state) return;
    if (state === 'live') this.states.delete(session);
    else this.states.set(session, state);
    for (const fn of this.listeners) fn(session, state);
  }

  /** A session's state now. */
  of(session: Session): DeviceState {
    return this.states.get(session) ?? 'live';
  }

  /** The state of `user`'s session `resource` on this node, or null when this node has no such open session. */
  ofResource(user: string, resource: string): DeviceState | null {
    const s = this.sessions.get(user, resource);
    return s === undefined || s.closed ? null : this.of(s);
  }

  /** Adds a listener of changes. */
  onChange(fn: DeviceStateListener): void {
    this.listeners.push(fn);
  }
}
