/**
 * A component's presence stanza as an update of one thing: pure, no I/O.
 *
 * The thing is the stanza's `from` (RFC 6121 §4.7: presence comes from the entity it describes); its state is
 * what RFC 6121 §4.7.2 carries (`<show/>`, `<status/>`, type `unavailable`), Parley's own presence element for
 * the activity (the one encode.ts writes for people, `urn:parley:presence:0`, attribute `activity`), and typed
 * fields in `<fields xmlns='urn:xmpp:parley:presentity:0'>` (the same element things use over PEP).
 */
import { parseAddress } from '../../core/address.js';
import { ParleyError } from '../../core/errors.js';
import type { Element } from '../../protocols/xmpp/xml/element.js';
import type { FieldType, FieldValue, UpdateBody } from '../presentities/index.js';

/** Parley's rich presence element (the activity of people and things alike). */
export const PARLEY_PRESENCE_NS = 'urn:parley:presence:0';
/** The typed fields of a thing: `<fields xmlns=…><field name='t' type='number'>71.5</field></fields>`. */
export const PRESENTITY_NS = 'urn:xmpp:parley:presentity:0';

/** RFC 6121 §4.7.2.1 show values, as availabilities. */
const SHOWS = { chat: 'chat', away: 'away', xa: 'xa', dnd: 'dnd' } as const;
const FIELD_TYPES: ReadonlySet<string> = new Set(['string', 'number', 'boolean']);
/** RFC 6121 §4.7.2.2 lets status be long; Parley's things keep up to this much (model.ts). */
const MAX_STATUS = 1024;

/** Why a `from` was refused: outside the component's domain ends the stream (RFC 6120 §4.9.3.9). */
export class InvalidFrom extends Error {}

/**
 * The thing a stanza comes from: the bare `node@domain` of its `from`. A `from` in another domain is
 * InvalidFrom (a stream error: the component may only speak for its own domain, XEP-0114 §3 and RFC 6120
 * §4.9.3.9); no node, or one that is not a valid localpart (RFC 7622 §3.3), is jid-malformed (a stanza error:
 * the component is who it says, the stanza is wrong).
 */
export function thingOf(from: string | undefined, domain: string): string {
  if (from === undefined || from === '') throw new InvalidFrom('a stanza from a component names its sender in from');
  let a;
  try {
    a = parseAddress(from);
  } catch (e) {
    // A from that does not even parse: if its domain text is ours, the node is at fault; else it is not ours.
    const at = from.indexOf('@');
    const rest = at === -1 ? from : from.slice(at + 1);
    if (rest.split('/')[0]?.toLowerCase() === domain) throw e;
    throw new InvalidFrom(`from is not an address of ${domain}`);
  }
  if (a.domain !== domain) throw new InvalidFrom(`from ${a.domain} is not this component's domain ${domain}`);
  if (a.local === null) throw new ParleyError('jid-malformed', `presence of a thing comes from node@${domain}, not the bare domain`);
  return `${a.local}@${a.domain}`;
}

/**
 * The `from` of a stanza that may come from the component itself or any address of its domain (iq, message):
 * returned as given when its domain is the component's, else InvalidFrom (RFC 6120 §4.9.3.9).
 */
export function checkFrom(from: string | undefined, domain: string): string {
  if (from === undefined || from === '') throw new InvalidFrom('a stanza from a component names its sender in from');
  let d: string;
  try {
    d = parseAddress(from).domain;
  } catch {
    throw new InvalidFrom('from is not a valid address');
  }
  if (d !== domain) throw new InvalidFrom(`from ${d} is not this component's domain ${domain}`);
  return from;
}

/** What a presence stanza says about a thing: the update and the types its fields came with. */
export interface ThingReport {
  update: UpdateBody;
  /** Each field named, with its type attribute (or the declared type): for declaring fields on first sight. */
  types: Record<string, FieldType>;
}

/**
 * Maps a presence (available or `unavailable`) onto an update. Every presence is the thing's whole state
 * (RFC 6121 §4.7: a new presence replaces the last), so a missing status or activity clears it; fields are the
 * exception: those named are set and the rest kept, so a report may carry only what changed.
 * `declared` is the component's field declaration, or null to take types from the stanza.
 */
export function reportOf(stanza: Element, declared: Readonly<Record<string, FieldType>> | null): ThingReport {
  const type = stanza.attr('type');
  const update: UpdateBody = {};
  if (type === 'unavailable') update.availability = 'offline';
  else {
    const show = stanza.getChild('show')?.text().trim();
    if (show === undefined || show === '') update.availability = 'available';
    else if (show in SHOWS) update.availability = SHOWS[show as keyof typeof SHOWS];
    else throw new ParleyError('bad-request', `<show/> is away, chat, dnd or xa, not "${show.slice(0, 32)}" (RFC 6121 §4.7.2.1)`);
  }
  const status = stanza.getChild('status')?.text() ?? '';
  if (status.length > MAX_STATUS) throw new ParleyError('bad-request', `<status/> longer than ${MAX_STATUS} characters`);
  update.status = status === '' ? null : status;
  const activity = type === 'unavailable' ? undefined : stanza.getChild('presence', PARLEY_PRESENCE_NS)?.attr('activity');
  update.activity = activity === undefined || activity === '' ? null : activity;
  const types: Record<string, FieldType> = {};
  const fieldsEl = stanza.getChild('fields', PRESENTITY_NS);
  if (fieldsEl) {
    const fields: Record<string, FieldValue> = {};
    for (const f of fieldsEl.getChildren('field', PRESENTITY_NS)) {
      const name = f.attr('name');
      if (name === undefined || name === '') throw new ParleyError('bad-request', '<field/> needs a name');
      const given = f.attr('type');
      if (given !== undefined && !FIELD_TYPES.has(given)) throw new ParleyError('bad-request', `field ${name}: type is string, number or boolean`);
      const want = declared?.[name];
      if (declared !== null && want === undefined) throw new ParleyError('bad-request', `field ${name} is not declared for this component's things`, { field: `fields.${name}` });
      const t = (want ?? given ?? 'string') as FieldType;
      if (given !== undefined && given !== t) throw new ParleyError('bad-request', `field ${name} is a ${t}, not a ${given}`, { field: `fields.${name}` });
      fields[name] = valueOf(name, t, f.text());
      types[name] = t;
    }
    update.fields = fields;
  }
  return { update, types };
}

/** A field's text as its type: numbers as JSON numbers, booleans true/false/1/0; empty is null (cleared) for both. */
function valueOf(name: string, type: FieldType, text: string): FieldValue {
  if (type === 'string') return text;
  const t = text.trim();
  if (t === '') return null;
  if (type === 'number') {
    const n = Number(t);
    if (!Number.isFinite(n)) throw new ParleyError('bad-request', `field ${name}: "${t.slice(0, 32)}" is not a number`, { field: `fields.${name}` });
    return n;
  }
  if (t === 'true' || t === '1') return true;
  if (t === 'false' || t === '0') return false;
  throw new ParleyError('bad-request', `field ${name}: a boolean is true, false, 1 or 0`, { field: `fields.${name}` });
}
