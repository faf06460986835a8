/**
 * The XMPP face of things and processes: they are presence entities of the engine (engine/entities.ts), so an
 * XMPP (or JSON) user subscribes to one like to a contact, is approved when the thing's grants let the user see
 * it (visibility.ts) and refused otherwise, and then receives its presence from its bare address. Their custom
 * fields are a PEP node (pep.ts).
 *
 * Mapping onto the engine's presence shape (docs/presence.md, "XMPP"):
 *  - available, chat, away, xa, dnd: available with that state (`<show/>` as for people), activity and status;
 *  - offline: unavailable, with its status;
 *  - unknown (the heartbeat lapsed, or the thing never reported): unavailable, with the status `heartbeat
 *    lapsed` or `not reported yet`, so a client shows it offline with the reason rather than a stale state.
 *
 * Every published change of a thing is pushed to the engine in position order: its presence (the engine also
 * ends the subscriptions of watchers a changed grant or a removal leaves out) and, when its fields changed, the
 * fields item to the watchers' sessions that asked for notifications (XEP-0163 §4.3).
 */
import type { EntityItem, EntityPresence, PresenceEntityProvider } from '../../engine/entities.js';
import type { Logger } from '../../engine/context.js';
import type { Change, PresentityHub } from './hub.js';
import { deviceView, type FieldValue, type Presentity } from './model.js';
import { CURRENT, FIELDS_NODE, fieldsItem, type FieldsOf } from './pep.js';
import { seesDevice } from './visibility.js';

/** Statuses of unavailable things whose availability is unknown. */
export const LAPSED_STATUS = 'heartbeat lapsed';
export const UNREPORTED_STATUS = 'not reported yet';

/** A thing's or process's presentity as the engine's presence (the mapping in the file comment). */
export function entityPresence(p: Presentity, lapsed: boolean): EntityPresence {
  const base = { user: p.address, activity: p.activity, idleSince: null };
  if (p.availability === 'offline' || p.availability === 'unknown') {
    const status = p.availability === 'offline' ? p.status : lapsed ? LAPSED_STATUS : UNREPORTED_STATUS;
    return { ...base, state: 'offline', availability: null, status, sessions: 0, lastSeen: p.updatedAt };
  }
  return { ...base, state: p.availability, availability: p.availability, status: p.status, sessions: 1, lastSeen: null };
}

/** What the XMPP face gives the engine and the module (the module API's calls, narrowed). */
export interface XmppFaceDeps {
  hub: PresentityHub;
  log: Logger;
  presenceEntities(provider: PresenceEntityProvider): void;
  entityPresence(address: string, presence: EntityPresence | null): Promise<void>;
  entityItem(address: string, item: EntityItem): Promise<void>;
}

/**
 * Registers the module's things and processes as presence entities and follows their changes; returns the
 * fields lookup the PEP handler answers with.
 */
export function xmppFace(deps: XmppFaceDeps): FieldsOf {
  const { hub, log } = deps;
  const sees = async (address: string, viewer: string): Promise<boolean> => {
    const r = hub.device(address);
    return r !== undefined && seesDevice(await hub.viewerOf(viewer), r.def);
  };

  deps.presenceEntities({
    owns: (address) => hub.device(address) !== undefined,
    sees,
    presenceOf: (address) => {
      const r = hub.device(address);
      return r ? entityPresence(deviceView(r), r.lapsed) : null;
    },
    itemOf: (address, node) => {
      const r = hub.device(address);
      return r && node === FIELDS_NODE ? fieldsItem(r.def, r.current.fields) : null;
    },
  });

  // The fields last sent per thing: an item goes out only when they changed (a heartbeat or a status is no item).
  const sent = new Map<string, string>();
  for (const r of hub.allDevices()) sent.set(r.def.address, JSON.stringify(r.current.fields));
  // One thing's pushes in the order published, whatever each awaits.
  const chains = new Map<string, Promise<void>>();
  const run = (address: string, work: () => Promise<void>): void => {
    const next = (chains.get(address) ?? Promise.resolve())
      .then(work)
      .catch((e: unknown) => log.error({ err: e, address }, 'the XMPP face of a presentity failed'));
    chains.set(address, next);
    void next.then(() => {
      if (chains.get(address) === next) chains.delete(address);
    });
  };

  hub.onDeviceChange((c: Change) => {
    const address = c.address;
    const p = c.presentity;
    if (p === null) {
      sent.delete(address);
      run(address, () => deps.entityPresence(address, null));
      return;
    }
    const lapsed = hub.device(address)?.lapsed ?? p.availability === 'unknown';
    const presence = entityPresence(p, lapsed);
    const fields = JSON.stringify(p.fields);
    const changedFields = sent.get(address) !== fields;
    sent.set(address, fields);
    const def = c.def!;
    run(address, async () => {
      await deps.entityPresence(address, presence);
      if (changedFields) await deps.entityItem(address, fieldsItem(def, p.fields as Record<string, FieldValue>));
    });
  });

  return async (address, viewer) => {
    const r = hub.device(address);
    if (!r || !(await sees(address, viewer))) return null;
    return { def: r.def, fields: r.current.fields };
  };
}

export { CURRENT, FIELDS_NODE };
